"""The project's error tree: what went wrong, as a class, never as a message to match.

    PorchError                       base; never raised directly
    ├── InvalidSpec                  user input is wrong: permanent until the input changes
    ├── NotFound                     a referenced Repository, revision, upstream or file is missing
    ├── Conflict                     a name is taken, a transition is not allowed, an expectation is stale
    │   └── AlreadyExists            the object to create exists already
    ├── Forbidden                    the Kubernetes API refused the operator's request (RBAC, admission)
    ├── ApiUnavailable               the Kubernetes API could not be reached or failed (5xx): retry
    ├── StoreError                   raised only by porch_operator.gitstore
    │   ├── StoreAuthError           credentials rejected: permanent until the Secret changes
    │   ├── StoreUnavailable         network or remote down, timeout: retry with backoff
    │   └── StorePushRejected        the remote refused a ref update (non-fast-forward, stale lease):
    │                                re-fetch and retry
    └── FunctionError                raised by the function runtime (mapped from gRPC status)
        ├── FunctionNotFound         the image is unknown to every evaluator
        ├── FunctionFailed           the function ran and failed (carries its results and stderr)
        └── FunctionUnavailable      the runner is down or the deadline passed: retry

Adapters translate third-party exceptions into this tree at their edge (`raise ... from exc`); messages are
whole sentences that name the thing that is wrong and never contain credentials. The handlers map classes to
kopf's permanent/temporary errors in one place (`porch_operator.handlers.outcomes`). Leaf module: stdlib only.
"""

from __future__ import annotations


class PorchError(Exception):
    """Root of every error this project raises on purpose."""


class InvalidSpec(PorchError):
    """The user's input is wrong; retrying without changing it cannot help."""


class NotFound(PorchError):
    """Something the request refers to does not exist."""


class Conflict(PorchError):
    """The request conflicts with the current state (taken name, forbidden transition, stale expectation)."""


class AlreadyExists(Conflict):
    """The object to create exists already (often: created by an earlier attempt of the same operation)."""


class Forbidden(PorchError):
    """The Kubernetes API refused the request: RBAC or an admission policy said no."""


class ApiUnavailable(PorchError):
    """The Kubernetes API could not be reached, timed out, or answered with a server error; retry later."""


class StoreError(PorchError):
    """A git storage operation failed. Raised only by the gitstore."""


class StoreAuthError(StoreError):
    """The remote rejected the credentials (or demanded some and none were given)."""


class StoreUnavailable(StoreError):
    """The remote could not be reached or did not answer in time; retrying later may succeed."""


class StorePushRejected(StoreError):
    """The remote refused a ref update because a ref moved underneath us.

    The caller must re-fetch, recompute what it wants to push from the fresh refs, and retry; it must never
    force the push.
    """


class FunctionError(PorchError):
    """A KRM function evaluation failed."""


class FunctionNotFound(FunctionError):
    """No evaluator knows the image."""


class FunctionFailed(FunctionError):
    """The function ran and reported failure.

    `exit_code` is the function's exit status, `stderr` its standard error and `results` its structured
    results (the `results` list of its output ResourceList, possibly empty); all are shown to users in the
    render status. Failing again on the same input is expected: do not retry.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int = 1,
        stderr: str = "",
        results: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr
        self.results = list(results or [])


class FunctionUnavailable(FunctionError):
    """The function runner could not be reached or the evaluation ran out of time; retry later."""
