"""PackageVariant decisions (porch-behaviour §6.2-6.6 without Porch's quirks): validation, upstream
resolution, targets, adoption, naming, up-to-date checks and the revisions a variant creates."""

from __future__ import annotations

from typing import Any

import pytest

from porch_operator.handlers import variantrules as rules

UID = "uid-pv"


def revision(
    repo: str,
    package: str,
    workspace: str,
    *,
    lifecycle: str = "Published",
    number: int = 0,
    owners: list[dict[str, Any]] | None = None,
    lock: str | None = None,
    source: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"revision": number}
    if lock is not None:
        status["upstreamLock"] = {"type": "git", "git": {"repo": "file:///up", "directory": "", "ref": lock}}
    body: dict[str, Any] = {
        "metadata": {
            "name": f"{repo}.{package.replace('/', '.')}.{workspace}",
            "namespace": "ns",
            "uid": f"uid-{repo}-{workspace}",
            "resourceVersion": "1",
            "ownerReferences": owners or [],
            "labels": labels or {},
        },
        "spec": {
            "repository": repo,
            "packageName": package,
            "workspaceName": workspace,
            "lifecycle": lifecycle,
        },
        "status": status,
    }
    if source:
        body["spec"]["source"] = {"cloneFrom": {"upstreamRef": {"name": "x"}}}
    return body


def ours(controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "config.porch.kpt.dev/v1alpha1",
        "kind": "PackageVariant",
        "name": "pv",
        "uid": UID,
        "controller": controller,
    }


def variant(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "pv", "namespace": "ns", "uid": UID},
        "spec": {
            "upstream": {"repo": "up", "package": "base"},
            "downstream": {"repo": "down", "package": "app"},
            **spec,
        },
    }


# --- validation -------------------------------------------------------------------------------------------


def test_valid_spec() -> None:
    assert rules.validate(variant()["spec"]) == []


def test_validation_collects_every_problem() -> None:
    spec = {
        "upstream": {"repo": "up"},
        "downstream": {"package": "app"},
        "adoptionPolicy": "sometimes",
        "deletionPolicy": "never",
        "packageContext": {"data": {"name": "x"}, "removeKeys": ["package-path"]},
        "injectors": [{"kind": "ConfigMap"}],
        "pipeline": {
            "mutators": [{"name": "a.b", "image": "x"}],
            "validators": [{"image": "x", "exec": "y"}],
        },
    }
    problems = rules.validate(spec)
    assert problems == [
        "missing spec.upstream.package",
        "missing spec.downstream.repo",
        "spec.adoptionPolicy 'sometimes' is not adoptNone or adoptExisting",
        "spec.deletionPolicy 'never' is not delete or orphan",
        "spec.packageContext.data may not set 'name'",
        "spec.packageContext.removeKeys may not remove 'package-path'",
        "spec.injectors[0].name is required",
        "spec.pipeline.mutators[0].name must not contain '.'",
        "spec.pipeline.validators[0] needs exactly one of image or exec",
    ]


# --- upstream ---------------------------------------------------------------------------------------------

UPSTREAMS = [
    revision("up", "base", "main", number=-1),
    revision("up", "base", "v1", number=1),
    revision("up", "base", "v2", number=2),
    revision("up", "base", "v3", lifecycle="DeletionProposed", number=3),
    revision("up", "base", "next", lifecycle="Draft"),
    revision("up", "other", "v9", number=9),
]


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        ({}, "up.base.v2"),  # latest Published (DeletionProposed is on its way out)
        ({"revision": 1}, "up.base.v1"),  # honoured, unlike Porch
        ({"revision": 3}, "up.base.v3"),
        ({"revision": 7}, None),
        ({"workspaceName": "next"}, "up.base.next"),
        ({"workspaceName": "v1", "revision": 2}, "up.base.v1"),  # the workspace wins
        ({"workspaceName": "main"}, None),  # placeholders are never upstreams
    ],
)
def test_resolve_upstream(upstream: dict[str, Any], expected: str | None) -> None:
    found = rules.resolve_upstream({"repo": "up", "package": "base", **upstream}, UPSTREAMS)
    assert (found and found["metadata"]["name"]) == expected


def test_describe_upstream() -> None:
    assert (
        rules.describe_upstream({"repo": "r", "package": "p"})
        == "a published revision of package 'p' of repository 'r'"
    )
    assert "revision 3 of" in rules.describe_upstream({"repo": "r", "package": "p", "revision": 3})
    assert "workspace 'w' of" in rules.describe_upstream({"repo": "r", "package": "p", "workspaceName": "w"})


@pytest.mark.parametrize(
    ("lock", "expected"),
    [
        (None, None),
        ("base/v3", 3),
        ("blueprints/base/v12", 12),
        ("drafts/base/ws", -1),
        ("main", -1),
        ("3", 3),
    ],
)
def test_locked_revision(lock: str | None, expected: int | None) -> None:
    assert rules.locked_revision(revision("d", "app", "w", lock=lock)) == expected


def test_up_to_date() -> None:
    assert rules.up_to_date(revision("d", "app", "w"), 2)  # no lock: nothing to compare
    assert rules.up_to_date(revision("d", "app", "w", lock="base/v2"), 2)
    assert not rules.up_to_date(revision("d", "app", "w", lock="base/v1"), 2)


def test_old_upstream() -> None:
    target = revision("down", "app", "packagevariant-1", lock="base/v1")
    current = rules.resolve_upstream({"repo": "up", "package": "base"}, UPSTREAMS)
    assert current is not None
    old = rules.old_upstream(target, current, UPSTREAMS)
    assert old is not None and old["metadata"]["name"] == "up.base.v1"
    assert rules.old_upstream(revision("down", "app", "w", lock="base/v5"), current, UPSTREAMS) is None
    assert rules.old_upstream(revision("down", "app", "w"), current, UPSTREAMS) is None


# --- naming -----------------------------------------------------------------------------------------------


def test_next_workspace() -> None:
    assert rules.next_workspace([]) == "packagevariant-1"
    existing = [
        revision("d", "app", "packagevariant-2"),
        revision("d", "app", "packagevariant-x"),
        revision("d", "app", "v1"),
    ]
    assert rules.next_workspace(existing) == "packagevariant-3"
    assert rules.workspace_number("packagevariant-x") == 0
    assert rules.workspace_number("v1") is None


# --- targets ----------------------------------------------------------------------------------------------


def test_nothing_owned_nothing_targeted() -> None:
    foreign = revision("down", "app", "v1", number=1)
    selection = rules.select(variant(), [foreign])
    assert selection.targets == [] and selection.adopt == [] and selection.release == []


def test_drafts_win_over_published() -> None:
    published = revision("down", "app", "packagevariant-1", number=1, owners=[ours()])
    newer = revision("down", "app", "packagevariant-3", number=3, owners=[ours()])
    draft = revision("down", "app", "packagevariant-4", lifecycle="Proposed", owners=[ours()])
    assert [r["metadata"]["name"] for r in rules.select(variant(), [published, newer, draft]).targets] == [
        "down.app.packagevariant-4"
    ]
    assert [r["metadata"]["name"] for r in rules.select(variant(), [published, newer]).targets] == [
        "down.app.packagevariant-3"
    ]


def test_owned_revisions_elsewhere_are_released() -> None:
    moved = revision("old", "app", "packagevariant-1", number=1, owners=[ours()])
    theirs = revision("old", "app", "packagevariant-2", number=2)
    selection = rules.select(variant(), [], [moved, theirs])
    assert [r["metadata"]["name"] for r in selection.release] == ["old.app.packagevariant-1"]


def test_adoption_takes_only_uncontrolled_revisions() -> None:
    free = revision("down", "app", "v1", number=1)
    controlled = revision("down", "app", "v2", number=2, owners=[{**ours(), "uid": "other"}])
    placeholder = revision("down", "app", "main", number=-1)
    spec = {"adoptionPolicy": "adoptExisting"}
    selection = rules.select(variant(**spec), [free, controlled, placeholder])
    assert [r["metadata"]["name"] for r in selection.adopt] == ["down.app.v1"]
    assert [r["metadata"]["name"] for r in selection.targets] == ["down.app.v1"]
    assert rules.select(variant(), [free]).adopt == []


def test_duplicate_drafts_of_ours_keep_the_lowest_number() -> None:
    first = revision("down", "app", "packagevariant-2", lifecycle="Draft", owners=[ours()], source=True)
    second = revision("down", "app", "packagevariant-3", lifecycle="Draft", owners=[ours()], source=True)
    adopted = revision("down", "app", "edit", lifecycle="Draft", owners=[ours(controller=False)], source=True)
    selection = rules.select(variant(adoptionPolicy="adoptExisting"), [second, first, adopted])
    assert [r["metadata"]["name"] for r in selection.extra] == ["down.app.packagevariant-3"]
    assert sorted(r["metadata"]["name"] for r in selection.targets) == [
        "down.app.edit",
        "down.app.packagevariant-2",
    ]


def test_deleted_revisions_are_ignored() -> None:
    gone = revision("down", "app", "packagevariant-1", lifecycle="Draft", owners=[ours()])
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert rules.select(variant(), [gone]).targets == []


# --- objects ----------------------------------------------------------------------------------------------


def test_new_revision() -> None:
    pv = variant(
        labels={"team": "edge", "argocd.argoproj.io/instance": "apps", "app.kubernetes.io/instance": "x"},
        annotations={"kustomize.toolkit.fluxcd.io/checksum": "1", "note": "hi"},
    )
    upstream = rules.resolve_upstream({"repo": "up", "package": "base"}, UPSTREAMS)
    assert upstream is not None
    body = rules.new_revision(pv, workspace="packagevariant-1", source=rules.clone_source(upstream))
    assert body["metadata"] == {
        "name": "down.app.packagevariant-1",
        "namespace": "ns",
        "labels": {"team": "edge", rules.VARIANT_LABEL: UID},
        "annotations": {"note": "hi"},
        "ownerReferences": [
            {
                "apiVersion": "config.porch.kpt.dev/v1alpha1",
                "kind": "PackageVariant",
                "name": "pv",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ],
    }
    assert body["spec"] == {
        "packageName": "app",
        "repository": "down",
        "workspaceName": "packagevariant-1",
        "lifecycle": "Draft",
        "source": {"cloneFrom": {"upstreamRef": {"name": "up.base.v2"}}},
    }


def test_sources() -> None:
    old, new, current = (revision("a", "b", w) for w in ("v1", "v2", "packagevariant-1"))
    assert rules.upgrade_source(old=old, new=new, current=current) == {
        "upgrade": {
            "oldUpstream": {"name": "a.b.v1"},
            "newUpstream": {"name": "a.b.v2"},
            "currentPackage": {"name": "a.b.packagevariant-1"},
            "strategy": "resource-merge",
        }
    }
    assert rules.copy_source(current) == {"copyFrom": {"name": "a.b.packagevariant-1"}}


def test_metadata_patch_adds_and_never_removes() -> None:
    pv = variant(labels={"team": "edge"})
    target = revision("down", "app", "v1", owners=[ours()], labels={"keep": "me", rules.VARIANT_LABEL: UID})
    assert rules.metadata_patch(pv, target, adopt=False) == {
        "labels": {"keep": "me", rules.VARIANT_LABEL: UID, "team": "edge"}
    }
    target["metadata"]["labels"]["team"] = "edge"
    assert rules.metadata_patch(pv, target, adopt=False) is None
    repository_owned = revision(
        "down", "app", "v1", owners=[{"kind": "Repository", "uid": "r", "controller": True}]
    )
    adopted = rules.metadata_patch(pv, repository_owned, adopt=True)
    assert adopted is not None
    assert adopted["ownerReferences"][-1]["controller"] is False  # the Repository stays the controller


def test_released_metadata() -> None:
    target = revision(
        "down", "app", "v1", owners=[ours(), {"uid": "other"}], labels={rules.VARIANT_LABEL: UID, "a": "b"}
    )
    assert rules.released_metadata(UID, target) == {
        "ownerReferences": [{"uid": "other"}],
        "labels": {"a": "b"},
    }


def test_gitops_tracking_is_never_copied() -> None:
    assert rules.without_gitops_tracking(
        {
            "argocd.argoproj.io/tracking-id": "x",
            "app.kubernetes.io/instance": "y",
            "kustomize.toolkit.fluxcd.io/name": "z",
            "app.kubernetes.io/name": "kept",
        }
    ) == {"app.kubernetes.io/name": "kept"}
    assert rules.without_gitops_tracking(None) == {}


def test_operator_keys_are_never_copied() -> None:
    pv = variant(labels={"porch.kpt.dev/latest-revision": "true", rules.VARIANT_LABEL: "forged", "team": "a"})
    body = rules.new_revision(pv, workspace="packagevariant-1", source={"init": {}})
    assert body["metadata"]["labels"] == {"team": "a", rules.VARIANT_LABEL: UID}
