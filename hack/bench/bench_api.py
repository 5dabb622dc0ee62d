"""Figures of the API contract: generating `crds/`, and what the CEL rules and admission policies add to a
request.

Starts a local control plane, installs `crds/`, and times requests made straight over HTTPS (no kubectl):
creating a PackageRevision and toggling its lifecycle (CEL transition rules plus the admission policies), and
replacing the files of a PackageRevisionResources holding 1 MiB in 1,000 files (the per-path and total-size
rules run over every file). Each is set against a baseline measured in the same run on a ConfigMap of the same
size, which has no rules, so the ratio is what the rules add.
"""

from __future__ import annotations

import http.client
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crdgen import policies, render

from bench.machine import describe, figure
from localcluster import binaries
from localcluster.controlplane import ControlPlane, versions
from porch_operator import models

REPO_ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 30
FILES = 1000
NS = "bench"


class Api:
    """A tiny HTTPS client for one identity."""

    def __init__(self, url: str, context: ssl.SSLContext) -> None:
        parsed = urlparse(url)
        self._connection = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=context)

    def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        payload = None if body is None else json.dumps(body).encode()
        self._connection.request(method, path, body=payload, headers={"Content-Type": content_type})
        response = self._connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data)

    def timed(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> float:
        start = time.perf_counter()
        self.call(method, path, body, content_type)
        return (time.perf_counter() - start) * 1000


def collection(crd: models.CRDInfo) -> str:
    return f"/apis/{crd.group}/{crd.version}/namespaces/{NS}/{crd.plural}"


def install(plane: ControlPlane) -> None:
    kubectl = ["kubectl", f"--kubeconfig={plane.admin_kubeconfig}"]
    subprocess.run(
        [*kubectl, "apply", "--server-side", "-f", str(REPO_ROOT / "crds")], check=True, capture_output=True
    )
    for kind in models.ALL_KINDS:
        established = [*kubectl, "wait", "--for=condition=Established", f"crd/{kind.crd.name}"]
        subprocess.run(established, check=True, capture_output=True)
    subprocess.run([*kubectl, "create", "namespace", NS], check=True, capture_output=True)
    subprocess.run(
        [*kubectl, "create", "clusterrolebinding", "bench-operator", "--clusterrole=cluster-admin",
         f"--user={policies.DEFAULT_OPERATOR_USERNAME}"],
        check=True,
        capture_output=True,
    )  # fmt: skip


def wait_for_policies(admin: Api) -> None:
    """Admission policies and their parameter load asynchronously: wait until one refuses what it should."""
    body = {
        "apiVersion": models.PackageRevision.crd.api_version,
        "kind": "PackageRevision",
        "metadata": {"name": "repo.pkg.probe"},
        "spec": {"repository": "repo", "packageName": "pkg", "workspaceName": "probe"},
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            admin.call("POST", collection(models.PackageRevision.crd) + "?dryRun=All", body)
        except RuntimeError:
            return
        time.sleep(0.5)
    raise RuntimeError("the admission policies were not enforced within 60 s")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples)


def bench_revisions(admin: Api) -> tuple[float, float, float]:
    creates, toggles, baseline = [], [], []
    revisions = collection(models.PackageRevision.crd)
    for i in range(ROUNDS):
        name = models.revision_name("repo", "pkg", f"ws{i}")
        body = {
            "apiVersion": models.PackageRevision.crd.api_version,
            "kind": "PackageRevision",
            "metadata": {"name": name},
            "spec": {
                "repository": "repo",
                "packageName": "pkg",
                "workspaceName": f"ws{i}",
                "source": {"init": {}},
            },
        }
        creates.append(admin.timed("POST", revisions, body))
        for lifecycle in ("Proposed", "Draft"):
            patch = {"spec": {"lifecycle": lifecycle}}
            toggles.append(admin.timed("PATCH", f"{revisions}/{name}", patch, "application/merge-patch+json"))
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}
        baseline.append(admin.timed("POST", f"/api/v1/namespaces/{NS}/configmaps", configmap))
    return median_ms(creates), median_ms(toggles), median_ms(baseline)


def bench_resources(admin: Api, operator: Api) -> tuple[float, float]:
    size = models.MAX_RESOURCES_CHARS // FILES

    def files(round_: int) -> dict[str, str]:
        return {f"dir{i % 10}/file{i:04}.yaml": str(round_ % 10) * size for i in range(FILES)}

    resources = collection(models.PackageRevisionResources.crd)
    name = models.revision_name("repo", "big", "ws")
    body = {
        "apiVersion": models.PackageRevisionResources.crd.api_version,
        "kind": "PackageRevisionResources",
        "metadata": {"name": name, "labels": {models.LIFECYCLE_LABEL: "Draft"}},
        "spec": {"repository": "repo", "packageName": "big", "workspaceName": "ws", "resources": files(0)},
    }
    operator.call("POST", resources, body)
    configmaps = f"/api/v1/namespaces/{NS}/configmaps"
    cm_data = lambda r: {key.replace("/", "_"): value for key, value in files(r).items()}  # noqa: E731
    admin.call(
        "POST",
        configmaps,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": cm_data(0)},
    )
    updates, baseline = [], []
    for r in range(1, ROUNDS // 3 + 1):
        patch = {"spec": {"resources": files(r)}}
        updates.append(admin.timed("PATCH", f"{resources}/{name}", patch, "application/merge-patch+json"))
        cm_patch = {"data": cm_data(r)}
        baseline.append(admin.timed("PATCH", f"{configmaps}/big", cm_patch, "application/merge-patch+json"))
    return median_ms(updates), median_ms(baseline)


def main() -> None:
    for line in describe():
        print(line)
    bin_dir = binaries.binary_dir()
    v = versions(bin_dir)
    print(f"kubernetes: {v['kubernetes']}, etcd: {v['etcd']}")
    start = time.perf_counter()
    render.render_all()
    print(figure("crds_render", (time.perf_counter() - start) * 1000, "ms", "none; `make crds`"))
    with tempfile.TemporaryDirectory() as work, ControlPlane(bin_dir=bin_dir, workdir=Path(work)) as plane:
        start = time.perf_counter()
        install(plane)
        print(figure("crds_install", time.perf_counter() - start, "s", "none"))
        admin = Api(plane.api_url, plane.ssl_context_for("bench-admin", ["system:masters"]))
        operator = Api(plane.api_url, plane.ssl_context_for(policies.DEFAULT_OPERATOR_USERNAME))
        wait_for_policies(admin)
        create, toggle, baseline = bench_revisions(admin)
        print(figure("packagerevision_create_p50", create, "ms", "none"))
        print(figure("packagerevision_lifecycle_patch_p50", toggle, "ms", "none"))
        print(figure("configmap_create_p50 (baseline)", baseline, "ms"))
        print(figure("packagerevision_create_vs_baseline", create / baseline, "x", "<= 3 x"))
        update, cm_update = bench_resources(admin, operator)
        print(figure(f"packagerevisionresources_update_1MiB_{FILES}_files_p50", update, "ms", "none"))
        print(figure(f"configmap_update_1MiB_{FILES}_keys_p50 (baseline)", cm_update, "ms"))
        print(figure("packagerevisionresources_update_vs_baseline", update / cm_update, "x", "<= 3 x"))


if __name__ == "__main__":
    main()
