"""FunctionConfig objects in the runner's namespace are watched: added, changed and deleted objects reach the
store the evaluators read, and each applied generation is recorded in status."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import config

from fnrunner.configwatch import FunctionConfigWatcher
from fnrunner.evaluators import functionconfigs
from localcluster.controlplane import ControlPlane
from tests.e2e.kube import Kubectl

CRD = "functionconfigs.config.porch.kpt.dev"


def minimal_crd() -> dict[str, Any]:
    """Enough of the FunctionConfig CRD for the watch (used only when the real one is not installed)."""
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD},
        "spec": {
            "group": "config.porch.kpt.dev",
            "scope": "Namespaced",
            "names": {"plural": "functionconfigs", "singular": "functionconfig", "kind": "FunctionConfig"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def function_config_crd(admin: Kubectl) -> None:
    if not admin.exists("crd", CRD):
        admin.create(minimal_crd())
    admin.run("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=60s")


def function_config(tags: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "FunctionConfig",
        "metadata": {"name": "set-x"},
        "spec": {
            "image": "set-x",
            "binaryExecutor": {"tags": tags, "path": "set-x"},
            "podExecutor": {"tags": tags},
        },
    }


async def until(check: Any, what: str) -> None:
    for _ in range(300):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.usefixtures("function_config_crd")
async def test_function_configs_are_watched(
    control_plane: ControlPlane, namespace: str, kubectl: Kubectl
) -> None:
    api_client = await config.new_client_from_config(config_file=str(control_plane.admin_kubeconfig))
    store = functionconfigs.FunctionConfigStore()
    changes: list[int] = []
    watcher = FunctionConfigWatcher(
        api_client, namespace=namespace, store=store, on_change=lambda: changes.append(1)
    )
    task = asyncio.ensure_future(watcher.run())
    try:
        await asyncio.wait_for(watcher.synced.wait(), timeout=30)
        await asyncio.to_thread(kubectl.apply, function_config(["v1"]))
        await until(lambda: store.named("set-x") is not None, "the new FunctionConfig")
        binary = store.named("set-x").binary_executor  # type: ignore[union-attr]
        assert binary is not None and binary.tags == ("v1",)

        def observed() -> Any:
            return (
                kubectl.get("functionconfig", "set-x")
                .get("status", {})
                .get("functionRunnerObservedGeneration")
            )

        # kubectl runs in a thread: the watcher needs the event loop meanwhile.
        for _ in range(300):
            if await asyncio.to_thread(observed) == 1:
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(observed) == 1
        await asyncio.to_thread(kubectl.apply, function_config(["v1", "v2"]))
        await until(
            lambda: store.named("set-x").binary_executor.tags == ("v1", "v2"),  # type: ignore[union-attr]
            "the changed FunctionConfig",
        )
        await asyncio.to_thread(kubectl.run, "delete", "functionconfig", "set-x")
        await until(lambda: store.named("set-x") is None, "the deleted FunctionConfig to go")
        assert changes
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api_client.close()
