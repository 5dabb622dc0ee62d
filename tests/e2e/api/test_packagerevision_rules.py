"""The CEL rules of the PackageRevision CRD, against the real API server: each is accepted where it should be
and refuses, with its message, what it should.

The operator identity sets up revisions in any lifecycle and without a source (as it does for revisions found
in git); `admin` passes every RBAC and authorizer check but is not the operator, so the admission policies
leave alone what these cases do, and only the CRD rule under test decides.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.e2e.api import cases, manifests
from tests.e2e.api.cases import Case, create, json_patch, patch, status
from tests.e2e.api.conftest import Actors

R = manifests.revision
NAME = "repo.pkg.ws"
TARGET = f"rpkg/{NAME}"
LIFECYCLES = ["Draft", "Proposed", "Published", "DeletionProposed"]
ALLOWED = {
    ("Draft", "Proposed"),
    ("Proposed", "Draft"),
    ("Proposed", "Published"),
    ("Published", "DeletionProposed"),
    ("DeletionProposed", "Published"),
}
IMMUTABLE = "is immutable"
FROZEN = "is frozen: only spec.lifecycle may change"


def draft(**fields: Any) -> cases.Act:
    """A revision a user creates (with a source)."""
    return create("admin", R(**fields))


def discovered(lifecycle: str, **fields: Any) -> cases.Act:
    """A revision the operator found in git: any lifecycle, no source."""
    return create("operator", R(lifecycle=lifecycle, source=None, **fields))


NAME_RULE = [
    Case("canonical name", draft()),
    Case("nested package path becomes dots", draft(package="a/b/pkg", name="repo.a.b.pkg.ws")),
    Case("another name", draft(name="my-revision"), refused="metadata.name must be repo.pkg.ws"),
    Case(
        "package path not dotted",
        draft(package="a/b/pkg", name="repo.pkg.ws"),
        refused="metadata.name must be repo.a.b.pkg.ws",
    ),
    Case(
        "name of a discovered revision",
        discovered("Published", name="other"),
        refused="metadata.name must be",
    ),
]

IMMUTABLES = [
    Case(
        f"{field} immutable",
        patch("admin", TARGET, {"spec": {field: value}}),
        refused=f"spec.{field} {IMMUTABLE}",
        setup=(draft(),),
    )
    for field, value in [("repository", "other"), ("packageName", "other"), ("workspaceName", "other")]
] + [
    Case(
        "other spec fields may change",
        patch("admin", TARGET, {"spec": {"lifecycle": "Proposed"}}),
        setup=(draft(),),
    ),
]

SOURCE = [
    Case(
        "source changed",
        patch("admin", TARGET, {"spec": {"source": {"init": {"description": "changed"}}}}),
        refused=f"spec.source {IMMUTABLE}",
        setup=(draft(),),
    ),
    Case(
        "source removed",
        json_patch("admin", TARGET, [{"op": "remove", "path": "/spec/source"}]),
        refused=f"spec.source {IMMUTABLE}",
        setup=(draft(),),
    ),
    Case(
        "source added later",
        patch("admin", TARGET, {"spec": {"source": manifests.INIT}}),
        refused=f"spec.source {IMMUTABLE}",
        setup=(discovered("Draft"),),
    ),
    Case(
        "source unchanged while the rest changes",
        patch("admin", TARGET, {"spec": {"readinessGates": [{"conditionType": "x"}]}}),
        setup=(draft(),),
    ),
    Case(
        "two source kinds",
        draft(source={"init": {}, "copyFrom": {"name": "repo.pkg.v1"}}),
        refused="spec.source needs exactly one of init, cloneFrom, copyFrom or upgrade",
    ),
    Case("no source kind", draft(source={}), refused="spec.source needs exactly one of"),
    Case("init", draft(source={"init": {"description": "d", "keywords": ["k"], "site": "https://x"}})),
    Case("cloneFrom a revision", draft(source={"cloneFrom": {"upstreamRef": {"name": "up.pkg.v1"}}})),
    Case(
        "cloneFrom git",
        draft(
            source={"cloneFrom": {"type": "git", "git": {"repo": "https://example.com/r.git", "ref": "main"}}}
        ),
    ),
    Case("copyFrom", draft(source={"copyFrom": {"name": "repo.pkg.v1"}})),
    Case(
        "upgrade",
        draft(
            source={
                "upgrade": {
                    "oldUpstream": {"name": "up.pkg.v1"},
                    "newUpstream": {"name": "up.pkg.v2"},
                    "currentPackage": {"name": "repo.pkg.v1"},
                    "strategy": "fast-forward",
                }
            }
        ),
    ),
    Case(
        "cloneFrom both git and upstreamRef",
        draft(
            source={
                "cloneFrom": {
                    "git": {"repo": "https://example.com/r.git", "ref": "main"},
                    "upstreamRef": {"name": "up.pkg.v1"},
                }
            }
        ),
        refused="spec.source.cloneFrom needs exactly one of git or upstreamRef",
    ),
    Case(
        "cloneFrom neither git nor upstreamRef",
        draft(source={"cloneFrom": {"type": "git"}}),
        refused="spec.source.cloneFrom needs exactly one of git or upstreamRef",
    ),
]

CREATION = [
    Case("created Proposed from a source", draft(lifecycle="Proposed")),
    Case("created with the default lifecycle", draft(lifecycle=None)),
    *(
        Case(
            f"created {lifecycle} from a source, even by the operator",
            create("operator", R(lifecycle=lifecycle)),
            refused=f"created from spec.source must start as Draft or Proposed, not {lifecycle}",
        )
        for lifecycle in ["Published", "DeletionProposed"]
    ),
    Case("discovered Published without a source", discovered("Published")),
    Case(
        "dotted workspace for a new revision",
        draft(workspace="v1.0", name="repo.pkg.v1.0"),
        refused="spec.workspaceName of a new revision must be a DNS label",
    ),
    Case(
        "dotted workspace of a discovered tag",
        discovered("Published", workspace="v1.0", name="repo.pkg.v1.0"),
    ),
]

TRANSITIONS = [
    Case(
        f"{old} to {new}",
        patch("admin", TARGET, {"spec": {"lifecycle": new}}),
        refused=None
        if old == new or (old, new) in ALLOWED
        else f"spec.lifecycle cannot change from {old} to {new}",
        setup=(discovered(old),),
    )
    for old, new in itertools.product(LIFECYCLES, repeat=2)
]

FROZEN_SPEC = [
    Case(
        "Published readinessGates",
        patch("admin", TARGET, {"spec": {"readinessGates": [{"conditionType": "b"}]}}),
        refused=FROZEN,
        setup=(discovered("Published", gates=["a"]),),
    ),
    Case(
        "Published packageMetadata",
        patch("admin", TARGET, {"spec": {"packageMetadata": {"labels": {"x": "y"}}}}),
        refused=FROZEN,
        setup=(discovered("Published"),),
    ),
    Case(
        "DeletionProposed readinessGates",
        json_patch("admin", TARGET, [{"op": "remove", "path": "/spec/readinessGates"}]),
        refused=FROZEN,
        setup=(discovered("DeletionProposed", gates=["a"]),),
    ),
    Case(
        "Published lifecycle",
        patch("admin", TARGET, {"spec": {"lifecycle": "DeletionProposed"}}),
        setup=(discovered("Published", gates=["a"]),),
    ),
    Case(
        "the branch placeholder (revision -1) follows its branch",
        patch("admin", TARGET, {"spec": {"readinessGates": [{"conditionType": "b"}]}}),
        setup=(
            discovered("Published", gates=["a"]),
            status("operator", TARGET, {"status": {"revision": -1}}),
        ),
    ),
    Case(
        "Draft readinessGates",
        patch("admin", TARGET, {"spec": {"readinessGates": [{"conditionType": "b"}]}}),
        setup=(discovered("Draft", gates=["a"]),),
    ),
]


@pytest.mark.parametrize("case", cases.params(NAME_RULE))
def test_name_rule(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(IMMUTABLES))
def test_identity_is_immutable(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(SOURCE))
def test_source(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(CREATION))
def test_creation(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(TRANSITIONS))
def test_lifecycle_transitions(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


@pytest.mark.parametrize("case", cases.params(FROZEN_SPEC))
def test_published_spec_is_frozen(case: Case, actors: Actors) -> None:
    cases.check(case, actors)


def test_defaults(actors: Actors) -> None:
    actors.admin.create(
        R(
            lifecycle=None,
            source={"upgrade": {n: {"name": "x"} for n in ("oldUpstream", "newUpstream", "currentPackage")}},
        )
    )
    spec = actors.admin.get("rpkg", NAME)["spec"]
    assert spec["lifecycle"] == "Draft"
    assert spec["source"]["upgrade"]["strategy"] == "resource-merge"
