"""The lifecycle and naming rules shared by the operator and the admission rules."""

from __future__ import annotations

import itertools

import pytest

from porch_operator.engine import lifecycle
from porch_operator.engine.kptfile import Condition
from porch_operator.engine.lifecycle import RevisionInfo
from porch_operator.errors import Conflict, InvalidSpec
from porch_operator.models import Lifecycle

D, P, PUB, DEL = Lifecycle.DRAFT, Lifecycle.PROPOSED, Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED
ALLOWED = {(D, P), (P, D), (P, PUB), (PUB, DEL), (DEL, PUB)}


@pytest.mark.parametrize(("current", "desired"), list(itertools.product(Lifecycle, Lifecycle)))
def test_every_transition(current: Lifecycle, desired: Lifecycle) -> None:
    if current == desired or (current, desired) in ALLOWED:
        lifecycle.check_transition(current, desired)
    else:
        with pytest.raises(Conflict, match=f"from {current.value} to {desired.value}"):
            lifecycle.check_transition(current, desired)


def test_creation_only_as_draft_or_proposed() -> None:
    lifecycle.check_creation_lifecycle(D)
    lifecycle.check_creation_lifecycle(P)
    for value in (PUB, DEL):
        with pytest.raises(InvalidSpec, match=value.value):
            lifecycle.check_creation_lifecycle(value)


def test_publishing_needs_every_readiness_gate_true() -> None:
    gates = ["a.example/Ready", "b.example/Ready"]
    conditions = [
        Condition(type="a.example/Ready", status="True"),
        Condition(type="b.example/Ready", status="False"),
    ]
    with pytest.raises(Conflict, match=r"b\.example/Ready"):
        lifecycle.check_transition(P, PUB, readiness_gates=gates, conditions=conditions)
    assert lifecycle.unmet_readiness_gates(gates, []) == gates
    assert lifecycle.unmet_readiness_gates(gates, [Condition(type="a.example/Ready", status="true")]) == gates
    ready = [Condition(type=g, status="True") for g in gates]
    lifecycle.check_transition(P, PUB, readiness_gates=gates, conditions=ready)
    # gates only matter for publishing
    lifecycle.check_transition(D, P, readiness_gates=gates, conditions=conditions)


def test_next_revision_ignores_placeholders_and_unpublished() -> None:
    revisions = [
        RevisionInfo("r.p.main", PUB, revision=-1, workspace="main"),
        RevisionInfo("r.p.v1", PUB, revision=1, workspace="v1"),
        RevisionInfo("r.p.v3", DEL, revision=3, workspace="v3"),
        RevisionInfo("r.p.ws", D, revision=0, workspace="ws"),
        RevisionInfo("r.p.bogus", P, revision=7, workspace="bogus"),
    ]
    assert lifecycle.next_revision(revisions) == 4
    assert lifecycle.next_revision([]) == 1
    assert lifecycle.next_revision([-1]) == 1
    assert lifecycle.next_revision([2, 5]) == 6


def test_latest_is_the_highest_published_and_labels_mark_exactly_one() -> None:
    revisions = [
        RevisionInfo("r.p.main", PUB, revision=-1, workspace="main"),
        RevisionInfo("r.p.v1", PUB, revision=1),
        RevisionInfo("r.p.v2", DEL, revision=2),
        RevisionInfo("r.p.v3", PUB, revision=3, deleting=True),
        RevisionInfo("r.p.ws", D),
    ]
    latest = lifecycle.latest(revisions)
    assert latest is not None and latest.name == "r.p.v2"
    assert lifecycle.latest_labels(revisions) == {
        "r.p.main": "false",
        "r.p.v1": "false",
        "r.p.v2": "true",
        "r.p.v3": "false",
    }
    assert lifecycle.latest([RevisionInfo("r.p.main", PUB, revision=-1)]) is None


def test_workspace_uniqueness_includes_the_placeholder_branch() -> None:
    lifecycle.check_workspace_unique("ws2", ["ws1", RevisionInfo("x", PUB, workspace="main")])
    with pytest.raises(Conflict, match="'main'"):
        lifecycle.check_workspace_unique(
            "main", [RevisionInfo("r.p.main", PUB, revision=-1, workspace="main")]
        )


def test_placeholders() -> None:
    assert lifecycle.is_placeholder(revision=-1, workspace="main", branch="main")
    assert not lifecycle.is_placeholder(revision=-1, workspace="v4", branch="main")
    assert not lifecycle.is_placeholder(revision=1, workspace="main", branch="main")
    with pytest.raises(InvalidSpec, match=r"placeholder package revision 'r\.p\.main'"):
        lifecycle.check_not_placeholder("r.p.main", placeholder=True, role="clone upstream")
    lifecycle.check_not_placeholder("r.p.v1", placeholder=False, role="clone upstream")


def test_new_packages_cannot_exist_or_nest() -> None:
    lifecycle.check_new_package("net/vpc", ["net/subnet", "vpc", "netx/vpc"], repository="r")
    with pytest.raises(Conflict, match="already exists"):
        lifecycle.check_new_package("net/vpc", ["net/vpc"], repository="r")
    with pytest.raises(Conflict, match="cannot be nested"):
        lifecycle.check_new_package("net", ["net/vpc"], repository="r")
    with pytest.raises(Conflict, match="cannot be nested"):
        lifecycle.check_new_package("net/vpc/a", ["net/vpc"], repository="r")


def test_content_and_deletion_rules() -> None:
    lifecycle.check_content_editable(D)
    for value in (P, PUB, DEL):
        with pytest.raises(Conflict, match="only a Draft"):
            lifecycle.check_content_editable(value)
    lifecycle.check_deletable(D)
    lifecycle.check_deletable(DEL)
    with pytest.raises(Conflict, match="DeletionProposed first"):
        lifecycle.check_deletable(PUB)
    with pytest.raises(Conflict, match=r"r\.down\.ws"):
        lifecycle.check_deletable(D, dependents=["r.down.ws"])


def test_sources_of_copy_and_upgrade() -> None:
    lifecycle.check_copy_source(source_repository="r", source_package="p", repository="r", package="p")
    with pytest.raises(InvalidSpec, match="same package"):
        lifecycle.check_copy_source(source_repository="r", source_package="p", repository="r", package="q")
    lifecycle.check_published_source("r.p.v1", DEL, role="copy source")
    with pytest.raises(Conflict, match="must be published"):
        lifecycle.check_published_source("r.p.ws", D, role="copy source")


def test_names() -> None:
    assert lifecycle.compose_name("blueprints", "net/vpc", "ws1") == "blueprints.net.vpc.ws1"
    assert lifecycle.package_object_name("blueprints", "net/vpc") == "blueprints.net.vpc"
    assert lifecycle.placeholder_name("r", "p", "main") == "r.p.main"
    for repository, package, workspace, bad in [
        ("Repo", "p", "w", "Repository"),
        ("r", "a/b.c", "w", "Package path"),
        ("r", "a//b", "w", "Package path"),
        ("r", "p", "v1.0", "Workspace"),
        ("r", "p", "-w", "Workspace"),
        ("r", "x" * 64, "w", "Package path"),
    ]:
        with pytest.raises(InvalidSpec, match=bad):
            lifecycle.compose_name(repository, package, workspace)
