"""Install `crds/` (CRDs, admission policies, operator-identity parameter) into a control plane, and wait
until every admission policy is enforced.

Other end-to-end suites that need the API call `install(admin)` once per session. Admission policies and their
parameter are loaded by the API server asynchronously, so `install` probes each policy with a request only
that policy refuses (server-side dry runs, in a namespace of its own) until the refusal comes.
"""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crdgen import policies

from porch_operator import models
from tests.e2e.api import manifests
from tests.e2e.kube import Kubectl, eventually

REPO_ROOT = Path(__file__).resolve().parents[3]
CRDS = REPO_ROOT / "crds"
OPERATOR_USER = policies.DEFAULT_OPERATOR_USERNAME
OPERATOR_GROUP = "porch-operators-e2e"
"""A second way to be the operator: the tests' identity parameter also names this group."""

PROBE_NAMESPACE = "porch-api-probe"

_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
_KINDS = [kind.crd for kind in models.ALL_KINDS]


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _rule(resources: list[str], verbs: list[str]) -> dict[str, Any]:
    groups = sorted({crd.group for crd in _KINDS})
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


AUTHOR_ROLE = "porch-e2e-author"
APPROVER_ROLE = "porch-e2e-approver"
OPERATOR_ROLE = "porch-e2e-operator"


def _roles() -> list[dict[str, Any]]:
    plurals = [crd.plural for crd in _KINDS]
    everything = plurals + [f"{plural}/status" for plural in plurals]
    return [
        # Authors may do anything to the main resources, but neither approve nor write status.
        _cluster_role(AUTHOR_ROLE, [_rule(plurals, _VERBS)]),
        _cluster_role(
            APPROVER_ROLE, [_rule(plurals, _VERBS), _rule(["packagerevisions/approval"], ["update"])]
        ),
        _cluster_role(OPERATOR_ROLE, [_rule(everything, _VERBS)]),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": OPERATOR_ROLE},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": OPERATOR_ROLE,
            },
            # Only the group: the operator's user name is also that of the real ServiceAccount the operator
            # suite runs with, which must have exactly the permissions of config/rbac and no more.
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": OPERATOR_GROUP}],
        },
    ]


def install(admin: Kubectl) -> None:
    """Apply `crds/`, name the tests' operator in the identity parameter, wait until policies are enforced."""
    admin.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    for kind in models.ALL_KINDS:
        admin.run("wait", "--for=condition=Established", f"crd/{kind.crd.name}", "--timeout=60s")
    name_the_operator(admin)
    for doc in _roles():
        admin.apply(doc, "--server-side", "--force-conflicts")
    admin.run("create", "namespace", PROBE_NAMESPACE, check=False)
    _wait_until_enforced(
        admin.in_namespace(PROBE_NAMESPACE),
        admin.as_user(OPERATOR_USER, (OPERATOR_GROUP,)).in_namespace(PROBE_NAMESPACE),
    )


def name_the_operator(admin: Kubectl) -> None:
    """The install-time configuration a user would make: the operator's user name and a group."""
    for doc in policies.operator_identity(username=OPERATOR_USER, groups=f" {OPERATOR_GROUP} ,other-group"):
        admin.apply(doc, "--server-side", "--force-conflicts")


def _refused_now(probe: Callable[[], subprocess.CompletedProcess[str]], message: str) -> bool:
    result = probe()
    return result.returncode != 0 and message in result.stderr


def _wait_until_enforced(admin: Kubectl, operator: Kubectl) -> None:
    """Poll each policy with a dry-run request that only it refuses, until it does."""

    def setup(manifest: dict[str, Any], status: dict[str, Any] | None = None) -> None:
        name = manifest["metadata"]["name"]
        kind = manifest["kind"].lower()
        if not admin.exists(kind, name):
            operator.create(manifest)
        if status is not None:
            operator.run(
                "patch", kind, name, "--subresource=status", "--type=merge", "-p", json.dumps(status)
            )

    gated = manifests.revision(workspace="gated", lifecycle="Proposed", source=None, gates=["probe"])
    published = manifests.revision(workspace="published", lifecycle="Published", source=None)
    proposed_files = manifests.resources(workspace="gated", lifecycle_label="Proposed")
    eventually(lambda: setup(gated) or True, timeout=60, what="the operator may create revisions")
    setup(published)
    setup(proposed_files)
    publish = json.dumps({"spec": {"lifecycle": "Published"}})
    edit = json.dumps({"spec": {"resources": {"Kptfile": "changed"}}})
    probes = {
        "approval": (
            lambda: admin.run(
                "patch",
                "rpkg",
                gated["metadata"]["name"],
                "--type=merge",
                "-p",
                publish,
                "--dry-run=server",
                check=False,
            ),
            "readiness gates without a True condition",
        ),
        "published-deletion": (
            lambda: admin.run(
                "delete", "rpkg", published["metadata"]["name"], "--dry-run=server", check=False
            ),
            "is Published",
        ),
        "origin": (
            lambda: admin.run(
                "create",
                "--dry-run=server",
                "-f",
                "-",
                check=False,
                stdin=json.dumps(manifests.revision(workspace="nosource", source=None)),
            ),
            "only the porch operator creates PackageRevisions without spec.source",
        ),
        "resources-draft-only": (
            lambda: admin.run(
                "patch",
                "prr",
                proposed_files["metadata"]["name"],
                "--type=merge",
                "-p",
                edit,
                "--dry-run=server",
                check=False,
            ),
            "can only change while its PackageRevision is a Draft",
        ),
        "operator-owned": (
            lambda: admin.run(
                "create", "--dry-run=server", "-f", "-", check=False, stdin=json.dumps(manifests.package())
            ),
            "written by the porch operator only",
        ),
    }
    for what, (probe, message) in probes.items():
        eventually(
            functools.partial(_refused_now, probe, message),
            timeout=90,
            interval=0.5,
            what=f"policy {what} is enforced",
        )
