"""Fixtures of the packaging suite: config/ installed the documented way, and the operator run from it.

Tests that start operators get a control plane of their own (`plane`, one for this package), so that their
operators never meet the session's operator stack, and so that they may change the operator's ClusterRole.
On it, `installed` applies config/ as docs/install.md says (CRDs first, then config/default); the
Deployment is applied too, but nothing runs it (no scheduler, no kubelet): the tests start the operator and
the function runner as processes with the Deployment's ServiceAccount token instead.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import binaries, porch
from localcluster.controlplane import ControlPlane
from tests.e2e.kube import Kubectl, eventually
from tests.e2e.operator_process import OperatorStack

# The pod-evaluator suite's fixtures (the wrapper binary, test functions), for test_fnrunner_rbac.py.
from tests.e2e.test_fnrunner_pods import functions, wrapper_binary  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG = REPO_ROOT / "config"


def kustomize(directory: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(CONFIG / directory)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def install_crds(admin: Kubectl) -> None:
    """`kubectl apply --server-side -k config/crd` and wait until the CRDs are served."""
    admin.run("apply", "--server-side", "--force-conflicts", "-k", str(CONFIG / "crd"))
    admin.run(
        "wait",
        "--for=condition=Established",
        "crd",
        "-l",
        "app.kubernetes.io/part-of=porch-operator",
        "--timeout=60s",
    )


def apply_docs(admin: Kubectl, docs: list[dict[str, Any]], *extra: str) -> subprocess.CompletedProcess[str]:
    return admin.run(
        "apply", "--server-side", "--force-conflicts", "-f", "-", *extra, stdin=yaml.safe_dump_all(docs)
    )


def admin_of(plane: ControlPlane) -> Kubectl:
    return Kubectl(plane.admin_kubeconfig, plane.kubeconfig_for)


@pytest.fixture(scope="package")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    control_plane = ControlPlane(
        bin_dir=binaries.binary_dir(), workdir=tmp_path_factory.mktemp("packaging-plane")
    )
    with control_plane:
        yield control_plane


@pytest.fixture(scope="package")
def installed(plane: ControlPlane) -> Kubectl:
    """Admin of `plane`, after the documented install of config/default."""
    admin = admin_of(plane)
    install_crds(admin)
    admin.run("apply", "--server-side", "-k", str(CONFIG / "default"))
    return admin


@pytest.fixture
def work_namespace(installed: Kubectl) -> Iterator[Kubectl]:
    """A fresh namespace on `plane` (admin in it). Its Repositories are deleted while the test's operator
    still runs (see `PackagedStack.stop`), so that no finalizer is left for the next test's operator."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    installed.run("create", "namespace", name)
    yield installed.in_namespace(name)
    installed.run("delete", "namespace", name, "--wait=false", check=False)


@dataclass
class PackagedStack(OperatorStack):
    """OperatorStack on `plane`, installed by `installed` (config/default) rather than by the API suite's
    install; the operator still runs with the token of the ServiceAccount config/rbac binds."""

    def install(self) -> None:
        self.kubeconfig = porch.install_identity(
            self.plane, self.admin.kubeconfig, self.workdir / "operator.kubeconfig"
        )

    def stop(self) -> None:
        if "operator" in self.processes and self.processes["operator"].alive():
            # Let the operator release what it holds (Repository finalizers) before it goes.
            self.admin.run(
                "delete", "repositories.config.porch.kpt.dev", "--all", "-A", "--timeout=60s", check=False
            )
        super().stop()


@pytest.fixture
def stack(plane: ControlPlane, installed: Kubectl, tmp_path: Path) -> Iterator[PackagedStack]:
    operator = PackagedStack(plane, installed, tmp_path / "stack")
    try:
        operator.start()
        yield operator
    finally:
        operator.stop()


def wait_condition(
    kubectl: Kubectl,
    kind: str,
    name: str,
    *,
    type_: str,
    status: str,
    reason: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    """Poll until `kind/name` has condition `type_` = `status` (and `reason`) for its current generation."""

    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = kubectl.get(kind, name)
        for condition in body.get("status", {}).get("conditions", []):
            if (
                condition["type"] == type_
                and condition["status"] == status
                and (reason is None or condition.get("reason") == reason)
                and condition.get("observedGeneration") == body["metadata"]["generation"]
            ):
                return body
        return None

    return eventually(check, timeout=timeout, what=f"{kind}/{name} {type_}={status} {reason or ''}")
