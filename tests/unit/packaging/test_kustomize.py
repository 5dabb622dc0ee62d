"""config/ builds with kustomize (kubectl's) and its parts agree with each other.

What the API server cannot check on an apply: the operator's ServiceAccount is the identity the admission
policies exempt and the subject of every binding; the function runner's Role lives in the namespace the
runner is told to use; the peering name is the same in the arguments, the object and the RBAC; the security
settings of both containers; the metrics Service and ServiceMonitor select the right pods and ports; image
overrides reach the wrapper image variable. Applying the result to a real API server is in
tests/e2e/packaging/test_install.py.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG = REPO_ROOT / "config"


@cache
def build(directory: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(CONFIG / directory)], capture_output=True, text=True, check=True
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def find(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def deployment() -> dict[str, Any]:
    return one(build("default"), "Deployment", "porch-operator")


def containers() -> dict[str, dict[str, Any]]:
    spec = deployment()["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


@pytest.mark.parametrize(
    "directory",
    [
        "crd",
        "rbac",
        "manager",
        "function-runner",
        "prometheus",
        "network-policy",
        "samples",
        "default",
        "kind",
    ],
)
def test_every_kustomization_builds(directory: str) -> None:
    assert build(directory)


def test_default_is_made_of_the_parts() -> None:
    default = {(d["kind"], d["metadata"]["name"]) for d in build("default")}
    parts = {
        (d["kind"], d["metadata"]["name"])
        for p in ("crd", "rbac", "manager", "function-runner", "network-policy")
        for d in build(p)
    }
    assert default == parts
    assert ("CustomResourceDefinition", "clusterkopfpeerings.kopf.dev") in default


def test_namespaced_objects_name_their_namespace() -> None:
    cluster_scoped = {
        "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    }  # fmt: skip
    for doc in build("default"):
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"].get("namespace") in {"porch-system", "porch-fn-system"}, doc["metadata"]


def test_the_operator_identity_is_the_pods_service_account() -> None:
    docs = build("default")
    pod = deployment()["spec"]["template"]["spec"]
    account = one(docs, "ServiceAccount", pod["serviceAccountName"])
    username = f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
    assert one(docs, "ConfigMap", "porch-operator-identity")["data"]["username"] == username
    for binding in [*find(docs, "ClusterRoleBinding"), *find(docs, "RoleBinding")]:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "porch-system"}
        ]


def _arg(container: dict[str, Any], flag: str) -> str:
    words = " ".join([*container.get("command", []), *container.get("args", [])]).split()
    values = [w.split("=", 1)[1] for w in words if w.startswith(f"{flag}=")]
    assert len(values) == 1, f"{flag} in {words}"
    return values[0]


def test_the_function_runner_role_is_where_the_runner_works() -> None:
    docs = build("default")
    fnrunner = containers()["fnrunner"]
    namespace = _arg(fnrunner, "--pod-namespace")
    role = one(docs, "Role", "porch-fnrunner")
    assert role["metadata"]["namespace"] == namespace
    assert one(docs, "RoleBinding", "porch-fnrunner")["metadata"]["namespace"] == namespace
    assert one(docs, "Namespace", namespace)
    # The runner is reached only over the pod's loopback, where the operator expects it.
    assert _arg(fnrunner, "--address") == "127.0.0.1"
    env = {e["name"]: e.get("value") for e in containers()["operator"]["env"]}
    assert env["PORCH_FUNCTION_RUNNER"] == f"127.0.0.1:{_arg(fnrunner, '--port')}"


def test_peering_name_agrees_everywhere() -> None:
    docs = build("default")
    operator = containers()["operator"]
    name = _arg(operator, "--peering")
    assert one(docs, "ClusterKopfPeering", name)
    rules = one(docs, "ClusterRole", "porch-operator-peering")["rules"]
    assert {"resourceNames": [name], "verbs": ["patch"]}.items() <= next(
        r for r in rules if "patch" in r["verbs"]
    ).items()
    assert "--standalone" not in " ".join(operator["args"])
    # Each replica's priority is its start time, negated: the first started reconciles, a later one waits.
    assert '--priority="-$(date +%s%N)"' in " ".join(operator["args"])


def test_security_settings() -> None:
    spec = deployment()["spec"]
    pod = spec["template"]["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["replicas"] == 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] != 0
    for name, container in containers().items():
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
        assert container["livenessProbe"], name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts, name
    volumes = {v["name"]: v for v in pod["volumes"]}
    cache_mount = next(
        m for m in containers()["operator"]["volumeMounts"] if m["mountPath"] == "/var/cache/porch"
    )
    assert "emptyDir" in volumes[cache_mount["name"]]
    env = {e["name"]: e.get("value") for e in containers()["operator"]["env"]}
    assert env["PORCH_CACHE_DIR"].startswith("/var/cache/porch/")
    # A native sidecar: started (and probed) before the operator, stopped after it.
    assert containers()["fnrunner"]["restartPolicy"] == "Always"
    assert (
        containers()["fnrunner"]["startupProbe"]["exec"]["command"][0] == "/usr/local/bin/grpc-health-probe"
    )
    assert containers()["operator"]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert _arg(containers()["operator"], "--liveness").endswith(":8080/healthz")


def test_metrics_service_and_service_monitor_select_the_operator_pods() -> None:
    docs = build("default")
    service = one(docs, "Service", "porch-operator-metrics")
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    ports = {p["name"]: p for c in containers().values() for p in c.get("ports", [])}
    for port in service["spec"]["ports"]:
        assert ports[port["targetPort"]]["containerPort"] == port["port"]
    env = {e["name"]: e.get("value") for e in containers()["operator"]["env"]}
    assert int(env["PORCH_METRICS_PORT"]) == ports["metrics"]["containerPort"]
    assert int(_arg(containers()["fnrunner"], "--metrics-port")) == ports["fn-metrics"]["containerPort"]
    monitor = one(build("prometheus"), "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]


def test_an_overlay_image_reaches_the_wrapper_image_variable(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(CONFIG / "default", overlay)],
                "images": [
                    {"name": "porch-operator", "newName": "registry.example/porch-operator", "newTag": "v9"},
                    {"name": "porch-fnrunner", "newName": "registry.example/porch-fnrunner", "newTag": "v9"},
                ],
            }
        )
    )
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True)
    built = next(d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Deployment")
    spec = built["spec"]["template"]["spec"]
    fnrunner = spec["initContainers"][0]
    assert fnrunner["image"] == "registry.example/porch-fnrunner:v9"
    assert {"name": "WRAPPER_SERVER_IMAGE", "value": "registry.example/porch-fnrunner:v9"} in fnrunner["env"]
    assert spec["containers"][0]["image"] == "registry.example/porch-operator:v9"
