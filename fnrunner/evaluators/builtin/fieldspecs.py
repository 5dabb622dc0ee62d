"""kustomize-style field specs: where labels and annotations live besides `metadata` (selectors, templates).

A spec names the kinds it applies to (None: every kind), a path (`[]` steps into each list item) and whether
a missing map is created. The tables follow kustomize's default commonLabels / commonAnnotations configs,
which set-labels and set-annotations use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WORKLOADS = frozenset({"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"})


@dataclass(frozen=True)
class FieldSpec:
    kinds: frozenset[str] | None
    path: tuple[str, ...]
    create: bool

    def applies_to(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


def _specs(*rows: tuple[frozenset[str] | None, str, bool]) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(kinds, tuple(path.split("/")), create) for kinds, path, create in rows)


LABEL_SPECS = _specs(
    (None, "metadata/labels", True),
    (frozenset({"Service", "ReplicationController"}), "spec/selector", True),
    (WORKLOADS | {"ReplicationController", "Job"}, "spec/template/metadata/labels", True),
    (WORKLOADS, "spec/selector/matchLabels", True),
    (frozenset({"StatefulSet"}), "spec/volumeClaimTemplates/[]/metadata/labels", True),
    (frozenset({"CronJob"}), "spec/jobTemplate/metadata/labels", True),
    (frozenset({"CronJob"}), "spec/jobTemplate/spec/template/metadata/labels", True),
    (frozenset({"CronJob"}), "spec/jobTemplate/spec/selector/matchLabels", False),
    (frozenset({"PodDisruptionBudget"}), "spec/selector/matchLabels", False),
    (frozenset({"NetworkPolicy"}), "spec/podSelector/matchLabels", False),
    (frozenset({"NetworkPolicy"}), "spec/ingress/[]/from/[]/podSelector/matchLabels", False),
    (frozenset({"NetworkPolicy"}), "spec/egress/[]/to/[]/podSelector/matchLabels", False),
)

ANNOTATION_SPECS = _specs(
    (None, "metadata/annotations", True),
    (WORKLOADS | {"ReplicationController", "Job"}, "spec/template/metadata/annotations", True),
    (frozenset({"CronJob"}), "spec/jobTemplate/metadata/annotations", True),
    (frozenset({"CronJob"}), "spec/jobTemplate/spec/template/metadata/annotations", True),
)


def _maps(node: Any, path: tuple[str, ...], create: bool, trail: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not path:
        if isinstance(node, dict):
            yield trail, node
        return
    step, rest = path[0], path[1:]
    if step == "[]":
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _maps(item, rest, create, f"{trail}[{index}]")
        return
    if not isinstance(node, dict):
        return
    child = node.get(step)
    if child is None and create and (not rest or rest[0] != "[]"):
        child = {}
        node[step] = child
    yield from _maps(child, rest, create, f"{trail}.{step}" if trail else step)


def target_maps(obj: dict[str, Any], specs: tuple[FieldSpec, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, mapping) for each place of `obj` the specs name, creating maps where allowed."""
    kind = str(obj.get("kind", ""))
    for spec in specs:
        if spec.applies_to(kind):
            yield from _maps(obj, spec.path, spec.create, "")


def maps_at(obj: dict[str, Any], path: str, *, create: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """Mappings at a user-given slash path (additional fields of SetAnnotations / SetLabels)."""
    yield from _maps(obj, tuple(step for step in path.strip("/").split("/") if step), create, "")
