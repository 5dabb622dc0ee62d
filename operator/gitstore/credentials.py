"""Credentials for git remotes, and how they reach git without ever touching argv, disk or logs.

The caller builds a `BasicAuth` or `BearerToken` from a Kubernetes Secret (`credentials_from_secret` follows
Porch's resolution: `kubernetes.io/basic-auth` → basic, `Opaque` with `bearerToken` → bearer). Neither class
shows its secret in `repr()` or `str()`.

Git receives them as an `Authorization` header through `http.<scheme>://<host>/.extraHeader`, set with
`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` in the environment of the one git process that
needs it: nothing on the command line, nothing in the mirror's config file. The header is scoped to the
remote's scheme and host, so a redirect elsewhere does not carry it. `redact()` removes the secret from any
text (git's stderr) before it goes into an exception or a log line.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import urllib.parse
from collections.abc import Mapping

from porch_operator.errors import InvalidSpec

SECRET_TYPE_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_TYPE_OPAQUE = "Opaque"
_REDACTED = "***"


@dataclasses.dataclass(frozen=True, repr=False)
class BasicAuth:
    """HTTP basic authentication (a `kubernetes.io/basic-auth` Secret)."""

    username: str
    password: str

    def header(self) -> str:
        """The value of the Authorization header."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never be shown."""
        return (self.password, self.header().split(" ", 1)[1])

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={_REDACTED!r})"

    __str__ = __repr__


@dataclasses.dataclass(frozen=True, repr=False)
class BearerToken:
    """HTTP bearer token authentication (an `Opaque` Secret with a `bearerToken` key)."""

    token: str

    def header(self) -> str:
        """The value of the Authorization header."""
        return f"Bearer {self.token}"

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never be shown."""
        return (self.token,)

    def __repr__(self) -> str:
        return f"BearerToken(token={_REDACTED!r})"

    __str__ = __repr__


Credentials = BasicAuth | BearerToken | None


def credentials_from_secret(secret_type: str, data: Mapping[str, str | bytes]) -> BasicAuth | BearerToken:
    """Build credentials from a Secret's `type` and `data` (values base64-encoded, as the API returns them).

    Raises InvalidSpec (naming the missing key, never a value) when the Secret does not fit either form.
    """
    if secret_type == SECRET_TYPE_BASIC_AUTH:
        return BasicAuth(username=_decoded(data, "username"), password=_decoded(data, "password"))
    if secret_type == SECRET_TYPE_OPAQUE:
        if "bearerToken" not in data:
            raise InvalidSpec("The Opaque Secret has no 'bearerToken' key; git credentials need one.")
        return BearerToken(token=_decoded(data, "bearerToken"))
    raise InvalidSpec(
        f"Secrets of type {secret_type!r} cannot hold git credentials; use {SECRET_TYPE_BASIC_AUTH!r} "
        f"or {SECRET_TYPE_OPAQUE!r} with a 'bearerToken' key."
    )


def _decoded(data: Mapping[str, str | bytes], key: str) -> str:
    if key not in data:
        raise InvalidSpec(f"The Secret has no {key!r} key.")
    raw = data[key]
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidSpec(f"The Secret's {key!r} value is not base64-encoded UTF-8 text.") from exc


def check_url(url: str) -> str:
    """Refuse URLs that would put a secret on disk or smuggle options; return the URL unchanged."""
    if not isinstance(url, str) or not url:
        raise InvalidSpec("The git repository URL is empty.")
    if any(ch in url for ch in "\x00\n\r") or url.startswith("-"):
        raise InvalidSpec("The git repository URL contains characters that are not allowed.")
    parsed = urllib.parse.urlsplit(url)
    if parsed.password:
        raise InvalidSpec(
            "The git repository URL carries a password; put credentials in a Secret instead of the URL."
        )
    return url


def git_config(url: str, credentials: Credentials) -> dict[str, str]:
    """Extra git configuration (key → value) that makes git send `credentials` to `url`'s host."""
    if credentials is None:
        return {}
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https"):
        raise InvalidSpec(
            "Credentials can only be used with http(s) repository URLs, "
            f"not {parsed.scheme or 'path'!r} ones."
        )
    host = parsed.netloc.rsplit("@", 1)[-1]
    return {f"http.{parsed.scheme}://{host}/.extraHeader": f"Authorization: {credentials.header()}"}


def redact(text: str, credentials: Credentials) -> str:
    """`text` with every secret of `credentials` replaced by `***`."""
    if credentials is None:
        return text
    for secret in credentials.secrets():
        if secret:
            text = text.replace(secret, _REDACTED)
    return text
