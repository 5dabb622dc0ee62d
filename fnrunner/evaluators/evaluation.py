"""What every evaluator is and returns, and the typed errors the server maps to gRPC statuses.

An evaluator is anything with `name` and `async evaluate(image, resource_list, *, timeout) -> Output`. It
raises `NotMine` when it does not know the image (the chain then tries the next one), and otherwise one of
the `EvaluationError` subclasses below; it never lets a third-party exception escape. Used by the builtin,
executable and pod evaluators, by `chain`, and by `fnrunner.server`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Output:
    """A successful evaluation: the output ResourceList and the function's stderr."""

    resource_list: bytes
    log: bytes = b""


class Evaluator(Protocol):
    """One way of running functions (builtin, executable, pod)."""

    @property
    def name(self) -> str: ...

    async def evaluate(self, image: str, resource_list: bytes, *, timeout: float) -> Output: ...  # noqa: ASYNC109


class EvaluationError(Exception):
    """Root of the evaluators' errors. `evaluator` names the evaluator that raised it (set by the chain)."""

    evaluator: str = "none"


class NotMine(EvaluationError):
    """This evaluator does not know the image; the next one should try (final answer: gRPC NOT_FOUND)."""


class InvalidInput(EvaluationError):
    """The request cannot be evaluated as given (unparsable ResourceList, bad image reference)."""


class FunctionFailed(EvaluationError):
    """The function ran and failed: exit code, stderr and the structured results of its output."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: int = 1,
        stderr: bytes = b"",
        results: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr
        self.results = list(results or [])


class EvaluationTimeout(EvaluationError):
    """The function did not finish within its time limit (it was stopped)."""


class OutputTooLarge(EvaluationError):
    """The function wrote more than the message-size limit (it was stopped)."""


class EvaluatorUnavailable(EvaluationError):
    """The evaluator could not run the function now (no pod could be started, queue full); retry later."""


@dataclass(frozen=True)
class FunctionResult:
    """One structured result (`results[]` item of a ResourceList), as kpt writes it."""

    message: str
    severity: str = "error"
    resource_ref: dict[str, str] | None = None
    field_ref: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "severity": self.severity}
        if self.resource_ref:
            body["resourceRef"] = dict(self.resource_ref)
        if self.field_ref:
            body["field"] = dict(self.field_ref)
        if self.tags:
            body["tags"] = dict(self.tags)
        return body


MESSAGE_STDERR_BYTES = 1024


def failure_message(image: str, exit_code: int, stderr: bytes) -> str:
    """Porch-style message for a failed function: names the image, the exit code and a stderr tail."""
    tail = stderr[-MESSAGE_STDERR_BYTES:].decode(errors="replace").strip()
    ellipsis = "..." if len(stderr) > MESSAGE_STDERR_BYTES else ""
    return f"Failed to execute function {image!r}: exit status {exit_code} ({ellipsis}{tail})"
