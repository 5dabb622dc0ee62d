"""The admission policies shipped in `crds/`, against the real API server: approval by permission and
readiness gates, no deletion of Published revisions, the operator's privileges (revisions without a source,
the latest-revision label, Packages, status), and resources editable only while their revision is a Draft.

Identities: `author` may change porch objects but not approve; `approver` may also update
`packagerevisions/approval`; `operator` is the identity the policies' parameter names; `admin` passes RBAC
and every authorizer check but is not the operator.
"""

from __future__ import annotations

import pytest

from porch_operator import models
from tests.e2e.api import cases, install, manifests
from tests.e2e.api.cases import Case, create, delete, json_patch, patch, status
from tests.e2e.api.conftest import Actors
from tests.e2e.kube import Kubectl

R = manifests.revision
REVISION = "rpkg/repo.pkg.ws"
RESOURCES = "prr/repo.pkg.ws"
PUBLISH = {"spec": {"lifecycle": "Published"}}
LATEST = models.LATEST_REVISION_LABEL
LIFECYCLE = models.LIFECYCLE_LABEL
NOT_APPROVER = "only approvers may publish a PackageRevision: alice may not update packagerevisions/approval"
GATES = "readiness gates without a True condition in status.packageConditions"


def proposed(gates: list[str] | None = None) -> cases.Act:
    return create("operator", R(lifecycle="Proposed", source=None, gates=gates))


def conditions(**statuses: str) -> cases.Act:
    items = [{"type": gate, "status": value} for gate, value in statuses.items()]
    return status("operator", REVISION, {"status": {"packageConditions": items}})


APPROVAL = [
    Case("author publishes", patch("author", REVISION, PUBLISH), refused=NOT_APPROVER, setup=(proposed(),)),
    Case("approver publishes", patch("approver", REVISION, PUBLISH), setup=(proposed(),)),
    Case(
        "author rejects a proposal",
        patch("author", REVISION, {"spec": {"lifecycle": "Draft"}}),
        setup=(proposed(),),
    ),
    Case(
        "author proposes deletion",
        patch("author", REVISION, {"spec": {"lifecycle": "DeletionProposed"}}),
        setup=(create("operator", R(lifecycle="Published", source=None)),),
    ),
    Case(
        "author restores a revision proposed for deletion",
        patch("author", REVISION, PUBLISH),
        setup=(create("operator", R(lifecycle="DeletionProposed", source=None)),),
    ),
    Case(
        "author creates a user revision as Proposed",
        create("author", R(lifecycle="Proposed")),
    ),
    Case(
        "gate whose condition is False",
        patch("approver", REVISION, PUBLISH),
        refused=f"{GATES}: gate-b",
        setup=(proposed(["gate-a", "gate-b"]), conditions(**{"gate-a": "True", "gate-b": "False"})),
    ),
    Case(
        "gates without conditions",
        patch("approver", REVISION, PUBLISH),
        refused=f"{GATES}: gate-a, gate-b",
        setup=(proposed(["gate-a", "gate-b"]),),
    ),
    Case(
        "every gate True",
        patch("approver", REVISION, PUBLISH),
        setup=(
            proposed(["gate-a", "gate-b"]),
            conditions(**{"gate-a": "True", "gate-b": "True", "other": "False"}),
        ),
    ),
    Case(
        "the operator publishes what git says is published",
        patch("operator", REVISION, PUBLISH),
        setup=(proposed(["gate-a"]),),
    ),
]

DELETION = [
    Case(
        "Published",
        delete("admin", REVISION),
        refused="repo.pkg.ws is Published: set spec.lifecycle to DeletionProposed before deleting it",
        setup=(create("operator", R(lifecycle="Published", source=None)),),
    ),
    *(
        Case(
            lifecycle,
            delete("author", REVISION),
            setup=(create("operator", R(lifecycle=lifecycle, source=None)),),
        )
        for lifecycle in ("Draft", "Proposed", "DeletionProposed")
    ),
    Case(
        "Published, by the operator (its tag is gone from git)",
        delete("operator", REVISION),
        setup=(create("operator", R(lifecycle="Published", source=None)),),
    ),
]

NO_SOURCE = "only the porch operator creates PackageRevisions without spec.source"
LATEST_MESSAGE = f"the label {LATEST} is maintained by the porch operator"
ORIGIN = [
    Case("author creates without a source", create("author", R(source=None)), refused=NO_SOURCE),
    Case(
        "admin creates without a source",
        create("admin", R(lifecycle="Published", source=None)),
        refused=NO_SOURCE,
    ),
    Case("operator creates without a source", create("operator", R(lifecycle="Published", source=None))),
    Case("author creates with a source", create("author", R())),
    Case(
        "author sets the latest label", create("author", R(labels={LATEST: "true"})), refused=LATEST_MESSAGE
    ),
    Case(
        "author changes the latest label",
        patch("author", REVISION, {"metadata": {"labels": {LATEST: "true"}}}),
        refused=LATEST_MESSAGE,
        setup=(create("operator", R(lifecycle="Published", source=None, labels={LATEST: "false"})),),
    ),
    Case(
        "author removes the latest label",
        json_patch("author", REVISION, [{"op": "remove", "path": "/metadata/labels"}]),
        refused=LATEST_MESSAGE,
        setup=(create("operator", R(lifecycle="Published", source=None, labels={LATEST: "true"})),),
    ),
    Case(
        "author changes other labels",
        patch("author", REVISION, {"metadata": {"labels": {"team": "a"}}}),
        setup=(create("operator", R(lifecycle="Published", source=None, labels={LATEST: "true"})),),
    ),
    Case(
        "operator moves the latest label",
        patch("operator", REVISION, {"metadata": {"labels": {LATEST: "false"}}}),
        setup=(create("operator", R(lifecycle="Published", source=None, labels={LATEST: "true"})),),
    ),
]

LABEL_MESSAGE = f"the label {LIFECYCLE} is maintained by the porch operator"
DRAFT_ONLY = "the resources of repo.pkg.ws can only change while its PackageRevision is a Draft; it is"
EDIT = {"spec": {"resources": {"Kptfile": manifests.KPTFILE, "cm.yaml": "kind: ConfigMap\n"}}}


def files(lifecycle: str | None) -> cases.Act:
    return create("operator", manifests.resources(lifecycle_label=lifecycle))


RESOURCES_CASES = [
    Case("author edits a Draft", patch("author", RESOURCES, EDIT), setup=(files("Draft"),)),
    *(
        Case(
            f"author edits a {lifecycle}",
            patch("author", RESOURCES, EDIT),
            refused=f"{DRAFT_ONLY} {lifecycle}",
            setup=(files(lifecycle),),
        )
        for lifecycle in ("Proposed", "Published", "DeletionProposed")
    ),
    Case(
        "author edits before the operator labelled it",
        patch("author", RESOURCES, EDIT),
        refused=f"{DRAFT_ONLY} not known yet",
        setup=(files(None),),
    ),
    Case(
        "author labels a Proposed one (spec unchanged)",
        patch("author", RESOURCES, {"metadata": {"labels": {"team": "a"}}}),
        setup=(files("Proposed"),),
    ),
    Case(
        "author changes the lifecycle label",
        patch("author", RESOURCES, {"metadata": {"labels": {LIFECYCLE: "Published"}}}),
        refused=LABEL_MESSAGE,
        setup=(files("Draft"),),
    ),
    Case(
        "author removes the lifecycle label",
        json_patch("author", RESOURCES, [{"op": "remove", "path": "/metadata/labels"}]),
        refused=LABEL_MESSAGE,
        setup=(files("Draft"),),
    ),
    Case(
        "author creates with the lifecycle label",
        create("author", manifests.resources(lifecycle_label="Draft")),
        refused=LABEL_MESSAGE,
    ),
    Case(
        "operator mirrors a new lifecycle",
        patch("operator", RESOURCES, {"metadata": {"labels": {LIFECYCLE: "Proposed"}}}),
        setup=(files("Draft"),),
    ),
    Case(
        "operator writes rendered files of a Published one",
        patch("operator", RESOURCES, EDIT),
        setup=(files("Published"),),
    ),
]

OWNED = "written by the porch operator only"
OPERATOR_OWNED = [
    Case(
        "author creates a Package",
        create("author", manifests.package()),
        refused=f"Package objects are {OWNED}",
    ),
    Case("operator creates a Package", create("operator", manifests.package())),
    Case(
        "author changes a Package",
        patch("author", "porchpkg/repo.pkg", {"metadata": {"labels": {"a": "b"}}}),
        refused=f"Package objects are {OWNED}",
        setup=(create("operator", manifests.package()),),
    ),
    Case(
        "admin writes revision status",
        status("admin", REVISION, {"status": {"packageConditions": [{"type": "gate", "status": "True"}]}}),
        refused=f"the status of PackageRevision objects is {OWNED}",
        setup=(create("admin", R()),),
    ),
    Case(
        "admin writes resources status",
        status("admin", RESOURCES, {"status": {"observedGeneration": 1}}),
        refused=f"the status of PackageRevisionResources objects is {OWNED}",
        setup=(files("Draft"),),
    ),
    Case(
        "admin writes package status",
        status("admin", "porchpkg/repo.pkg", {"status": {"latestRevision": 3}}),
        refused=f"the status of Package objects is {OWNED}",
        setup=(create("operator", manifests.package()),),
    ),
    Case(
        "operator writes revision status",
        status("operator", REVISION, {"status": {"revision": 0, "observedGeneration": 1}}),
        setup=(create("admin", R()),),
    ),
    Case(
        "operator writes package status",
        status("operator", "porchpkg/repo.pkg", {"status": {"latestRevision": 3}}),
        setup=(create("operator", manifests.package()),),
    ),
]


@pytest.mark.parametrize("case", cases.params(APPROVAL))
def test_approval(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(DELETION))
def test_published_deletion(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(ORIGIN))
def test_revision_origin(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(RESOURCES_CASES))
def test_resources_are_editable_only_as_a_draft(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(OPERATOR_OWNED))
def test_operator_owned(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


def test_the_operator_can_be_named_by_group(actors: Actors, namespace: str) -> None:
    # The tests' identity parameter names the group " porch-operators-e2e " (spaces trimmed) besides the user.
    robot = actors.admin.as_user("robot", (install.OPERATOR_GROUP,))
    stranger = actors.admin.as_user("robot-2", ("other-team",))
    bind = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "stranger"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": install.OPERATOR_ROLE,
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "robot-2"}],
    }
    actors.admin.create(bind)
    refused = stranger.create(R(lifecycle="Published", source=None), check=False)
    assert refused.returncode != 0 and NO_SOURCE in refused.stderr
    robot.create(R(lifecycle="Published", source=None))
    assert actors.admin.get("rpkg", "repo.pkg.ws")["spec"]["lifecycle"] == "Published"


def test_approval_needs_the_permission_in_that_namespace(actors: Actors, admin: Kubectl) -> None:
    # An approver elsewhere is an author here: the authorizer check is scoped to the revision's namespace.
    other = f"{actors.admin.namespace}-other"
    admin.run("create", "namespace", other)
    try:
        admin.in_namespace(other).create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "carol-approves-there"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": install.APPROVER_ROLE,
                },
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}],
            }
        )
        actors.admin.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "carol-authors-here"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": install.AUTHOR_ROLE,
                },
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}],
            }
        )
        actors.operator.create(R(lifecycle="Proposed", source=None))
        carol = actors.admin.as_user("carol")
        refused = carol.run(
            "patch", REVISION, "--type=merge", "-p", '{"spec":{"lifecycle":"Published"}}', check=False
        )
        assert refused.returncode != 0
        assert (
            "carol may not update packagerevisions/approval in namespace " + str(actors.admin.namespace)
            in refused.stderr
        )
    finally:
        admin.run("delete", "namespace", other, "--wait=false", check=False)
