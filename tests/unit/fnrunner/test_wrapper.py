"""The Go wrapper (the binary function pods run) on a loopback port: success, failure metadata, deadline,
install mode. It speaks the runner's own contract, so the runner's client can call it directly."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml

from fnrunner import client
from tests.unit.fnrunner.conftest import deployment, resource_list


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def start_wrapper(wrapper_binary: Path) -> AsyncIterator[Callable[[Path], asyncio.Future[str]]]:
    processes: list[subprocess.Popen[bytes]] = []

    async def start(entrypoint: Path) -> str:
        port = free_port()
        process = subprocess.Popen(  # noqa: ASYNC220 (a quick fork/exec of a long-lived server)
            [str(wrapper_binary), "--address", "127.0.0.1", "--port", str(port), "--", str(entrypoint)],
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        async with client.EvaluatorClient(f"127.0.0.1:{port}") as probe:
            for _ in range(100):
                if await probe.healthy(timeout=1):
                    return f"127.0.0.1:{port}"
                await asyncio.sleep(0.1)
        raise AssertionError("the wrapper did not become healthy")

    yield start  # type: ignore[misc]
    for process in processes:
        process.kill()
        process.wait()


async def test_wrapper_runs_the_entrypoint(start_wrapper, scripts: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    address = await start_wrapper(scripts["pass"])
    async with client.EvaluatorClient(address) as wrapper:
        result = await wrapper.evaluate(
            "example.com/fns/pass-fn:v1", resource_list([deployment()]), timeout=20
        )
    assert yaml.safe_load(result.resource_list)["items"][0]["metadata"]["labels"] == {"touched": "yes"}
    assert result.log == b"all good\n"


async def test_wrapper_reports_failures_like_the_runner(start_wrapper, scripts: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    address = await start_wrapper(scripts["fail"])
    async with client.EvaluatorClient(address) as wrapper:
        with pytest.raises(client.FunctionFailedError) as caught:
            await wrapper.evaluate("example.com/fns/fail-fn:v1", resource_list([]), timeout=20)
    assert caught.value.exit_code == 3
    assert "replicas must be positive" in caught.value.stderr
    assert caught.value.results[0]["resourceRef"]["kind"] == "Deployment"
    assert "exit status 3" in str(caught.value)


async def test_wrapper_stops_at_the_deadline_and_bounds_output(
    start_wrapper, scripts: dict[str, Path]
) -> None:  # type: ignore[no-untyped-def]
    hang = await start_wrapper(scripts["hang"])
    huge = await start_wrapper(scripts["huge"])
    async with client.EvaluatorClient(hang) as wrapper:
        with pytest.raises(client.FunctionTimeoutError):
            await wrapper.evaluate("example.com/fns/hang-fn:v1", resource_list([]), timeout=1)
    async with client.EvaluatorClient(huge) as wrapper:
        with pytest.raises(client.InvalidRequestError):
            await wrapper.evaluate("example.com/fns/huge-fn:v1", resource_list([]), timeout=20)


def test_wrapper_installs_itself(wrapper_binary: Path, tmp_path: Path) -> None:
    target = tmp_path / "tools" / "fnwrapper"
    subprocess.run([str(wrapper_binary), "--install", str(target)], check=True, timeout=30)
    assert target.read_bytes() == wrapper_binary.read_bytes()
    assert target.stat().st_mode & 0o111
