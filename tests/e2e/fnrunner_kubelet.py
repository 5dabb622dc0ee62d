"""A stand-in for the kubelet, for the pod-evaluator tests: the local control plane has no nodes.

It watches the function pods of one namespace. For each new pod it starts the real wrapper binary on a free
127.0.0.1 port with the pod's own `function` container arguments (port replaced, address forced to
loopback), waits until the wrapper answers its health check, and then writes the pod status a kubelet would:
phase Running, condition Ready, a pod IP. When a pod is deleted it stops that wrapper. `address_of(pod)` is
the pod evaluator's dialer in these tests: it maps a pod to its wrapper's loopback port and never returns
any other address. `fail(name)` marks a pod Failed as a kubelet would after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, watch

from fnrunner.client import EvaluatorClient

SELECTOR = "app.kubernetes.io/managed-by=porch-fnrunner"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrapper_argv(wrapper: Path, pod: dict[str, Any], port: int) -> list[str]:
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "function")
    args = list(container.get("args") or [])
    entrypoint = args[args.index("--") + 1 :]
    flags = args[: args.index("--")]
    limit = flags[flags.index("--max-request-body-size") + 1]
    return [
        str(wrapper),
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-request-body-size",
        limit,
        "--",
        *entrypoint,
    ]


class StandInKubelet:
    def __init__(self, api_client: client.ApiClient, namespace: str, wrapper: Path) -> None:
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.wrapper = wrapper
        self.ports: dict[str, int] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[str] = []
        self.live: set[str] = set()
        self.max_live = 0
        self._task: asyncio.Task[None] | None = None
        self._starting: set[str] = set()
        self.failed: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def address_of(self, pod: dict[str, Any]) -> str | None:
        port = self.ports.get(pod["metadata"]["name"])
        return f"127.0.0.1:{port}" if port else None

    async def __aenter__(self) -> StandInKubelet:
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        for name in list(self.processes):
            self._stop(name)

    async def _run(self) -> None:
        stream = watch.Watch(return_type="object")
        async with stream:
            async for event in stream.stream(
                self.core.list_namespaced_pod, self.namespace, label_selector=SELECTOR
            ):
                pod = event["raw_object"]
                name = pod["metadata"]["name"]
                if event["type"] == "DELETED":
                    self._stop(name)
                elif self._is_new(pod):
                    self._starting.add(name)
                    task = asyncio.ensure_future(self._start(pod))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    def _is_new(self, pod: dict[str, Any]) -> bool:
        name = pod["metadata"]["name"]
        ended = pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") == "Failed"
        return (
            not ended
            and name not in self.processes
            and name not in self._starting
            and name not in self.failed
        )

    async def _start(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        port = free_port()
        # A quick fork/exec; the process outlives this call, so an asyncio subprocess would buy nothing.
        process = subprocess.Popen(wrapper_argv(self.wrapper, pod, port), stderr=subprocess.DEVNULL)  # noqa: ASYNC220
        self.processes[name] = process
        self.started.append(name)
        self.live.add(name)
        self.max_live = max(self.max_live, len(self.live))
        async with EvaluatorClient(f"127.0.0.1:{port}") as probe:
            for _ in range(200):
                if await probe.healthy(timeout=1):
                    break
                await asyncio.sleep(0.05)
        self.ports[name] = port
        self._starting.discard(name)
        status = {
            "phase": "Running",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        with contextlib.suppress(client.ApiException):
            await self.core.patch_namespaced_pod_status(name, self.namespace, {"status": status})

    def _stop(self, name: str) -> None:
        self.live.discard(name)
        self.ports.pop(name, None)
        process = self.processes.pop(name, None)
        if process is not None:
            process.kill()
            process.wait()

    async def fail(self, name: str) -> None:
        self.failed.add(name)
        self._stop(name)
        body = {"status": {"phase": "Failed", "conditions": [{"type": "Ready", "status": "False"}]}}
        await self.core.patch_namespaced_pod_status(name, self.namespace, body)
