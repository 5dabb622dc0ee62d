"""How the operator reaches the Kubernetes API server: one choice of credentials, for kopf and our client.

`connection()` picks the pod's service account when running in a pod (and no `KUBECONFIG` is set), else the
kubeconfig (`KUBECONFIG`, first path, or `~/.kube/config`), using kopf's own readers of both, so kopf's
watches and the operator's writes always act as the same identity. `endpoint()` turns that into what an
aiohttp session needs: the server URL, a TLS context (CA, client certificate) and the Authorization header.

The operator does not use kubernetes_asyncio: it only sends raw JSON, and that library's generated model
classes cost about 40 MiB of memory and a second of start-up (kopf imports them whenever the library is
installed, which is why `porch_operator.handlers.__main__` hides it from kopf).

Credentials are re-read when the API server answers 401 (service-account tokens are rotated on disk). A client
key given inline in a kubeconfig is written to a private temporary file only for the moment `ssl` loads it.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import kopf

from porch_operator.handlers.settings import SettingsError

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class Endpoint:
    """Where and how to send API requests."""

    server: str
    ssl_context: ssl.SSLContext | bool
    authorization: str | None = field(default=None, repr=False)  # a header value: never logged


def connection(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """The credentials of the operator (see the module docstring); SettingsError when there are none."""
    in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.environ.get("KUBECONFIG")
    info = None
    if in_pod and SERVICE_ACCOUNT_TOKEN.exists():
        info = kopf.login_with_service_account(settings=settings)
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if info is not None:  # the Service's address, as client-go does: no DNS lookup needed
            server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
            info = _with_server(info, server)
    if info is None:
        try:
            info = kopf.login_with_kubeconfig(settings=settings)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # missing or malformed file
            where = os.environ.get("KUBECONFIG", "~/.kube/config")
            raise SettingsError(
                f"The kubeconfig {where} cannot be read: {type(exc).__name__}: {exc}"
            ) from exc
    if info is None:
        raise SettingsError(
            "No Kubernetes credentials: not in a pod with a service account token, and no kubeconfig "
            "(set KUBECONFIG)."
        )
    return info


def _with_server(info: kopf.ConnectionInfo, server: str) -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(
        server=server,
        ca_path=info.ca_path,
        token=info.token,
        default_namespace=info.default_namespace,
        priority=info.priority,
    )


def endpoint(info: kopf.ConnectionInfo) -> Endpoint:
    """The session parameters of `info`; SettingsError for what the operator does not support."""
    if not info.server.startswith(("https://", "http://")):
        raise SettingsError(f"The API server address {info.server!r} is not an http(s) URL.")
    context: ssl.SSLContext | bool = True
    if info.server.startswith("https://"):
        context = ssl.create_default_context()
        if info.ca_path:
            context.load_verify_locations(cafile=os.fsdecode(info.ca_path))
        if info.ca_data:
            context.load_verify_locations(cadata=_decoded(info.ca_data).decode())
        if info.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _load_client_certificate(context, info)
    authorization = None
    if info.token:
        authorization = f"Bearer {info.token}"
    elif info.username and info.password:
        pair = f"{info.username}:{info.password}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    return Endpoint(server=info.server.rstrip("/"), ssl_context=context, authorization=authorization)


def _decoded(data: str | bytes) -> bytes:
    """kubeconfig `*-data` fields are base64 of PEM."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64decode(raw)


def _load_client_certificate(context: ssl.SSLContext, info: kopf.ConnectionInfo) -> None:
    if info.certificate_path and info.private_key_path:
        context.load_cert_chain(os.fsdecode(info.certificate_path), os.fsdecode(info.private_key_path))
        return
    if not (info.certificate_data or info.certificate_path):
        return
    with tempfile.TemporaryDirectory(prefix="porch-client-cert-") as private:
        os.chmod(private, 0o700)
        cert = Path(private) / "tls.crt"
        key = Path(private) / "tls.key"
        if info.certificate_data:
            cert.write_bytes(_decoded(info.certificate_data))
        else:
            cert = Path(os.fsdecode(info.certificate_path or ""))
        if info.private_key_data:
            key.touch(mode=0o600)
            key.write_bytes(_decoded(info.private_key_data))
        elif info.private_key_path:
            key = Path(os.fsdecode(info.private_key_path))
        else:
            raise SettingsError("The kubeconfig gives a client certificate without its key.")
        context.load_cert_chain(str(cert), str(key))
