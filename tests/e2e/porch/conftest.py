"""Fixtures of the operator suite: the operator and fnrunner running as processes for the whole session, git
repositories on disk, and the identities tests act as (admin, author, approver).

Tests act only through kubectl, the Kubernetes API and git, the way users do.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localcluster.controlplane import ControlPlane
from tests.e2e import kind_cluster
from tests.e2e.api import install
from tests.e2e.kube import Kubectl, eventually
from tests.e2e.operator_process import OperatorStack
from tests.gitrepos import BareRepo

AUTHOR = "alice"
APPROVER = "bob"


@pytest.fixture(scope="session")
def stack(
    control_plane: ControlPlane, admin: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorStack]:
    # `make test-e2e-kind`: the operator deployed in the kind cluster instead of local processes.
    stack_type = kind_cluster.DeployedStack if kind_cluster.enabled() else OperatorStack
    operator = stack_type(control_plane, admin, tmp_path_factory.mktemp("operator"))
    try:
        operator.start()
        yield operator
    finally:
        operator.stop()


@dataclass(frozen=True)
class Porch:
    """One test's view: its namespace, the identities, the stack and a place for git repositories."""

    stack: OperatorStack
    admin: Kubectl
    author: Kubectl
    approver: Kubectl
    namespace: str
    git_root: Path

    def repo(self, name: str, **kwargs: Any) -> BareRepo:
        return BareRepo.create(self.git_root, name, **kwargs)

    def register(
        self, name: str, repo: BareRepo, *, directory: str = "", deployment: bool = False, **git: Any
    ) -> dict[str, Any]:
        manifest = {
            "apiVersion": "config.porch.kpt.dev/v1alpha1",
            "kind": "Repository",
            "metadata": {"name": name},
            "spec": {
                "type": "git",
                "deployment": deployment,
                "git": {"repo": repo.url, "branch": "main", "directory": directory, **git},
            },
        }
        self.admin.apply(manifest)
        return self.stack.wait_ready("repository", name, self.admin)

    def request_sync(self, repository: str) -> None:
        """Ask for a full sync now (spec.sync.runOnceAt) and wait until the operator has done it."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        patch = json.dumps({"spec": {"sync": {"runOnceAt": now}}})
        self.admin.run("patch", "repository", repository, "--type=merge", "-p", patch)
        self.wait_for(
            f"{repository} synced at {now}",
            lambda: (
                self.admin.get("repository", repository).get("status", {}).get("observedRunOnceAt") == now
            ),
        )

    def revision(self, name: str) -> dict[str, Any]:
        return self.admin.get("packagerevision", name)  # type: ignore[no-any-return]

    def revisions(self, *selectors: str) -> dict[str, dict[str, Any]]:
        items = self.admin.get("packagerevisions", None, *selectors)["items"]
        return {item["metadata"]["name"]: item for item in items}

    def resources(self, name: str) -> dict[str, str]:
        return self.admin.get("packagerevisionresources", name)["spec"].get("resources", {})  # type: ignore[no-any-return]

    def wait_ready(self, name: str, kind: str = "packagerevision", timeout: float = 60) -> dict[str, Any]:
        return self.stack.wait_ready(kind, name, self.admin, timeout=timeout)

    def wait_for(self, what: str, check: Any, timeout: float = 60) -> Any:
        try:
            return eventually(check, timeout=timeout, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- operator log ---\n{self.stack.log_tail()}") from None

    def create_revision(
        self,
        repository: str,
        package: str,
        workspace: str,
        source: dict[str, Any],
        *,
        lifecycle: str = "Draft",
        as_user: Kubectl | None = None,
        **spec: Any,
    ) -> str:
        name = f"{repository}.{package.replace('/', '.')}.{workspace}"
        manifest = {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": name},
            "spec": {
                "repository": repository,
                "packageName": package,
                "workspaceName": workspace,
                "lifecycle": lifecycle,
                "source": source,
                **spec,
            },
        }
        (as_user or self.author).create(manifest)
        return name

    def set_lifecycle(self, name: str, lifecycle: str, *, as_user: Kubectl | None = None) -> None:
        patch = json.dumps({"spec": {"lifecycle": lifecycle}})
        (as_user or self.author).run("patch", "packagerevision", name, "--type=merge", "-p", patch)


def _bind(kubectl: Kubectl, role: str, user: str) -> None:
    kubectl.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{role}-{user}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
    )


@pytest.fixture
def porch(stack: OperatorStack, kubectl: Kubectl, namespace: str, tmp_path: Path) -> Porch:
    _bind(kubectl, install.AUTHOR_ROLE, AUTHOR)
    _bind(kubectl, install.APPROVER_ROLE, APPROVER)
    return Porch(
        stack=stack,
        admin=kubectl,
        author=kubectl.as_user(AUTHOR, ("authors",)),
        approver=kubectl.as_user(APPROVER, ("approvers",)),
        namespace=namespace,
        git_root=tmp_path / f"git-{uuid.uuid4().hex[:6]}",
    )
