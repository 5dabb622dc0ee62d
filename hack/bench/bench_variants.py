"""Figures of PackageVariantSets: one set fanned out to 50 downstream packages, and their upgrade after an
upstream publish.

Starts a local control plane and the operator stack the end-to-end tests use (operator and fnrunner as
processes, the operator with exactly its RBAC), seeds an upstream package (a package context, a Deployment and
a ConfigMap injection point), and applies one PackageVariantSet whose template uses every kind of change
(labels from CEL, package context data, a prepended set-labels function, config injection). Measured, for two
layouts of the same 50 downstream packages (50 packages in one repository, whose worker serialises them; and 5
packages in each of 10 repositories):

* `fanout_*`: from `kubectl apply` of the set until every generated PackageVariant is Ready, i.e. every
  downstream draft exists, carries the variant's changes and rendered them;
* `upgrade_drafts_*`: from the upstream's v2 being published (after all 50 downstream drafts were approved)
  until all 50 upgrade drafts exist, and until every variant is Ready again (upgrades rendered).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.machine import describe, figure
from localcluster import binaries
from localcluster.controlplane import ControlPlane, versions
from tests.e2e.kube import Kubectl
from tests.e2e.operator_process import OperatorStack
from tests.gitrepos import BareRepo, configmap, kptfile

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = 50
TARGET_SECONDS = 60
POLL = 0.5
TIMEOUT = 900

CONTEXT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: kptfile.kpt.dev
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  name: base
"""
DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n"
SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    kpt.dev/config-injection: required
data:
  size: small
"""
TEMPLATE = {
    "labelExprs": [{"key": "region", "valueExpr": "repository.labels['region']"}],
    "packageContext": {"dataExprs": [{"key": "region", "valueExpr": "repository.labels['region']"}]},
    "pipeline": {
        "mutators": [
            {
                "image": "ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2.0",
                "name": "labels",
                "configMapExprs": [{"key": "site", "valueExpr": "repository.name + '-' + packageDefault"}],
            }
        ]
    },
    "injectors": [{"kind": "ConfigMap", "name": "settings"}],
}


def wait(what: str, check: Callable[[], bool]) -> float:
    """Seconds until `check` holds (polled); fails after TIMEOUT."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > TIMEOUT:
            raise RuntimeError(f"not done after {TIMEOUT} s: {what}")
        time.sleep(POLL)
    return time.monotonic() - start


def ready(item: dict[str, Any]) -> bool:
    generation = item["metadata"].get("generation")
    for condition in item.get("status", {}).get("conditions", []):
        if condition["type"] == "Ready":
            return bool(condition["status"] == "True" and condition.get("observedGeneration") == generation)
    return False


def items(kubectl: Kubectl, kind: str) -> list[dict[str, Any]]:
    return list(kubectl.get(kind)["items"])


class Scenario:
    """One namespace: the upstream, the downstream repositories and the set."""

    def __init__(self, stack: OperatorStack, admin: Kubectl, root: Path, layout: dict[str, int]) -> None:
        self.stack = stack
        self.namespace = f"bench-{len(layout)}"
        admin.run("create", "namespace", self.namespace)
        self.kubectl = admin.in_namespace(self.namespace)
        self.root = root / self.namespace
        self.layout = layout

    def register(self, name: str, repo: BareRepo, **labels: str) -> None:
        self.kubectl.apply(
            {
                "apiVersion": "config.porch.kpt.dev/v1alpha1",
                "kind": "Repository",
                "metadata": {"name": name, "labels": labels},
                "spec": {"type": "git", "git": {"repo": repo.url, "branch": "main", "directory": ""}},
            }
        )
        self.stack.wait_ready("repository", name, self.kubectl, timeout=120)

    def prepare(self) -> None:
        catalog = BareRepo.create(self.root, "catalog")
        files = {"Kptfile": kptfile("base"), "package-context.yaml": CONTEXT}
        catalog.seed_package(
            "base", {**files, "deployment.yaml": DEPLOYMENT, "settings.yaml": SETTINGS}, publish=1
        )
        self.register("catalog", catalog)
        self.kubectl.apply(configmap("settings", size="large"))
        for index, repository in enumerate(self.layout):
            self.register(repository, BareRepo.create(self.root, repository), region=f"r{index % 3}")
        self.stack.wait_ready("packagerevision", "catalog.base.v1", self.kubectl, timeout=120)

    def variant_set(self) -> dict[str, Any]:
        repositories = [
            {"name": repository, "packageNames": [f"pkg{i}" for i in range(count)]}
            for repository, count in self.layout.items()
        ]
        return {
            "apiVersion": "config.porch.kpt.dev/v1alpha2",
            "kind": "PackageVariantSet",
            "metadata": {"name": "fleet"},
            "spec": {
                "upstream": {"repo": "catalog", "package": "base"},
                "targets": [{"repositories": repositories, "template": TEMPLATE}],
            },
        }

    def variants_ready(self) -> bool:
        found = items(self.kubectl, "packagevariants")
        return len(found) == PACKAGES and all(ready(v) for v in found)

    def downstream(self, workspace: str) -> list[dict[str, Any]]:
        return [
            r
            for r in items(self.kubectl, "packagerevisions")
            if r["spec"]["repository"] != "catalog" and r["spec"]["workspaceName"] == workspace
        ]

    def is_ready(self, name: str, lifecycle: str) -> bool:
        revision = self.kubectl.get("packagerevision", name)
        return bool(revision["spec"]["lifecycle"] == lifecycle and ready(revision))

    def all_ready(self, workspace: str, lifecycle: str) -> bool:
        return all(r["spec"]["lifecycle"] == lifecycle and ready(r) for r in self.downstream(workspace))

    def reconciles(self) -> float:
        return self.stack.metric("porch_reconcile_total", kind="PackageVariant")

    def publish(self, name: str) -> None:
        for lifecycle in ("Proposed", "Published"):
            patch = json.dumps({"spec": {"lifecycle": lifecycle}})
            self.kubectl.run("patch", "packagerevision", name, "--type=merge", "-p", patch)
            wait(f"{name} {lifecycle}", lambda want=lifecycle: self.is_ready(name, want))

    def publish_all_downstream(self) -> None:
        names = [r["metadata"]["name"] for r in self.downstream("packagevariant-1")]
        for lifecycle in ("Proposed", "Published"):
            for name in names:
                patch = json.dumps({"spec": {"lifecycle": lifecycle}})
                self.kubectl.run("patch", "packagerevision", name, "--type=merge", "-p", patch)
            wait(
                f"all downstream {lifecycle}", lambda want=lifecycle: self.all_ready("packagevariant-1", want)
            )

    def publish_upstream_v2(self) -> None:
        name = "catalog.base.v2"
        self.kubectl.create(
            {
                "apiVersion": "porch.kpt.dev/v1alpha2",
                "kind": "PackageRevision",
                "metadata": {"name": name},
                "spec": {
                    "repository": "catalog",
                    "packageName": "base",
                    "workspaceName": "v2",
                    "lifecycle": "Draft",
                    "source": {"copyFrom": {"name": "catalog.base.v1"}},
                },
            }
        )
        self.stack.wait_ready("packagerevision", name, self.kubectl, timeout=120)
        resources = self.kubectl.get("packagerevisionresources", name)
        resources["spec"]["resources"]["deployment.yaml"] = DEPLOYMENT.replace("replicas: 1", "replicas: 3")
        self.kubectl.apply(resources)
        wait(
            "upstream v2 rendered",
            lambda: (
                (r := self.kubectl.get("packagerevisionresources", name))["status"].get("observedGeneration")
                == r["metadata"]["generation"]
            ),
        )
        self.publish(name)

    def operator_cpu(self) -> float:
        """CPU seconds the operator process has used (user + system)."""
        pid = self.stack.processes["operator"].pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def breakdown(self) -> dict[str, float]:
        """Seconds the operator spent by what (its duration histograms), and the variant reconciles."""
        seconds = {
            f"git_{op}": self.stack.metric("porch_git_operation_duration_seconds_sum", operation=op)
            for op in ("create_draft", "update_draft", "publish", "propose")
        }
        seconds["render"] = self.stack.metric("porch_render_duration_seconds_sum")
        for kind in ("PackageRevision", "PackageRevisionResources", "PackageVariant", "PackageVariantSet"):
            seconds[f"reconcile_{kind}"] = self.stack.metric(
                "porch_reconcile_duration_seconds_sum", kind=kind
            )
        seconds["variant_reconciles"] = self.reconciles()
        seconds["operator_cpu"] = self.operator_cpu()
        return seconds

    def phase(self, name: str, target: str, action: Callable[[], None]) -> None:
        before, start = self.breakdown(), time.monotonic()
        action()
        elapsed = time.monotonic() - start
        print(figure(name, elapsed, "s", target))
        after = self.breakdown()
        for key, value in after.items():
            unit = "" if key == "variant_reconciles" else "s"
            print(figure(f"  {name}.{key}", value - before[key], unit))

    def run(self, label: str) -> None:
        self.prepare()

        def fan_out() -> None:
            self.kubectl.apply(self.variant_set())
            wait(
                "all variants and drafts ready",
                lambda: self.variants_ready() and self.all_ready("packagevariant-1", "Draft"),
            )

        self.phase(f"fanout_{PACKAGES}_{label}_all_ready", f"<= {TARGET_SECONDS} s", fan_out)
        assert len(self.downstream("packagevariant-1")) == PACKAGES, "a downstream draft is missing"
        self.publish_all_downstream()
        wait("variants settled", self.variants_ready)
        self.publish_upstream_v2()

        def upgrade() -> None:
            created = wait("all upgrade drafts", lambda: len(self.downstream("packagevariant-2")) == PACKAGES)
            print(figure(f"upgrade_drafts_{PACKAGES}_{label}_created", created, "s", "none"))
            wait(
                "all upgrades ready",
                lambda: self.variants_ready() and self.all_ready("packagevariant-2", "Draft"),
            )

        self.phase(f"upgrade_drafts_{PACKAGES}_{label}_all_ready", "none", upgrade)
        upgraded = self.downstream("packagevariant-2")
        assert all(r["spec"]["source"].get("upgrade") for r in upgraded), "a draft is not an upgrade"


def main() -> None:
    for line in describe():
        print(line)
    bin_dir = binaries.binary_dir()
    v = versions(bin_dir)
    print(f"kubernetes: {v['kubernetes']}, etcd: {v['etcd']}")
    layouts = {
        "1repo": {"edge": PACKAGES},
        "10repos": {f"edge{i}": PACKAGES // 10 for i in range(10)},
    }
    with (
        tempfile.TemporaryDirectory() as work,
        ControlPlane(bin_dir=bin_dir, workdir=Path(work) / "plane") as plane,
    ):
        admin = Kubectl(plane.admin_kubeconfig, plane.kubeconfig_for)
        stack = OperatorStack(plane, admin, Path(work) / "operator")
        stack.start()
        try:
            chosen = sys.argv[1:] or list(layouts)  # e.g. `bench_variants.py 1repo`
            for label in chosen:
                layout = layouts[label]
                Scenario(stack, admin, Path(work) / "git", layout).run(label)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
