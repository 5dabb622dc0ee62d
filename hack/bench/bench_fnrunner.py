"""Function-runner figures: builtin speed, executable overhead, gRPC round trip, concurrency, the pod wrapper.

Prints `name: value unit (target: ...)` lines and the machine. Medians of repeated runs after a warm-up.
Never fails: it only measures.

    builtin set-namespace on 100 resources   (target <= 10 ms), per input codec (JSON, YAML, commented YAML)
    executable overhead over running it directly (target <= 20 ms), with `cat` as the function
    gRPC round trip of an empty ResourceList  (target <= 2 ms), through the real server and client
    20 concurrent evaluations                 (wall time for all 20, builtin and executable)
    wrapper call                              (the Go wrapper on loopback running `cat`, as a pod would)
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml

from bench import machine
from fnrunner import client, server
from fnrunner.evaluators import functionconfigs
from fnrunner.evaluators.builtin.catalogue import BuiltinEvaluator
from fnrunner.evaluators.chain import EvaluatorChain
from fnrunner.evaluators.evaluation import NotMine, Output
from fnrunner.evaluators.executable import ExecutableEvaluator

REPO = Path(__file__).resolve().parents[2]
RUNS = 30


def resources(count: int) -> list[dict[str, object]]:
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"app-{i}", "namespace": "old", "labels": {"app": f"app-{i}"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": f"app-{i}"}},
                "template": {
                    "metadata": {"labels": {"app": f"app-{i}"}},
                    "spec": {
                        "containers": [
                            {"name": "main", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
                        ]
                    },
                },
            },
        }
        for i in range(count)
    ]


def resource_list(count: int) -> dict[str, object]:
    return {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": resources(count),
        "functionConfig": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"namespace": "new"},
        },
    }


def encodings(count: int) -> dict[str, bytes]:
    body = resource_list(count)
    text = yaml.safe_dump(body, sort_keys=False)
    return {
        "json": json.dumps(body).encode(),
        "yaml": text.encode(),
        "yaml-with-comments": text.replace("replicas: 2", "replicas: 2 # kpt-set: ${replicas}").encode(),
    }


async def median_ms(action: Callable[[], Awaitable[object]], runs: int = RUNS) -> float:
    return (await medians_ms(action, runs))[0]


async def medians_ms(action: Callable[[], Awaitable[object]], runs: int = RUNS) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (all its threads) per call, in ms.

    CPU time is not inflated by other work on a shared machine; for single-threaded CPU work like the
    builtins it is what wall time is on an idle one.
    """
    await action()
    walls, cpus = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        await action()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


class Echo:
    """An evaluator that returns its input: isolates the gRPC and server overhead."""

    name = "echo"

    async def evaluate(self, image: str, resource_list: bytes, *, timeout: float) -> Output:  # noqa: ASYNC109
        if image != "echo":
            raise NotMine(image)
        return Output(resource_list=resource_list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def bench_builtin(lines: list[str]) -> None:
    evaluator = BuiltinEvaluator()
    for codec, data in encodings(100).items():
        wall, cpu = await medians_ms(
            lambda data=data: evaluator.evaluate("set-namespace:v0.4", data, timeout=30), runs=100
        )
        lines.append(machine.figure(f"builtin set-namespace, 100 resources, {codec}", wall, "ms", "<= 10 ms"))
        lines.append(machine.figure(f"builtin set-namespace, 100 resources, {codec}, CPU time", cpu, "ms"))
    evaluator.close()


def executable_store(cat: str) -> functionconfigs.FunctionConfigStore:
    config = functionconfigs.from_object(
        {
            "metadata": {"name": "cat"},
            "spec": {"image": "cat", "prefixes": ["bench"], "binaryExecutor": {"tags": ["v1"], "path": cat}},
        }
    )
    return functionconfigs.FunctionConfigStore([config])


async def bench_executable(lines: list[str], cat: str) -> None:
    data = encodings(100)["yaml"]
    evaluator = ExecutableEvaluator(store=executable_store(cat), functions_dir=Path("."))

    async def direct() -> None:
        process = await asyncio.create_subprocess_exec(
            cat, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        await process.communicate(data)

    direct_ms = await median_ms(direct)
    via_ms = await median_ms(lambda: evaluator.evaluate("bench/cat:v1", data, timeout=30))
    lines.append(machine.figure("executable run directly (cat, 100 resources)", direct_ms, "ms"))
    lines.append(machine.figure("executable via the evaluator", via_ms, "ms"))
    lines.append(machine.figure("executable evaluator overhead", via_ms - direct_ms, "ms", "<= 20 ms"))


async def bench_grpc(lines: list[str], cat: str) -> None:
    builtin = BuiltinEvaluator()
    chain = EvaluatorChain(
        [Echo(), builtin, ExecutableEvaluator(store=executable_store(cat), functions_dir=Path("."))]
    )
    running = await server.start(chain, address="127.0.0.1", port=0)
    empty = b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n"
    data = encodings(100)["yaml"]
    async with client.EvaluatorClient(f"127.0.0.1:{running.port}") as runner:
        ms = await median_ms(lambda: runner.evaluate("echo", empty, timeout=10), runs=200)
        lines.append(
            machine.figure("gRPC round trip, empty ResourceList (echo evaluator)", ms, "ms", "<= 2 ms")
        )
        for label, image in (
            ("builtin set-namespace", "set-namespace:v0.4"),
            ("executable cat", "bench/cat:v1"),
        ):
            one = await median_ms(lambda image=image: runner.evaluate(image, data, timeout=60), runs=10)

            async def twenty(image: str = image) -> None:
                await asyncio.gather(*(runner.evaluate(image, data, timeout=120) for _ in range(20)))

            wall = await median_ms(twenty, runs=3)
            lines.append(machine.figure(f"one evaluation over gRPC, {label}, 100 resources", one, "ms"))
            lines.append(machine.figure(f"20 concurrent evaluations, {label}, wall time", wall, "ms"))
    await running.stop(grace=None)
    builtin.close()


async def bench_wrapper(lines: list[str], cat: str) -> None:
    build = [str(REPO / "hack/wrapper/build.sh")]
    built = await asyncio.to_thread(subprocess.run, build, capture_output=True, text=True)
    if built.returncode != 0:
        lines.append(f"wrapper call: not measured (build failed: {built.stderr.strip()[-200:]})")
        return
    port = free_port()
    wrapper = built.stdout.strip().splitlines()[-1]
    process = subprocess.Popen(  # noqa: ASYNC220 (a long-lived server, started once)
        [wrapper, "--address", "127.0.0.1", "--port", str(port), "--", cat], stderr=subprocess.DEVNULL
    )
    try:
        async with client.EvaluatorClient(f"127.0.0.1:{port}") as pod:
            for _ in range(200):
                if await pod.healthy(timeout=1):
                    break
                await asyncio.sleep(0.05)
            data = encodings(100)["yaml"]
            ms = await median_ms(lambda: pod.evaluate("bench/cat:v1", data, timeout=30))
            lines.append(
                machine.figure("wrapper call (Go wrapper on loopback, cat, 100 resources)", ms, "ms")
            )
    finally:
        process.kill()
        process.wait()


async def main() -> None:
    lines = machine.describe()
    cat = shutil.which("cat") or "/bin/cat"
    with TemporaryDirectory():
        await bench_builtin(lines)
        await bench_executable(lines, cat)
        await bench_grpc(lines, cat)
        await bench_wrapper(lines, cat)
    print("\n".join(lines))
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
