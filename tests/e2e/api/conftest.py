"""Fixtures of the API suite: `crds/` installed once per session, and the four identities a test acts as.

`actors` gives, in the test's namespace: `admin` (system:masters: passes RBAC and every authorizer check, but
is not the operator), `operator` (the identity named by the admission policies' parameter), `author` (may
create and change porch objects, may not approve) and `approver` (an author who may also update
`packagerevisions/approval`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.e2e.api import install
from tests.e2e.kube import Kubectl

AUTHOR = "alice"
APPROVER = "bob"


@dataclass(frozen=True)
class Actors:
    admin: Kubectl
    operator: Kubectl
    author: Kubectl
    approver: Kubectl

    def by_name(self, who: str) -> Kubectl:
        return getattr(self, who)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def porch_api(admin: Kubectl) -> None:
    install.install(admin)


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
def actors(porch_api: None, kubectl: Kubectl) -> Actors:
    _bind(kubectl, install.AUTHOR_ROLE, AUTHOR)
    _bind(kubectl, install.APPROVER_ROLE, APPROVER)
    return Actors(
        admin=kubectl,
        operator=kubectl.as_user(install.OPERATOR_USER, (install.OPERATOR_GROUP,)),
        author=kubectl.as_user(AUTHOR, ("authors",)),
        approver=kubectl.as_user(APPROVER, ("approvers",)),
    )
