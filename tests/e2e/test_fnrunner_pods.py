"""The pod evaluator against the real local control plane, with a stand-in kubelet and the real Go wrapper.

Pods are created from the base PodTemplate (itself created when missing), become "ready" through the
stand-in (which runs the wrapper on loopback), are reused while warm, removed after their TTL, replaced when
deleted or failed, and bounded by the pod and queue limits. FunctionConfig podExecutor settings (warm-up,
template overrides, per-image limits) are applied. TTL and scan interval are shortened so the tests are
quick; nothing here asserts timing.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import config

from fnrunner.evaluators import functionconfigs
from fnrunner.evaluators.evaluation import EvaluatorUnavailable, FunctionFailed
from fnrunner.evaluators.pods import templates
from fnrunner.evaluators.pods.entrypoints import ConfiguredEntrypoints
from fnrunner.evaluators.pods.evaluator import PodEvaluator
from fnrunner.evaluators.pods.kube import PodApi
from fnrunner.evaluators.pods.pool import PodPool, PoolSettings
from localcluster.controlplane import ControlPlane
from tests.e2e.fnrunner_kubelet import StandInKubelet
from tests.e2e.kube import Kubectl

REPO = Path(__file__).resolve().parents[2]
PASS = "example.com/fns/pass-fn:v1"
FAIL = "example.com/fns/fail-fn:v1"
SLOW = "example.com/fns/slow-fn:v1"
RESOURCE_LIST = yaml.safe_dump(
    {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [{"kind": "X", "metadata": {"name": "a"}}],
    }
).encode()


def _script(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def wrapper_binary() -> Path:
    result = subprocess.run(
        [str(REPO / "hack/wrapper/build.sh")], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def functions(tmp_path: Path) -> dict[str, list[str]]:
    passing = _script(tmp_path, "pass", "import sys\nsys.stdout.write(sys.stdin.read())\n")
    failing = _script(
        tmp_path,
        "fail",
        """
        import sys, yaml
        rl = yaml.safe_load(sys.stdin)
        rl["results"] = [{"message": "bad input", "severity": "error"}]
        yaml.safe_dump(rl, sys.stdout)
        sys.stderr.write("it broke\\n")
        sys.exit(2)
        """,
    )
    slow = _script(
        tmp_path, "slow", "import sys, time\ndata = sys.stdin.read()\ntime.sleep(2)\nsys.stdout.write(data)\n"
    )
    return {PASS: [str(passing)], FAIL: [str(failing)], SLOW: [str(slow)]}


@dataclass
class PodRuntime:
    evaluator: PodEvaluator
    pool: PodPool
    kubelet: StandInKubelet
    store: functionconfigs.FunctionConfigStore
    namespace: str

    async def evaluate(self, image: str, timeout: float = 60) -> bytes:  # noqa: ASYNC109
        return (await self.evaluator.evaluate(image, RESOURCE_LIST, timeout=timeout)).resource_list


@pytest.fixture
async def make_runtime(
    control_plane: ControlPlane, namespace: str, wrapper_binary: Path, functions: dict[str, list[str]]
) -> AsyncIterator[Callable[..., Any]]:
    api_client = await config.new_client_from_config(config_file=str(control_plane.admin_kubeconfig))
    opened: list[tuple[PodPool, StandInKubelet]] = []

    async def make(configs: list[dict[str, Any]] | None = None, **overrides: Any) -> PodRuntime:
        store = functionconfigs.FunctionConfigStore(
            [functionconfigs.from_object(obj) for obj in configs or []]
        )
        kubelet = StandInKubelet(api_client, namespace, wrapper_binary)
        await kubelet.__aenter__()
        settings = {
            "runner_id": f"test-{uuid.uuid4().hex[:6]}",
            "pod_ttl": 1800.0,
            "scan_interval": 0.3,
            "wrapper_image": "fnwrapper:test",
            "max_pods": 1,
            "max_waitlist": 2,
        } | overrides
        resolver = ConfiguredEntrypoints(store, static=functions)
        pool = PodPool(
            PodApi(api_client, namespace),
            dialer=kubelet,
            store=store,
            settings=PoolSettings(**settings),
            entrypoint_of=resolver.entrypoint,
        )
        await pool.start()
        opened.append((pool, kubelet))
        return PodRuntime(PodEvaluator(pool, entrypoints=resolver), pool, kubelet, store, namespace)

    yield make
    for pool, kubelet in opened:
        await pool.close()
        await kubelet.__aexit__()
    await api_client.close()


async def until(check: Callable[[], Any], *, timeout: float = 60, what: str = "") -> Any:  # noqa: ASYNC109
    """Poll `check` (sync or async) until truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


def pods(kubectl: Kubectl) -> list[dict[str, Any]]:
    return list(kubectl.get("pods", None, "-l", "app.kubernetes.io/managed-by=porch-fnrunner")["items"])


async def test_pod_from_template_is_created_and_reused(make_runtime: Any, kubectl: Kubectl) -> None:
    runtime = await make_runtime()
    assert await runtime.evaluate(PASS) == RESOURCE_LIST
    assert await runtime.evaluate(PASS) == RESOURCE_LIST
    assert len(runtime.kubelet.started) == 1
    (pod,) = pods(kubectl)
    template = kubectl.get("podtemplate", templates.TEMPLATE_NAME)
    meta = pod["metadata"]
    assert (
        meta["annotations"][templates.TEMPLATE_VERSION_ANNOTATION] == template["metadata"]["resourceVersion"]
    )
    assert meta["annotations"][templates.FULL_IMAGE_ANNOTATION] == PASS
    assert meta["labels"][templates.IMAGE_LABEL].startswith("pass-fn-v1-0-")
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "function")
    assert container["image"] == PASS
    assert container["command"] == [templates.WRAPPER_BINARY]
    assert pod["spec"]["initContainers"][0]["image"] == "fnwrapper:test"


async def test_failing_function_in_a_pod(make_runtime: Any) -> None:
    runtime = await make_runtime()
    with pytest.raises(FunctionFailed) as caught:
        await runtime.evaluate(FAIL)
    assert caught.value.exit_code == 2
    assert caught.value.stderr == b"it broke\n"
    assert caught.value.results == [{"message": "bad input", "severity": "error"}]


async def test_idle_pod_is_removed_after_its_ttl(make_runtime: Any, kubectl: Kubectl) -> None:
    runtime = await make_runtime(pod_ttl=1.0)
    await runtime.evaluate(PASS)
    assert pods(kubectl)
    await until(lambda: not runtime.pool.snapshot(), what="the slot to be collected")
    await until(lambda: not pods(kubectl), what="the pod to be deleted")
    await runtime.evaluate(PASS)
    assert len(runtime.kubelet.started) == 2


async def test_deleted_pod_is_replaced(make_runtime: Any, kubectl: Kubectl) -> None:
    runtime = await make_runtime()
    await runtime.evaluate(PASS)
    (first,) = runtime.kubelet.started
    kubectl.run("delete", "pod", first, "--wait=false")
    await until(lambda: not runtime.pool.snapshot(), what="the slot of the deleted pod to go")
    assert await runtime.evaluate(PASS) == RESOURCE_LIST
    assert len(runtime.kubelet.started) == 2 and runtime.kubelet.started[1] != first


async def test_failed_pod_is_replaced(make_runtime: Any, kubectl: Kubectl) -> None:
    runtime = await make_runtime()
    await runtime.evaluate(PASS)
    (first,) = runtime.kubelet.started
    await runtime.kubelet.fail(first)
    await until(lambda: not runtime.pool.snapshot(), what="the slot of the failed pod to go")
    await until(
        lambda: first not in {p["metadata"]["name"] for p in pods(kubectl)}, what="the failed pod deleted"
    )
    assert await runtime.evaluate(PASS) == RESOURCE_LIST
    assert len(runtime.kubelet.started) == 2


async def test_pods_and_queue_are_bounded(make_runtime: Any) -> None:
    # Up to 2 pods, a new pod once one has 1 call, at most 4 calls queued for the image.
    runtime = await make_runtime(max_pods=2, max_waitlist=1, max_queue=4)
    outcomes = await asyncio.gather(*(runtime.evaluate(SLOW) for _ in range(6)), return_exceptions=True)
    succeeded = [o for o in outcomes if o == RESOURCE_LIST]
    refused = [o for o in outcomes if isinstance(o, EvaluatorUnavailable)]
    assert len(succeeded) == 4 and len(refused) == 2, outcomes
    assert runtime.kubelet.max_live == 2
    assert len(runtime.pool.snapshot()[SLOW]) == 2


async def test_function_config_warm_up_and_template_overrides(make_runtime: Any, kubectl: Kubectl) -> None:
    config = {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "FunctionConfig",
        "metadata": {"name": "pass-fn"},
        "spec": {
            "image": "pass-fn",
            "prefixes": ["example.com/fns"],
            "podExecutor": {
                "tags": ["v1"],
                "timeToLive": "10m",
                "maxParallelExecutions": 1,
                "templateOverrides": {
                    "serviceAccountName": "functions",
                    "container": {
                        "env": [{"name": "MODE", "value": "strict"}],
                        "resources": {"limits": {"cpu": "1"}},
                    },
                },
            },
        },
    }
    runtime = await make_runtime([config], pull_secrets=("registry-cred",))
    # Warm-up starts a pod with a fixed name before any call.
    warm = await until(lambda: pods(kubectl), what="the warm-up pod")
    assert warm[0]["metadata"]["name"].startswith("pass-fn-v1-0-")
    assert "generateName" not in warm[0]["metadata"]
    spec = warm[0]["spec"]
    assert spec["serviceAccountName"] == "functions"
    container = next(c for c in spec["containers"] if c["name"] == "function")
    assert container["env"] == [{"name": "MODE", "value": "strict"}]
    assert container["resources"]["limits"] == {"cpu": "1"}
    assert spec["imagePullSecrets"] == [{"name": "registry-cred"}]
    await runtime.evaluate(PASS)
    assert runtime.kubelet.started == [warm[0]["metadata"]["name"]]


async def test_private_registry_config_is_mirrored_into_a_pull_secret(
    control_plane: ControlPlane, namespace: str, kubectl: Kubectl
) -> None:
    api_client = await config.new_client_from_config(config_file=str(control_plane.admin_kubeconfig))
    try:
        api = PodApi(api_client, namespace)
        await api.ensure_pull_secret(
            "auth-secret", b'{"auths": {"registry.example": {"auth": "b25lOnR3bw=="}}}'
        )
        await api.ensure_pull_secret("auth-secret", b'{"auths": {}}')
    finally:
        await api_client.close()
    secret = kubectl.get("secret", "auth-secret")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert base64.b64decode(secret["data"][".dockerconfigjson"]) == b'{"auths": {}}'
