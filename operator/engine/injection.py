"""Config injection: in-cluster objects copied into the package's injection points (Porch's semantics).

An *injection point* is a resource of the package annotated `kpt.dev/config-injection: required` or
`optional`. A PackageVariant lists injectors (optional group, version and kind, and a name); the first
injector that applies to a point (its group, version and kind, where given, match the point's) and names an
in-cluster object of the point's kind wins, and that object's `data` (a core ConfigMap) or `spec` (anything
else) replaces the point's, which is then annotated `kpt.dev/injected-resource: <name>`.

Every point gets a condition `config.injection.<Kind>.<name>` in the Kptfile's `status.conditions` (True /
`ConfigInjected`, or False / `NoResourceSelected` with the reasons), and required points are added to the
Kptfile's readiness gates, so the revision cannot be published before its configuration is there.

The module is pure: `find_points` reads the points out of a package, the caller looks the candidates up in
the cluster (`Candidate`), and `inject` writes the outcome into the package. Files are rewritten only when
their content changes as data, so injecting the same objects twice changes nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from porch_operator.engine import documents, metadata
from porch_operator.engine.kptfile import Condition, Kptfile
from porch_operator.engine.resources import KPTFILE, PackageResources
from porch_operator.engine.variants import plain
from porch_operator.errors import InvalidSpec

ANNOTATION: Final = "kpt.dev/config-injection"
INJECTED_ANNOTATION: Final = "kpt.dev/injected-resource"
CONDITION_PREFIX: Final = "config.injection."
_RESOURCE_FILES: Final = ("*.yaml", "*.yml", "*.json", KPTFILE)


@dataclass(frozen=True)
class InjectionPoint:
    """A resource of the package that wants configuration from the cluster."""

    path: str
    index: int
    api_version: str
    kind: str
    name: str
    required: bool

    @property
    def condition_type(self) -> str:
        return f"{CONDITION_PREFIX}{self.kind}.{self.name}"

    @property
    def group(self) -> str:
        return self.api_version.rsplit("/", 1)[0] if "/" in self.api_version else ""

    @property
    def version(self) -> str:
        return self.api_version.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Injector:
    """One entry of a PackageVariant's `spec.injectors`."""

    name: str
    group: str | None = None
    version: str | None = None
    kind: str | None = None

    def applies_to(self, point: InjectionPoint) -> bool:
        return (
            (self.group is None or self.group == point.group)
            and (self.version is None or self.version == point.version)
            and (self.kind is None or self.kind == point.kind)
        )


@dataclass(frozen=True)
class Candidate:
    """What the cluster gave for one point: the object chosen (a raw body), or why none was."""

    body: Mapping[str, Any] | None = None
    errors: tuple[str, ...] = field(default_factory=tuple)


def _is_resource_file(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(base, pattern) for pattern in _RESOURCE_FILES)


def find_points(package: PackageResources) -> list[InjectionPoint]:
    """Every injection point of the package, in path order; `InvalidSpec` for a bad annotation value or two
    points with the same condition type."""
    points: list[InjectionPoint] = []
    problems: list[str] = []
    for path, text in package.items():
        if not _is_resource_file(path) or ANNOTATION not in text:
            continue
        for index, doc in enumerate(documents.parse_documents(text, path=path)):
            point = _point(path, index, doc.node, problems)
            if point is not None:
                points.append(point)
    seen: dict[str, InjectionPoint] = {}
    for point in points:
        other = seen.setdefault(point.condition_type, point)
        if other is not point:
            problems.append(
                f"duplicate injection condition type {point.condition_type!r} ({other.path} and {point.path})"
            )
    if problems:
        raise InvalidSpec("Invalid injection points: " + "; ".join(problems) + ".")
    return points


def _point(path: str, index: int, node: Any, problems: list[str]) -> InjectionPoint | None:
    if not isinstance(node, dict) or not isinstance(node.get("metadata"), dict):
        return None
    annotations = node["metadata"].get("annotations")
    if not isinstance(annotations, dict) or ANNOTATION not in annotations:
        return None
    value = str(documents.plain_value(annotations[ANNOTATION]))
    kind, name = str(node.get("kind") or ""), str(node["metadata"].get("name") or "")
    if value not in ("required", "optional"):
        problems.append(f"{path}: {kind}/{name} has {ANNOTATION}: {value!r}; use 'required' or 'optional'")
        return None
    return InjectionPoint(
        path=path,
        index=index,
        api_version=str(node.get("apiVersion") or ""),
        kind=kind,
        name=name,
        required=value == "required",
    )


def injected_field(api_version: str, kind: str) -> str:
    """The field copied from an in-cluster object: `data` of a core ConfigMap, else `spec`."""
    return "data" if (api_version == "v1" and kind == "ConfigMap") else "spec"


def inject(
    package: PackageResources,
    points: Sequence[InjectionPoint],
    candidates: Mapping[str, Candidate],
) -> PackageResources:
    """Write the chosen objects into their points and the outcome into the Kptfile.

    `candidates` maps a point's condition type to what the cluster gave; a point without an entry has no
    matching object. Returns `package` itself when nothing changes.
    """
    if not points:
        return package
    outcomes: dict[str, Condition] = {}
    changes: dict[str, list[documents.Document]] = {}
    for point in points:
        candidate = candidates.get(point.condition_type, Candidate())
        outcomes[point.condition_type] = _apply(package, point, candidate, changes)
    files = {path: documents.emit_file(path, docs) for path, docs in changes.items()}
    files = {path: text for path, text in files.items() if text != package[path]}
    updated = package.with_files(files) if files else package
    kptfile = Kptfile.parse(updated[KPTFILE], path=KPTFILE)
    gates = sorted(set(kptfile.readiness_gates) | {p.condition_type for p in points if p.required})
    kept = [c for c in kptfile.conditions if c.type not in outcomes]
    conditions = sorted([*kept, *outcomes.values()], key=lambda c: c.type)
    if kptfile.readiness_gates == gates and kptfile.conditions == conditions:
        return updated
    return metadata.apply(updated, readiness_gates=gates, conditions=conditions)


def _apply(
    package: PackageResources,
    point: InjectionPoint,
    candidate: Candidate,
    changes: dict[str, list[documents.Document]],
) -> Condition:
    """Copy the candidate into the point (in `changes`); the point's condition."""
    failed = Condition(
        point.condition_type,
        "False",
        "NoResourceSelected",
        ", ".join(candidate.errors) or "no resource matched any injection selector for this injection point",
    )
    body = candidate.body
    if body is None:
        return failed
    name = str(body.get("metadata", {}).get("name", ""))
    source_field = injected_field(str(body.get("apiVersion", "")), str(body.get("kind", "")))
    if source_field not in body:
        return Condition(
            point.condition_type,
            "False",
            "NoResourceSelected",
            f"field {source_field!r} not found in resource {name!r}",
        )
    if point.path not in changes:
        changes[point.path] = documents.parse_documents(package[point.path], path=point.path)
    node = changes[point.path][point.index].node
    if plain(node.get(source_field)) != plain(body[source_field]):
        node[source_field] = _copy(body[source_field])
    annotations = node["metadata"]["annotations"]
    if documents.plain_value(annotations.get(INJECTED_ANNOTATION)) != name:
        annotations[INJECTED_ANNOTATION] = name
    return Condition(
        point.condition_type, "True", "ConfigInjected", f'injected resource "{name}" from cluster'
    )


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        node = documents.new_map()
        for key, item in value.items():
            node[key] = _copy(item)
        return node
    if isinstance(value, list):
        seq = documents.new_seq()
        seq.extend(_copy(item) for item in value)
        return seq
    return value
