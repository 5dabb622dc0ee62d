"""The engine's FunctionRuntime, backed by the fnrunner sidecar over gRPC.

Adapts `fnrunner.client.EvaluatorClient` to `porch_operator.engine.ports.FunctionRuntime` and translates the
runner's errors into the project's tree: not found → FunctionNotFound, the function failed →
FunctionFailed (with exit code, stderr and results), anything else (runner down, deadline) →
FunctionUnavailable, which the caller retries. Executables named in a Kptfile (`exec:`) are refused: the
operator runs only functions the runner is configured for (images), as Porch does.
"""

from __future__ import annotations

from dataclasses import dataclass

from fnrunner import client as fnclient
from porch_operator import errors
from porch_operator.engine.ports import FunctionOutput, FunctionTarget


@dataclass
class RunnerRuntime:
    """Evaluates functions through the fnrunner at `client`; every call bounded by `timeout` seconds.

    Without a client (no runner configured), every pipeline function is reported as not found.
    """

    client: fnclient.EvaluatorClient | None
    timeout: float

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
        if function.image is None:
            raise errors.FunctionNotFound(
                f"The Kptfile pipeline runs the executable {function.display_name!r}; exec functions are not "
                "allowed in the operator. Use an image (see the fnrunner's FunctionConfigs)."
            )
        if self.client is None:
            raise errors.FunctionNotFound(
                f"No function runner is configured (PORCH_FUNCTION_RUNNER is empty) to run {function.image}."
            )
        try:
            return await self.client.evaluate(function.image, resource_list, timeout=self.timeout)
        except fnclient.FunctionNotFoundError as exc:
            raise errors.FunctionNotFound(str(exc)) from exc
        except fnclient.FunctionFailedError as exc:
            raise errors.FunctionFailed(
                str(exc), exit_code=exc.exit_code, stderr=exc.stderr, results=list(exc.results)
            ) from exc
        except fnclient.InvalidRequestError as exc:
            raise errors.InvalidSpec(f"The function {function.image} refused its input: {exc}") from exc
        except fnclient.EvaluatorError as exc:
            raise errors.FunctionUnavailable(
                f"The function runner could not run {function.image}: {exc}"
            ) from exc
