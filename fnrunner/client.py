"""Async gRPC client of the function runner, used by the operator's function runtime.

`EvaluatorClient(address)` keeps one `grpc.aio` channel; `evaluate(image, resource_list, timeout=...)` sends
one `EvaluateFunction` call with a deadline and returns the output ResourceList and the function's stderr.
gRPC statuses become this module's own exceptions (the operator maps them onto its error tree; this module
must not import it):

    EvaluatorError                base
    ├── FunctionNotFoundError     NOT_FOUND: no evaluator knows the image
    ├── FunctionFailedError       the function ran and failed: exit code, stderr, structured results
    ├── FunctionTimeoutError      DEADLINE_EXCEEDED: the evaluation (or the call) ran out of time
    ├── InvalidRequestError       INVALID_ARGUMENT / RESOURCE_EXHAUSTED: bad input or output over the limits
    └── FunctionUnavailableError  the runner is unreachable or broke (UNAVAILABLE, CANCELLED, UNKNOWN, ...)

A timeout is a `FunctionTimeoutError`, which is also a `FunctionUnavailableError`: a caller that only wants
"retry later or not" can catch the latter. Imports only `fnrunner.api` and `grpc`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fnrunner.api import evaluator_pb2, evaluator_pb2_grpc, failures, limits


class EvaluatorError(Exception):
    """Root of the client's errors."""


class FunctionNotFoundError(EvaluatorError):
    """No evaluator of the runner knows the image."""


class FunctionFailedError(EvaluatorError):
    """The function ran and failed.

    `exit_code`, `stderr` (a tail, see `fnrunner.api.failures`) and `results` (the structured results of its
    output ResourceList) are what kpt shows in a `Result`. Failing again on the same input is expected.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int = 1,
        stderr: str = "",
        results: list[dict[str, Any]] | None = None,
        truncated: bool = False,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr
        self.results = list(results or [])
        self.truncated = truncated


class InvalidRequestError(EvaluatorError):
    """The runner rejected the input, or the output was over the size limit; retrying cannot help."""


class FunctionUnavailableError(EvaluatorError):
    """The runner could not be reached or could not finish; retrying later may succeed."""


class FunctionTimeoutError(FunctionUnavailableError):
    """The evaluation ran past its deadline."""


@dataclass(frozen=True)
class EvaluationResult:
    """A successful evaluation: the output ResourceList (with its `results`) and the function's stderr."""

    resource_list: bytes
    log: bytes = field(default=b"")


def _failed_from(image: str, error: grpc.aio.AioRpcError) -> FunctionFailedError:
    details = failures.decode(error.trailing_metadata())
    message = error.details() or f"Function {image} failed."
    if details is None:
        return FunctionFailedError(message)
    return FunctionFailedError(
        message,
        exit_code=details.exit_code,
        stderr=details.stderr.decode(errors="replace"),
        results=details.results,
        truncated=details.truncated,
    )


def translate(image: str, error: grpc.aio.AioRpcError) -> EvaluatorError:
    """The client exception for a failed call (public so that the mapping can be tested on its own)."""
    code = error.code()
    text = error.details() or ""
    if code == grpc.StatusCode.NOT_FOUND:
        return FunctionNotFoundError(text or f"No evaluator knows the function image {image}.")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return FunctionTimeoutError(text or f"Function {image} ran out of time.")
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
        return InvalidRequestError(text or f"The runner rejected the call for {image}.")
    if code == grpc.StatusCode.INTERNAL:
        # The runner answers INTERNAL only for a function that ran and failed (as Porch's runner does, which
        # sends no metadata: then the exit code defaults to 1 and stderr is only in the message).
        return _failed_from(image, error)
    return FunctionUnavailableError(
        f"The function runner failed to evaluate {image} ({code.name}): {text}".rstrip(": ")
    )


class EvaluatorClient:
    """One channel to a function runner at `address` (`host:port`); see the module docstring."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._channel = grpc.aio.insecure_channel(address, options=list(limits.CHANNEL_OPTIONS))
        self._stub = evaluator_pb2_grpc.FunctionEvaluatorStub(self._channel)  # type: ignore[no-untyped-call]
        self._health = health_pb2_grpc.HealthStub(self._channel)

    async def evaluate(self, image: str, resource_list: bytes, *, timeout: float) -> EvaluationResult:  # noqa: ASYNC109
        """Evaluate `image` over `resource_list` within `timeout` seconds; raises an `EvaluatorError`."""
        if len(resource_list) > limits.MAX_MESSAGE_BYTES:
            raise InvalidRequestError(
                f"The ResourceList for {image} is {len(resource_list)} bytes, over the "
                f"{limits.MAX_MESSAGE_BYTES}-byte limit of the function runner."
            )
        request = evaluator_pb2.EvaluateFunctionRequest(resource_list=resource_list, image=image)
        started = time.monotonic()
        try:
            response = await self._stub.EvaluateFunction(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and time.monotonic() - started >= timeout:
                # The server sees the same deadline (grpc-timeout header) and may reset the stream a moment
                # before the client's own timer fires; the peer's RST_STREAM then arrives as CANCELLED.
                raise FunctionTimeoutError(f"Function {image} ran out of time ({timeout:g}s).") from exc
            raise translate(image, exc) from exc
        return EvaluationResult(resource_list=bytes(response.resource_list), log=bytes(response.log))

    async def healthy(self, *, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """Whether the runner answers its gRPC health check with SERVING within `timeout` seconds."""
        try:
            reply = await self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> EvaluatorClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
