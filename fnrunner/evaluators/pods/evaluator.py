"""The pod evaluator: leases a warm pod for the image and calls its wrapper's `EvaluateFunction`.

Last in the chain: it takes any image whose entrypoint it can find (`entrypoints`), and declines (`NotMine`)
the rest. The wrapper answers with the same contract as this runner, including the failure metadata of
`fnrunner.api.failures`, so a failing function's exit code, stderr and results come through unchanged.
"""

from __future__ import annotations

import time

import grpc

from fnrunner.api import evaluator_pb2, evaluator_pb2_grpc, failures, limits
from fnrunner.evaluators import images
from fnrunner.evaluators.evaluation import (
    EvaluationError,
    EvaluationTimeout,
    EvaluatorUnavailable,
    FunctionFailed,
    InvalidInput,
    NotMine,
    Output,
    OutputTooLarge,
)
from fnrunner.evaluators.pods.entrypoints import EntrypointResolver
from fnrunner.evaluators.pods.pool import PodPool


def translate(image: str, error: grpc.aio.AioRpcError) -> EvaluationError:
    """The evaluator error for a failed call to a function pod's wrapper."""
    code, text = error.code(), error.details() or ""
    if code == grpc.StatusCode.INTERNAL:
        details = failures.decode(error.trailing_metadata())
        if details is None:
            return FunctionFailed(text or f"Function {image} failed.")
        return FunctionFailed(
            text, exit_code=details.exit_code, stderr=details.stderr, results=details.results
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return EvaluationTimeout(f"Function {image} did not finish in time in its pod.")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return OutputTooLarge(f"Function {image} produced too much output: {text}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidInput(text)
    return EvaluatorUnavailable(f"The pod of {image} could not be called ({code.name}): {text}")


class PodEvaluator:
    """See the module docstring."""

    name = "pod"

    def __init__(
        self,
        pool: PodPool,
        *,
        entrypoints: EntrypointResolver,
        default_prefix: str = limits.DEFAULT_IMAGE_PREFIX,
    ) -> None:
        self.pool = pool
        self.entrypoints = entrypoints
        self.default_prefix = default_prefix

    async def evaluate(self, image: str, resource_list: bytes, *, timeout: float) -> Output:  # noqa: ASYNC109
        ref = images.parse(image, default_prefix=self.default_prefix)
        entrypoint = self.entrypoints.entrypoint(ref)
        if entrypoint is None:
            raise NotMine(
                f"The entrypoint of {ref.qualified} is unknown (no FunctionConfig annotation, no static map)."
            )
        deadline = time.monotonic() + timeout
        request = evaluator_pb2.EvaluateFunctionRequest(resource_list=resource_list, image=ref.qualified)
        async with self.pool.lease(ref, entrypoint, timeout=timeout) as channel:
            stub = evaluator_pb2_grpc.FunctionEvaluatorStub(channel)  # type: ignore[no-untyped-call]
            remaining = max(deadline - time.monotonic(), 0.001)
            try:
                response = await stub.EvaluateFunction(request, timeout=remaining, wait_for_ready=True)
            except grpc.aio.AioRpcError as exc:
                raise translate(ref.qualified, exc) from exc
        return Output(resource_list=bytes(response.resource_list), log=bytes(response.log))
