"""End-to-end fixtures: one real control plane per test session, per-test namespaces, minted identities.

The control plane (etcd, kube-apiserver, kube-controller-manager) is built from Go modules by
`hack/controlplane/build.sh` (a no-op when the cached binaries exist) and started on free loopback ports. It
is never skipped: if it cannot start, the session fails, so a broken foundation cannot pass for green.
Every test here is marked `e2e`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster import binaries
from localcluster.controlplane import ControlPlane
from tests.e2e import kind_cluster
from tests.e2e.kube import Kubectl


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    if kind_cluster.enabled():  # `make test-e2e-kind`: a kind cluster instead of a local control plane
        yield kind_cluster.KindCluster.connect(tmp_path_factory.mktemp("kind"))
        return
    plane = ControlPlane(bin_dir=binaries.binary_dir(), workdir=tmp_path_factory.mktemp("controlplane"))
    with plane:
        yield plane


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> Kubectl:
    """kubectl as a cluster admin (system:masters)."""

    def mint(user: str, groups: tuple[str, ...]) -> Path:
        return control_plane.kubeconfig_for(user, groups)

    return Kubectl(control_plane.admin_kubeconfig, mint)


@pytest.fixture
def namespace(admin: Kubectl) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting for it to go)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    admin.run("create", "namespace", name)
    yield name
    admin.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def kubectl(admin: Kubectl, namespace: str) -> Kubectl:
    """kubectl as admin, in the test's namespace."""
    return admin.in_namespace(namespace)
