"""What an error means for a reconcile: retry or wait for the user, and which condition reason to show.

The one place where the error tree meets the operator's behaviour. Errors the user must fix (invalid
input, rejected credentials, a failing or unknown function, a refusal by the API server) are *permanent*: the
object gets `Stalled=True` and `Ready=False` with the class name as reason, and nothing is retried until the
object (or what it refers to) changes. Everything else (git or API unavailable, a conflict with a concurrent
writer, a missing object that may appear) is *transient*: `Ready=False` with the reason, `Reconciling=True`,
and a retry with backoff. Unknown exceptions are transient too, and logged with their traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from porch_operator import errors

_PERMANENT: tuple[type[BaseException], ...] = (
    errors.InvalidSpec,
    errors.StoreAuthError,
    errors.FunctionFailed,
    errors.FunctionNotFound,
    errors.Forbidden,
)


@dataclass(frozen=True)
class Outcome:
    """How to report `error`: `reason` for conditions, `message` for users, `permanent` or retried."""

    reason: str
    message: str
    permanent: bool
    expected: bool


def classify(error: BaseException) -> Outcome:
    expected = isinstance(error, errors.PorchError)
    reason = type(error).__name__ if expected else "InternalError"
    message = str(error) or reason
    if not expected:
        message = f"Unexpected error ({type(error).__name__}): {message}"
    permanent = isinstance(error, _PERMANENT)
    return Outcome(reason=reason, message=message, permanent=permanent, expected=expected)
