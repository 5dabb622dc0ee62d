"""Translating git's failures into the project's error tree (the gitstore's edge).

Git reports remote failures only as text on stderr (exit status 128 for nearly everything), so this is the
one place that reads that text: with `LC_ALL=C` set by `commands.environment()`, the phrases below are
stable. Messages we build are whole sentences naming the operation and the URL, followed by git's last
`fatal:`/`error:` line with every secret redacted.
"""

from __future__ import annotations

from porch_operator.errors import NotFound, StoreAuthError, StoreError, StoreUnavailable
from porch_operator.gitstore import credentials as creds
from porch_operator.gitstore.commands import GitResult

_AUTH_PHRASES = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "http basic: access denied",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
    "permission denied (publickey",
    "invalid credentials",
)
_NOT_FOUND_PHRASES = (
    "does not appear to be a git repository",
    "the requested url returned error: 404",
    "repository not found",
    "not found",
)


def classify(
    result: GitResult, *, operation: str, url: str, credentials: creds.Credentials = None
) -> StoreError | NotFound:
    """The error for a failed network git command (`operation` is a verb phrase like "fetch from")."""
    detail = summary(result, credentials)
    lowered = detail.lower() + "\n" + result.stderr_text().lower()
    message = f"Could not {operation} {url}: {detail}"
    if any(phrase in lowered for phrase in _AUTH_PHRASES):
        return StoreAuthError(f"The git remote {url} rejected the credentials ({operation}): {detail}")
    if any(phrase in lowered for phrase in _NOT_FOUND_PHRASES):
        return NotFound(f"The git repository {url} does not exist or is not readable: {detail}")
    return StoreUnavailable(message)


def summary(result: GitResult, credentials: creds.Credentials = None) -> str:
    """The most useful line of git's stderr (the last fatal/error line), with secrets redacted."""
    lines = [line.strip() for line in result.stderr_text().splitlines() if line.strip()]
    chosen = ""
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            chosen = line
    if not chosen and lines:
        chosen = lines[-1]
    if not chosen:
        chosen = f"git exited with status {result.returncode}"
    return creds.redact(chosen, credentials)[:500]
