"""config/ installs on a real API server the documented way, and the user roles it ships work.

On the session's control plane: `config/crd`, then `kubectl apply -k config/default --dry-run=server`, then a
real apply of everything but the Deployment (nothing on this control plane would run it), then the samples in
a namespace (they pass the CRDs' rules). On a new control plane: what a single `kubectl apply -k
config/default` does before the CRDs exist, as docs/install.md says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster import binaries
from localcluster.controlplane import ControlPlane
from tests.e2e.api import install
from tests.e2e.kube import Kubectl, eventually
from tests.e2e.packaging.conftest import CONFIG, admin_of, apply_docs, install_crds, kustomize


@pytest.fixture
def config_default(admin: Kubectl) -> Iterator[Kubectl]:
    """config/default (less the Deployment) applied to the session's control plane; afterwards the API
    suite's identity parameter is restored (re-applying crds/ resets it to the shipped default)."""
    try:
        install_crds(admin)
        yield admin
    finally:
        install.name_the_operator(admin)


def test_dry_run_then_real_apply_of_config_default(config_default: Kubectl) -> None:
    admin = config_default
    dry = admin.run(
        "apply", "--server-side", "--force-conflicts", "-k", str(CONFIG / "default"), "--dry-run=server"
    )
    assert "(server dry run)" in dry.stdout
    docs = [d for d in kustomize("default") if d["kind"] != "Deployment"]
    applied = apply_docs(admin, docs)
    assert len(applied.stdout.splitlines()) == len(docs)
    # Everything is there, in the namespaces the manifests name.
    assert admin.exists("clusterkopfpeering", "porch-operator")
    assert admin.in_namespace("porch-fn-system").exists("role", "porch-fnrunner")
    assert admin.in_namespace("porch-system").exists("service", "porch-operator-metrics")
    assert admin.in_namespace("porch-system").exists("poddisruptionbudget", "porch-operator")
    identity = admin.in_namespace("porch-system").get("configmap", "porch-operator-identity")
    assert identity["data"]["username"] == "system:serviceaccount:porch-system:porch-operator"

    # And the ServiceAccount can do what its roles say (the authorizer answers, not the manifests).
    def operator_may(verb: str, resource: str, namespace: str = "", subresource: str = "") -> bool:
        args = ["auth", "can-i", verb, resource, "--as=system:serviceaccount:porch-system:porch-operator"]
        args += [f"--namespace={namespace}"] if namespace else []
        args += [f"--subresource={subresource}"] if subresource else []
        return admin.run(*args, check=False).stdout.strip() == "yes"

    assert operator_may("patch", "packagerevisions.porch.kpt.dev", "any-namespace", "status")
    assert operator_may("get", "secrets", "any-namespace")
    assert operator_may("patch", "clusterkopfpeerings.kopf.dev/porch-operator")
    assert operator_may("create", "pods", "porch-fn-system")
    assert operator_may("patch", "functionconfigs.config.porch.kpt.dev", "porch-fn-system", "status")
    assert not operator_may("patch", "clusterkopfpeerings.kopf.dev/someone-else")
    assert not operator_may("create", "pods", "any-namespace")
    assert not operator_may("list", "secrets", "any-namespace")
    assert not operator_may("update", "packagerevisions.porch.kpt.dev", "any-namespace", "approval")
    assert not operator_may("patch", "functionconfigs.config.porch.kpt.dev", "any-namespace", "status")


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


def test_samples_and_user_roles(config_default: Kubectl, kubectl: Kubectl, namespace: str) -> None:
    admin = config_default
    apply_docs(admin, [d for d in kustomize("rbac") if d["kind"] == "ClusterRole"])
    samples = kubectl.run("apply", "-k", str(CONFIG / "samples"))
    assert len(samples.stdout.splitlines()) == len(kustomize("samples"))
    _bind(kubectl, "porch-viewer", "carol")
    _bind(kubectl, "porch-author", "alice")
    _bind(kubectl, "porch-author", "bob")
    _bind(kubectl, "porch-approver", "bob")
    viewer, author, approver = (kubectl.as_user(user) for user in ("carol", "alice", "bob"))

    assert viewer.get("packagerevisions")["items"]
    refused = viewer.run("delete", "packagevariantset", "basens-per-team", check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()

    revision = "blueprints.authored.v1"
    author.create(
        {
            "apiVersion": "porch.kpt.dev/v1alpha2",
            "kind": "PackageRevision",
            "metadata": {"name": revision},
            "spec": {
                "repository": "blueprints",
                "packageName": "authored",
                "workspaceName": "v1",
                "source": {"init": {"description": "by an author"}},
            },
        }
    )
    author.run(
        "patch",
        "packagerevision",
        revision,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"lifecycle": "Proposed"}}),
    )
    status = author.run(
        "patch",
        "packagerevision",
        revision,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {}}',
        check=False,
    )
    assert status.returncode != 0 and "forbidden" in status.stderr.lower()
    publish = (
        "patch",
        "packagerevision",
        revision,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"lifecycle": "Published"}}),
        "--dry-run=server",
    )

    def author_is_refused() -> bool:
        result = author.run(*publish, check=False)
        return result.returncode != 0 and "only approvers may publish" in result.stderr

    eventually(author_is_refused, timeout=90, what="the approval policy refuses an author")
    assert approver.run(*publish).returncode == 0


def test_a_single_apply_on_a_new_cluster_needs_a_second_run(tmp_path: Path) -> None:
    # docs/install.md: before the CRDs exist, only the peering object (a custom resource) cannot be applied;
    # kubectl says so, applies the rest, and a second run completes the install.
    with ControlPlane(bin_dir=binaries.binary_dir(), workdir=tmp_path, controller_manager=False) as plane:
        admin = admin_of(plane)
        first = admin.run("apply", "--server-side", "-k", str(CONFIG / "default"), check=False)
        assert first.returncode != 0
        missing = [line for line in first.stderr.splitlines() if "resource mapping not found" in line]
        assert len(missing) == 1 and 'no matches for kind "ClusterKopfPeering"' in missing[0], first.stderr
        assert "ensure CRDs are installed first" in first.stderr
        admin.run(
            "wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=porch-operator"
        )
        second = admin.run("apply", "--server-side", "-k", str(CONFIG / "default"))
        assert "clusterkopfpeering.kopf.dev/porch-operator serverside-applied" in second.stdout
