"""The function runner works with the Role config/function-runner gives the operator pod's ServiceAccount, in
porch-fn-system (where config/crd's Pod Security labels apply to the function pods it creates).

- The warm pod pool (the pod evaluator's real API calls) runs with the ServiceAccount's token: it creates
  the base PodTemplate, starts a function pod, evaluates through it and deletes it when idle. The pods are
  brought up by the stand-in kubelet (tests/e2e/fnrunner_kubelet.py), which acts as admin.
- `python -m fnrunner` with the token reads FunctionConfigs and records the generation it has read; the
  Argo CD health check of those real objects says Healthy, and Progressing for one in a namespace the runner
  does not read.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import config

from fnrunner.evaluators import functionconfigs
from fnrunner.evaluators.pods import templates
from fnrunner.evaluators.pods.entrypoints import ConfiguredEntrypoints
from fnrunner.evaluators.pods.evaluator import PodEvaluator
from fnrunner.evaluators.pods.kube import PodApi
from fnrunner.evaluators.pods.pool import PodPool, PoolSettings
from localcluster import porch
from localcluster.controlplane import ControlPlane
from localcluster.processes import free_port, log_tail
from tests.argocd_health import health
from tests.e2e.fnrunner_kubelet import StandInKubelet
from tests.e2e.kube import Kubectl, eventually
from tests.e2e.test_fnrunner_pods import PASS, RESOURCE_LIST

NAMESPACE = "porch-fn-system"


@pytest.fixture
def token_kubeconfig(plane: ControlPlane, installed: Kubectl, tmp_path: Path) -> Path:
    return porch.install_identity(plane, installed.kubeconfig, tmp_path / "fnrunner.kubeconfig")


@pytest.fixture
async def pool(
    plane: ControlPlane,
    token_kubeconfig: Path,
    wrapper_binary: Path,
    functions: dict[str, list[str]],
) -> AsyncIterator[tuple[PodPool, PodEvaluator]]:
    as_fnrunner = await config.new_client_from_config(config_file=str(token_kubeconfig))
    as_kubelet = await config.new_client_from_config(config_file=str(plane.admin_kubeconfig))
    store = functionconfigs.FunctionConfigStore([])
    resolver = ConfiguredEntrypoints(store, static=functions)
    async with StandInKubelet(as_kubelet, NAMESPACE, wrapper_binary) as kubelet:
        pod_pool = PodPool(
            PodApi(as_fnrunner, NAMESPACE),
            dialer=kubelet,
            store=store,
            settings=PoolSettings(
                runner_id=f"rbac-{uuid.uuid4().hex[:6]}",
                pod_ttl=1.0,
                scan_interval=0.3,
                wrapper_image="porch-fnrunner:test",
                max_pods=1,
                max_waitlist=2,
            ),
            entrypoint_of=resolver.entrypoint,
        )
        await pod_pool.start()
        try:
            yield pod_pool, PodEvaluator(pod_pool, entrypoints=resolver)
        finally:
            await pod_pool.close()
    await as_fnrunner.close()
    await as_kubelet.close()


def function_pods(kubectl: Kubectl, runner: str) -> list[dict[str, Any]]:
    return list(kubectl.get("pods", None, "-l", f"fnrunner.porch.kpt.dev/runner={runner}")["items"])


async def test_pod_pool_with_the_service_account(
    pool: tuple[PodPool, PodEvaluator], installed: Kubectl
) -> None:
    pod_pool, evaluator = pool
    kubectl = installed.in_namespace(NAMESPACE)
    result = await evaluator.evaluate(PASS, RESOURCE_LIST, timeout=60)
    assert result.resource_list == RESOURCE_LIST
    assert kubectl.exists("podtemplate", templates.TEMPLATE_NAME)
    runner = pod_pool.settings.runner_id
    assert len(function_pods(kubectl, runner)) == 1
    # Idle past its TTL, the pod is deleted (with the ServiceAccount's `delete`). Poll without blocking the
    # event loop the pool's garbage collection runs on.
    for _ in range(300):
        if not await asyncio.to_thread(function_pods, kubectl, runner):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the idle function pod was not deleted")


def function_config(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "FunctionConfig",
        "metadata": {"name": name},
        "spec": {
            "image": "set-labels",
            "binaryExecutor": {"tags": ["v0.2.0"], "path": "/functions/set-labels"},
        },
    }


def test_function_config_watch_with_the_service_account(
    installed: Kubectl, token_kubeconfig: Path, tmp_path: Path
) -> None:
    log = tmp_path / "fnrunner.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "fnrunner", "--port", str(free_port()),
                "--kubeconfig", str(token_kubeconfig), "--pod-namespace", NAMESPACE,
                "--disable-runtimes", "pod", "--metrics-port", "0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    runner_ns = installed.in_namespace(NAMESPACE)
    elsewhere = installed.in_namespace(f"fc-{uuid.uuid4().hex[:6]}")
    installed.run("create", "namespace", elsewhere.namespace or "")
    name = f"set-labels-{uuid.uuid4().hex[:6]}"
    try:
        runner_ns.create(function_config(name))
        elsewhere.create(function_config(name))

        def observed() -> dict[str, Any] | None:
            body: dict[str, Any] = runner_ns.get("functionconfig", name)
            status = body.get("status") or {}
            return (
                body
                if status.get("functionRunnerObservedGeneration") == body["metadata"]["generation"]
                else None
            )

        try:
            read = eventually(observed, timeout=60, what="the runner records the generation it read")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_tail(log, 40)}") from None
        assert health(read).status == "Healthy"
        assert "403" not in log.read_text()
        unread = elsewhere.get("functionconfig", name)
        assert health(unread).status == "Progressing"
    finally:
        process.terminate()
        process.wait(timeout=30)
        runner_ns.run("delete", "functionconfig", name, check=False)
        installed.run("delete", "namespace", elsewhere.namespace or "", "--wait=false", check=False)
