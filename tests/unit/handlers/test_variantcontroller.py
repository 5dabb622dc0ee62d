"""Which watch events make which variants and sets reconcile (the routing, not the reconciles)."""

from __future__ import annotations

from typing import Any

from porch_operator.handlers.variantcontroller import VARIANT, VARIANT_SET, VariantController
from porch_operator.handlers.workqueue import Key


def controller() -> VariantController:
    return VariantController(client=None, resync_interval=300)  # type: ignore[arg-type]  # never reconciles here


def pending(ctl: VariantController) -> set[Key]:
    keys = set()
    while True:
        item = ctl.queue._pop_due(float("inf"))
        if item is None:
            return keys
        keys.add(item.key)


def variant(
    name: str, *, generation: int = 1, observed: int | None = 1, owner_set: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "generation": generation}
    if owner_set:
        meta["ownerReferences"] = [
            {"apiVersion": "config.porch.kpt.dev/v1alpha2", "kind": "PackageVariantSet", "name": owner_set}
        ]
    return {
        "metadata": meta,
        "spec": {
            "upstream": {"repo": "up", "package": "base"},
            "downstream": {"repo": "down", "package": name},
        },
        "status": {"observedGeneration": observed} if observed else {},
    }


def revision(
    repo: str,
    package: str,
    workspace: str,
    *,
    lifecycle: str = "Draft",
    number: int = 0,
    owner: str | None = None,
    ready: str = "False",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"{repo}.{package}.{workspace}", "namespace": "ns"}
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "config.porch.kpt.dev/v1alpha1", "kind": "PackageVariant", "name": owner}
        ]
    return {
        "metadata": meta,
        "spec": {
            "repository": repo,
            "packageName": package,
            "workspaceName": workspace,
            "lifecycle": lifecycle,
        },
        "status": {"revision": number, "conditions": [{"type": "Ready", "status": ready, "reason": "R"}]},
    }


def key(kind: str, name: str) -> Key:
    return Key(kind, f"ns/{name}")


def test_variants_reconcile_on_listing_new_generations_and_deletion_only() -> None:
    ctl = controller()
    ctl.on_variant({"type": None, "object": variant("a")})
    assert pending(ctl) == {key(VARIANT, "a")}
    ctl.on_variant({"type": "MODIFIED", "object": variant("a")})  # our own status write
    assert pending(ctl) == set()
    ctl.on_variant({"type": "MODIFIED", "object": variant("a", generation=2)})
    assert pending(ctl) == {key(VARIANT, "a")}


def test_generated_variants_changed_or_deleted_wake_their_set() -> None:
    ctl = controller()
    ctl.on_variant({"type": None, "object": variant("a", owner_set="fleet")})
    assert pending(ctl) == {key(VARIANT, "a")}
    ctl.on_variant({"type": "MODIFIED", "object": variant("a", owner_set="fleet")})
    assert pending(ctl) == set()
    ctl.on_variant({"type": "MODIFIED", "object": variant("a", generation=2, owner_set="fleet")})
    assert pending(ctl) == {key(VARIANT, "a"), key(VARIANT_SET, "fleet")}
    ctl.on_variant({"type": "DELETED", "object": variant("a", generation=2, owner_set="fleet")})
    assert pending(ctl) == {key(VARIANT_SET, "fleet")}


def test_revisions_wake_owners_and_upstream_users_when_it_matters() -> None:
    ctl = controller()
    ctl.on_variant({"type": None, "object": variant("a")})
    ctl.on_variant({"type": None, "object": variant("b")})
    ctl.on_variant_set(
        {
            "type": None,
            "object": {**variant("fleet"), "spec": {"upstream": {"repo": "up", "package": "base"}}},
        }
    )
    pending(ctl)
    draft = revision("down", "a", "packagevariant-1", owner="a")
    ctl.on_revision({"type": "ADDED", "object": draft})
    assert pending(ctl) == {key(VARIANT, "a")}  # and the variant whose downstream it is (the same)
    ctl.on_revision({"type": "MODIFIED", "object": draft})
    assert pending(ctl) == set()  # nothing a variant reacts to changed
    ctl.on_revision(
        {"type": "MODIFIED", "object": revision("down", "a", "packagevariant-1", owner="a", ready="True")}
    )
    assert pending(ctl) == {key(VARIANT, "a")}
    # An upstream draft moving along bothers nobody but its first sighting; its publication wakes every user.
    upstream = revision("up", "base", "v2")
    ctl.on_revision({"type": "ADDED", "object": upstream})
    assert pending(ctl) == {key(VARIANT, "a"), key(VARIANT, "b"), key(VARIANT_SET, "fleet")}
    ctl.on_revision({"type": "MODIFIED", "object": revision("up", "base", "v2", ready="True")})
    assert pending(ctl) == set()
    ctl.on_revision(
        {"type": "MODIFIED", "object": revision("up", "base", "v2", lifecycle="Published", number=2)}
    )
    assert pending(ctl) == {key(VARIANT, "a"), key(VARIANT, "b"), key(VARIANT_SET, "fleet")}


def test_rendered_resources_wake_the_owner_of_their_revision() -> None:
    ctl = controller()
    ctl.on_revision({"type": "ADDED", "object": revision("down", "a", "packagevariant-1", owner="a")})
    pending(ctl)
    resources: dict[str, Any] = {
        "metadata": {"name": "down.a.packagevariant-1", "namespace": "ns", "generation": 2},
        "status": {"observedGeneration": 1},
    }
    ctl.on_resources({"type": "MODIFIED", "object": resources})
    assert pending(ctl) == set()  # still rendering
    resources["status"]["observedGeneration"] = 2
    ctl.on_resources({"type": "MODIFIED", "object": resources})
    assert pending(ctl) == {key(VARIANT, "a")}
    ctl.on_resources({"type": "MODIFIED", "object": resources})
    assert pending(ctl) == set()


def test_repository_labels_wake_the_sets_of_their_namespace() -> None:
    ctl = controller()
    ctl.on_variant_set(
        {
            "type": None,
            "object": {**variant("fleet"), "spec": {"upstream": {"repo": "up", "package": "base"}}},
        }
    )
    pending(ctl)
    repository = {"metadata": {"name": "edge1", "namespace": "ns", "labels": {"region": "eu"}}}
    ctl.on_repository({"type": "ADDED", "object": repository})
    assert pending(ctl) == {key(VARIANT_SET, "fleet")}
    ctl.on_repository({"type": "MODIFIED", "object": repository})  # a status write
    assert pending(ctl) == set()
    ctl.on_repository({"type": "MODIFIED", "object": {"metadata": {**repository["metadata"], "labels": {}}}})
    assert pending(ctl) == {key(VARIANT_SET, "fleet")}
    ctl.on_repository({"type": "DELETED", "object": repository})
    assert pending(ctl) == {key(VARIANT_SET, "fleet")}
