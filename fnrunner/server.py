"""The gRPC server: `FunctionEvaluator.EvaluateFunction` over the evaluator chain, plus the health service.

Each call is bounded by the smaller of the runner's `evaluation_timeout` and the caller's deadline. Errors of
the chain map to statuses as Porch's runner does where Porch defines them, and to the nearest status
elsewhere:

| evaluator error       | gRPC status        | notes                                                       |
|-----------------------|--------------------|-------------------------------------------------------------|
| NotMine (all)         | NOT_FOUND          | no evaluator knows the image                                |
| FunctionFailed        | INTERNAL           | message names image, exit code, stderr tail; trailing       |
|                       |                    | metadata carries exit code, stderr, results (`api.failures`)|
| EvaluationTimeout     | DEADLINE_EXCEEDED  |                                                             |
| OutputTooLarge        | RESOURCE_EXHAUSTED | output over the 6 MiB message limit                         |
| InvalidInput          | INVALID_ARGUMENT   | unparsable ResourceList, invalid image reference            |
| EvaluatorUnavailable  | UNAVAILABLE        | e.g. no function pod could be started                       |
| anything else (a bug) | UNKNOWN            | logged with its traceback; INTERNAL always means "the       |
|                       |                    | function ran and failed"                                     |

Started by `fnrunner.__main__` (and by tests, in-process, on a free loopback port). Every call is counted in
`fnrunner.metrics`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fnrunner import metrics
from fnrunner.api import evaluator_pb2, evaluator_pb2_grpc, failures, limits
from fnrunner.evaluators.chain import EvaluatorChain
from fnrunner.evaluators.evaluation import (
    EvaluationError,
    EvaluationTimeout,
    EvaluatorUnavailable,
    FunctionFailed,
    InvalidInput,
    NotMine,
    OutputTooLarge,
)

log = logging.getLogger(__name__)

SERVICE_NAME = "evaluator.FunctionEvaluator"
# Room left in a response for protobuf framing, so that resource_list + log never exceed the message limit.
_FRAMING_BYTES = 1024

_STATUS: dict[type[EvaluationError], tuple[grpc.StatusCode, str]] = {
    NotMine: (grpc.StatusCode.NOT_FOUND, "not_found"),
    EvaluationTimeout: (grpc.StatusCode.DEADLINE_EXCEEDED, "timeout"),
    OutputTooLarge: (grpc.StatusCode.RESOURCE_EXHAUSTED, "too_large"),
    InvalidInput: (grpc.StatusCode.INVALID_ARGUMENT, "invalid"),
    EvaluatorUnavailable: (grpc.StatusCode.UNAVAILABLE, "unavailable"),
    FunctionFailed: (grpc.StatusCode.INTERNAL, "failed"),
}


def _status_of(error: EvaluationError) -> tuple[grpc.StatusCode, str]:
    for kind, status in _STATUS.items():
        if isinstance(error, kind):
            return status
    return grpc.StatusCode.UNKNOWN, "error"


def fit_response(resource_list: bytes, log_bytes: bytes, limit: int) -> bytes:
    """The log, shortened from the front so that both fit in `limit`; raises OutputTooLarge."""
    room = limit - _FRAMING_BYTES - len(resource_list)
    if room < 0:
        raise OutputTooLarge(
            f"The function's output ResourceList is {len(resource_list)} bytes, over the "
            f"{limit}-byte message limit."
        )
    return log_bytes[-room:] if len(log_bytes) > room else log_bytes


class EvaluatorService(evaluator_pb2_grpc.FunctionEvaluatorServicer):
    """The servicer; see the module docstring."""

    def __init__(self, chain: EvaluatorChain, *, evaluation_timeout: float) -> None:
        self.chain = chain
        self.evaluation_timeout = evaluation_timeout

    def _timeout(self, context: grpc.aio.ServicerContext[Any, Any]) -> float:
        remaining = context.time_remaining()
        if remaining is None:
            return self.evaluation_timeout
        return max(min(self.evaluation_timeout, remaining), 0.001)

    async def EvaluateFunction(
        self,
        request: evaluator_pb2.EvaluateFunctionRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> evaluator_pb2.EvaluateFunctionResponse:
        started = time.monotonic()
        image = request.image
        evaluator = "none"
        try:
            outcome = await self.chain.evaluate(image, request.resource_list, timeout=self._timeout(context))
            evaluator = outcome.evaluator
            log_bytes = fit_response(
                outcome.output.resource_list, outcome.output.log, limits.MAX_MESSAGE_BYTES
            )
        except EvaluationError as error:
            if error.evaluator == "none":
                error.evaluator = evaluator
            await self._abort(context, image, error, started=started)
        except Exception as exc:  # a bug: still answer, count and log it
            log.exception("Evaluating %s failed unexpectedly.", image)
            await self._abort(
                context, image, EvaluationError(f"{type(exc).__name__}: {exc}"), started=started
            )
        metrics.EVALUATIONS.labels(evaluator, "success").inc()
        metrics.EVALUATION_SECONDS.labels(evaluator).observe(time.monotonic() - started)
        return evaluator_pb2.EvaluateFunctionResponse(
            resource_list=outcome.output.resource_list, log=log_bytes
        )

    async def _abort(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        image: str,
        error: EvaluationError,
        *,
        started: float,
    ) -> NoReturn:
        code, result = _status_of(error)
        evaluator = error.evaluator
        metrics.EVALUATIONS.labels(evaluator, result).inc()
        metrics.EVALUATION_SECONDS.labels(evaluator).observe(time.monotonic() - started)
        trailing: tuple[tuple[str, str | bytes], ...] = ()
        if isinstance(error, FunctionFailed):
            trailing = failures.encode(
                failures.FailureDetails(exit_code=error.exit_code, stderr=error.stderr, results=error.results)
            )
        log.info("Evaluation of %s ended with %s: %s", image, code.name, error)
        await context.abort(code, str(error)[:4096], trailing_metadata=trailing)
        raise AssertionError("context.abort returned")  # pragma: no cover


@dataclass
class RunningServer:
    """A started server: its bound port, and how to stop it."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer

    async def stop(self, grace: float | None = 1.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start(
    chain: EvaluatorChain, *, address: str = "127.0.0.1", port: int = 0, evaluation_timeout: float = 300.0
) -> RunningServer:
    """Start serving `chain` on `address:port` (port 0: a free one); returns once listening."""
    server = grpc.aio.server(options=list(limits.CHANNEL_OPTIONS))
    evaluator_pb2_grpc.add_FunctionEvaluatorServicer_to_server(  # type: ignore[no-untyped-call]
        EvaluatorService(chain, evaluation_timeout=evaluation_timeout), server
    )
    health_service = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_service, server)
    host = f"[{address}]" if ":" in address else address
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"Cannot listen on {host}:{port}.")
    await server.start()
    for service in ("", SERVICE_NAME):
        await health_service.set(service, health_pb2.HealthCheckResponse.SERVING)
    log.info("Function runner listening on %s:%d (evaluators: %s).", host, bound, ", ".join(chain.names))
    return RunningServer(server=server, port=bound, health=health_service)
