"""The Argo CD health checks and kstatus (what Flux's `wait: true` uses) read real objects as the operator
writes them: Healthy/Current when Ready, Degraded/Failed when Stalled, Progressing/InProgress while a change
is not yet observed (the operator is stopped to hold that state).

The objects come from the operator running with config/'s ServiceAccount (`stack`); the Lua scripts are the
shipped ones, run in Lua 5.1 the way Argo CD runs them (tests/argocd_health.py); kstatus is cli-utils' own
code (hack/kstatus, tests/kstatus_reader.py).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests import kstatus_reader
from tests.argocd_health import health
from tests.e2e.kube import Kubectl, eventually
from tests.e2e.packaging.conftest import PackagedStack, wait_condition
from tests.gitrepos import BareRepo


def repository(name: str, url: str, **git: Any) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "Repository",
        "metadata": {"name": name},
        "spec": {"type": "git", "git": {"repo": url, "branch": "main", **git}},
    }


def revision(repo: str, package: str, workspace: str) -> dict[str, Any]:
    return {
        "apiVersion": "porch.kpt.dev/v1alpha2",
        "kind": "PackageRevision",
        "metadata": {"name": f"{repo}.{package}.{workspace}"},
        "spec": {
            "repository": repo,
            "packageName": package,
            "workspaceName": workspace,
            "source": {"init": {"description": "health"}},
        },
    }


# Argo CD health -> the kstatus status that means the same.
AGREES = {"Healthy": "Current", "Progressing": "InProgress", "Degraded": "Failed"}


@pytest.fixture(scope="module")
def kstatus() -> Path:
    return kstatus_reader.build()


def agree(binary: Path, *objects: dict[str, Any]) -> None:
    """Argo CD's health (the shipped Lua) and Flux's kstatus say the same of each object."""
    for obj, reading in zip(objects, kstatus_reader.read(binary, list(objects)), strict=True):
        argo = health(obj)
        assert AGREES[argo.status] == reading.status, (obj["kind"], obj["metadata"]["name"], argo, reading)


def healthy(kubectl: Kubectl, kind: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = kubectl.get(kind, name)
    result = health(body)
    assert result.status == "Healthy", (result, body.get("status"))
    return body


def test_healthy_degraded_and_progressing(
    stack: PackagedStack, work_namespace: Kubectl, tmp_path: Path, kstatus: Path
) -> None:
    kubectl = work_namespace
    repo = BareRepo.create(tmp_path / "git", "catalog")
    repo.seed_package("basens", publish=1)
    kubectl.apply(repository("catalog", repo.url))
    wait_condition(kubectl, "repository", "catalog", type_="Ready", status="True")
    kubectl.create(revision("catalog", "draft", "v1"))
    wait_condition(kubectl, "packagerevision", "catalog.draft.v1", type_="Ready", status="True")
    wait_condition(kubectl, "packagerevisionresources", "catalog.draft.v1", type_="Ready", status="True")

    # Healthy: every kind the operator writes, once Ready.
    healthy(kubectl, "repository", "catalog")
    for name in ("catalog.basens.v1", "catalog.draft.v1"):
        healthy(kubectl, "packagerevision", name)
        healthy(kubectl, "packagerevisionresources", name)
    packages = kubectl.get("packages")["items"]
    assert packages
    for package in packages:
        eventually(
            lambda p=package: health(kubectl.get("package", p["metadata"]["name"])).status == "Healthy"
        )
    agree(
        kstatus,
        kubectl.get("repository", "catalog"),
        *kubectl.get("packagerevisions")["items"],
        *kubectl.get("packagerevisionresources")["items"],
        *kubectl.get("packages")["items"],
    )

    # Degraded: errors the user must fix (Stalled=True).
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "not-for-git"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(b"x").decode(), "tls.key": base64.b64encode(b"y").decode()},
        }
    )
    kubectl.apply(
        repository("wrong-secret", "https://127.0.0.1:1/none.git", secretRef={"name": "not-for-git"})
    )
    broken = wait_condition(kubectl, "repository", "wrong-secret", type_="Stalled", status="True")
    assert health(broken).status == "Degraded"
    kubectl.create(revision("missing", "pkg", "v1"))
    orphan = wait_condition(kubectl, "packagerevision", "missing.pkg.v1", type_="Stalled", status="True")
    result = health(orphan)
    assert result.status == "Degraded" and "missing" in result.message
    agree(kstatus, broken, orphan)

    # Progressing: with the operator stopped, changes are not observed yet, and new objects have no status.
    stack.stop_process("operator")
    propose = json.dumps({"spec": {"lifecycle": "Proposed"}})
    kubectl.run("patch", "packagerevision", "catalog.draft.v1", "--type=merge", "-p", propose)
    kubectl.run(
        "patch", "repository", "catalog", "--type=merge", "-p", '{"spec": {"description": "changed"}}'
    )
    kubectl.create(revision("catalog", "later", "v1"))
    for kind, name in [
        ("packagerevision", "catalog.draft.v1"),
        ("repository", "catalog"),
        ("packagerevision", "catalog.later.v1"),
    ]:
        body = kubectl.get(kind, name)
        assert health(body).status == "Progressing", (kind, name, body.get("status"))
    agree(kstatus, kubectl.get("packagerevision", "catalog.draft.v1"), kubectl.get("repository", "catalog"))
    # The one difference (docs/gitops.md): an object the operator has not looked at yet has no status, which
    # kstatus reads as Current; the operator's first look writes Ready=False, which it reads as InProgress.
    (unseen,) = kstatus_reader.read(kstatus, [kubectl.get("packagerevision", "catalog.later.v1")])
    assert unseen.status == "Current"

    # And back to Healthy once the operator has caught up.
    stack.start_operator()
    for kind, name in [
        ("packagerevision", "catalog.draft.v1"),
        ("repository", "catalog"),
        ("packagerevision", "catalog.later.v1"),
    ]:
        agree(kstatus, wait_condition(kubectl, kind, name, type_="Ready", status="True"))
        healthy(kubectl, kind, name)
    assert kubectl.get("packagerevision", "catalog.draft.v1")["spec"]["lifecycle"] == "Proposed"
