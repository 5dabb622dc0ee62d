"""The gRPC server and the async client in-process over a real loopback port: every status path end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fnrunner import client, server
from fnrunner.api import evaluator_pb2, evaluator_pb2_grpc, limits
from fnrunner.evaluators import functionconfigs
from fnrunner.evaluators.builtin.catalogue import BuiltinEvaluator
from fnrunner.evaluators.chain import EvaluatorChain
from fnrunner.evaluators.executable import ExecutableEvaluator
from tests.unit.fnrunner.conftest import config_map, deployment, function_configs, resource_list


@pytest.fixture
async def address(scripts: dict[str, Path], tmp_path: Path) -> AsyncIterator[str]:
    store = functionconfigs.FunctionConfigStore(
        [functionconfigs.from_object(o) for o in function_configs(scripts)]
    )
    builtin = BuiltinEvaluator()
    chain = EvaluatorChain([builtin, ExecutableEvaluator(store=store, functions_dir=tmp_path)])
    running = await server.start(chain, address="127.0.0.1", port=0, evaluation_timeout=20)
    yield f"127.0.0.1:{running.port}"
    await running.stop(grace=None)
    builtin.close()


async def test_builtin_round_trip(address: str) -> None:
    async with client.EvaluatorClient(address) as runner:
        result = await runner.evaluate(
            "set-namespace:v0.4", resource_list([deployment()], config_map({"namespace": "rt"})), timeout=10
        )
    assert yaml.safe_load(result.resource_list)["items"][0]["metadata"]["namespace"] == "rt"
    assert result.log == b""


async def test_executable_round_trip_carries_the_log(address: str) -> None:
    async with client.EvaluatorClient(address) as runner:
        result = await runner.evaluate(
            "example.com/fns/pass-fn:v1", resource_list([deployment()]), timeout=10
        )
    assert result.log == b"all good\n"


async def test_unknown_image_is_not_found(address: str) -> None:
    async with client.EvaluatorClient(address) as runner:
        with pytest.raises(client.FunctionNotFoundError) as caught:
            await runner.evaluate("example.com/unknown:v1", resource_list([]), timeout=10)
    assert "example.com/unknown:v1" in str(caught.value)


async def test_failure_carries_exit_code_stderr_and_results(address: str) -> None:
    async with client.EvaluatorClient(address) as runner:
        with pytest.raises(client.FunctionFailedError) as caught:
            await runner.evaluate("example.com/fns/fail-fn:v1", resource_list([]), timeout=10)
    failure = caught.value
    assert failure.exit_code == 3
    assert "replicas must be positive" in failure.stderr
    assert failure.results == [
        {
            "message": "replicas must be positive",
            "severity": "error",
            "resourceRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
        }
    ]
    assert "exit status 3" in str(failure) and "fail-fn" in str(failure)


async def test_builtin_config_error_is_a_function_failure(address: str) -> None:
    async with client.EvaluatorClient(address) as runner:
        with pytest.raises(client.FunctionFailedError) as caught:
            await runner.evaluate("set-namespace", resource_list([deployment()], config_map({})), timeout=10)
    assert caught.value.exit_code == 1
    assert caught.value.results[-1]["severity"] == "error"


async def test_timeout_and_too_large_and_invalid(address: str) -> None:
    async with client.EvaluatorClient(address) as runner:
        with pytest.raises(client.FunctionTimeoutError):
            await runner.evaluate("example.com/fns/hang-fn:v1", resource_list([]), timeout=1)
        with pytest.raises(client.InvalidRequestError):
            await runner.evaluate("set-labels", b"not: a resource list\n", timeout=10)
        with pytest.raises(client.InvalidRequestError):
            await runner.evaluate("set-labels", b"x" * (limits.MAX_MESSAGE_BYTES + 1), timeout=10)


async def test_huge_output_is_resource_exhausted(address: str) -> None:
    # The script writes 12.5 MiB: over the 6 MiB limit, so the runner stops it and says so.
    async with client.EvaluatorClient(address) as runner:
        with pytest.raises(client.InvalidRequestError) as caught:
            await runner.evaluate("example.com/fns/huge-fn:v1", resource_list([]), timeout=10)
    assert "bytes" in str(caught.value)


async def test_unreachable_runner_is_unavailable() -> None:
    async with client.EvaluatorClient("127.0.0.1:1") as runner:
        assert not await runner.healthy(timeout=1)
        with pytest.raises(client.FunctionUnavailableError):
            await runner.evaluate("set-labels", resource_list([]), timeout=1)


async def test_health_and_raw_porch_contract(address: str) -> None:
    async with client.EvaluatorClient(address) as runner:
        assert await runner.healthy()
    # A plain stub, as Porch's porch-server would use: the service and message names are Porch's.
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=server.SERVICE_NAME), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = evaluator_pb2_grpc.FunctionEvaluatorStub(channel)
        request = evaluator_pb2.EvaluateFunctionRequest(
            resource_list=resource_list([deployment()], config_map({"app": "x"})),
            image="ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2.0",
        )
        response = await stub.EvaluateFunction(request, timeout=10)
    assert yaml.safe_load(response.resource_list)["items"][0]["metadata"]["labels"] == {"app": "x"}
    assert (
        evaluator_pb2.DESCRIPTOR.services_by_name["FunctionEvaluator"].full_name
        == "evaluator.FunctionEvaluator"
    )


def test_log_is_trimmed_to_fit_the_message_limit() -> None:
    assert server.fit_response(b"r" * 100, b"l" * 5000, 2000) == b"l" * (2000 - 1024 - 100)
    with pytest.raises(server.OutputTooLarge):
        server.fit_response(b"r" * 2000, b"", 2000)


class _PorchStyleFailure(evaluator_pb2_grpc.FunctionEvaluatorServicer):
    """Answers like Porch's own runner: INTERNAL with a message and no metadata."""

    async def EvaluateFunction(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.INTERNAL, 'Failed to execute function "x": exit status 1 (boom)')


async def test_porch_style_internal_is_a_failure_without_details() -> None:
    grpc_server = grpc.aio.server()
    evaluator_pb2_grpc.add_FunctionEvaluatorServicer_to_server(_PorchStyleFailure(), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    try:
        async with client.EvaluatorClient(f"127.0.0.1:{port}") as runner:
            with pytest.raises(client.FunctionFailedError) as caught:
                await runner.evaluate("x", resource_list([]), timeout=10)
        assert caught.value.exit_code == 1 and caught.value.results == []
        assert "boom" in str(caught.value)
    finally:
        await grpc_server.stop(None)
