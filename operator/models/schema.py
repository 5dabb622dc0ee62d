"""How a model describes its CRD: CEL rules, schema extensions, printer columns and per-kind facts.

Models attach CEL rules and Kubernetes schema extensions to a field with `Field(json_schema_extra=k8s(...))`
and to a whole object with `model_config = ConfigDict(json_schema_extra=k8s(...))`; every kind carries a
`CRDInfo` as its ClassVar `crd` (group, version, names, printer columns, selectable fields and the rules that
need the whole object, such as the metadata.name rule). `hack/generate_crds.py` turns all of it into the YAML
under `crds/`. This module only holds descriptions: nothing here talks to Kubernetes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic.config import JsonDict, JsonValue

# Regular expressions shared by several kinds (RE2 and Python agree on all of them).
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""A DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit."""

PACKAGE_PATH = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""A package path: DNS labels joined by '/', e.g. `catalog/gcp/bucket`."""

WORKSPACE_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
"""A workspace: like a DNS label, but dots are allowed for revisions discovered from tags such as `v2.0.0`."""

Reason = Literal["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"]
ColumnType = Literal["string", "integer", "number", "boolean", "date"]


@dataclass(frozen=True)
class CelRule:
    """One `x-kubernetes-validations` entry: a CEL `rule` and what the API server says when it is false."""

    rule: str
    message: str = ""
    message_expression: str = ""
    reason: Reason | None = None
    field_path: str = ""
    optional_old_self: bool = False

    def to_schema(self) -> JsonDict:
        entry: JsonDict = {"rule": self.rule}
        if self.message:
            entry["message"] = self.message
        if self.message_expression:
            entry["messageExpression"] = self.message_expression
        if self.reason:
            entry["reason"] = self.reason
        if self.field_path:
            entry["fieldPath"] = self.field_path
        if self.optional_old_self:
            entry["optionalOldSelf"] = True
        return entry


def k8s(
    *rules: CelRule,
    list_type: Literal["atomic", "set", "map"] | None = None,
    list_map_keys: Sequence[str] = (),
    map_type: Literal["atomic", "granular"] | None = None,
    preserve_unknown_fields: bool = False,
) -> JsonDict:
    """Kubernetes schema extensions for `json_schema_extra`: CEL rules, list and map types, pruning."""
    extra: JsonDict = {}
    if rules:
        extra["x-kubernetes-validations"] = [rule.to_schema() for rule in rules]
    if list_type:
        extra["x-kubernetes-list-type"] = list_type
    if list_map_keys:
        keys: list[JsonValue] = list(list_map_keys)
        extra["x-kubernetes-list-map-keys"] = keys
    if map_type:
        extra["x-kubernetes-map-type"] = map_type
    if preserve_unknown_fields:
        extra["x-kubernetes-preserve-unknown-fields"] = True
    return extra


def keyed_list(*keys: str, rules: Sequence[CelRule] = ()) -> JsonDict:
    """A list whose items are identified by `keys`: server-side apply merges it item by item."""
    return k8s(*rules, list_type="map", list_map_keys=keys)


def immutable(what: str) -> CelRule:
    """A transition rule on a field that may never change once set."""
    return CelRule("self == oldSelf", message=f"{what} is immutable: it cannot be changed after creation")


@dataclass(frozen=True)
class PrinterColumn:
    """A column of `kubectl get`; `priority` > 0 shows it only with `-o wide`."""

    name: str
    type: ColumnType
    json_path: str
    description: str = ""
    priority: int = 0

    def to_schema(self) -> JsonDict:
        column: JsonDict = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


def label_path(key: str) -> str:
    """The JSONPath of a label for a printer column; dots escaped, as Kubernetes reads ['a.b/c'] as empty."""
    return ".metadata.labels." + key.replace(".", "\\.")


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
READY = PrinterColumn("Ready", "string", ".status.conditions[?(@.type=='Ready')].status")


@dataclass(frozen=True)
class CRDInfo:
    """Everything about a kind's CRD that is not its schema.

    `rules` are CEL rules on the root of the object (they can read `metadata.name`, `spec` and `status`
    together); rules about one field or one object live on the model itself.
    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    printer_columns: tuple[PrinterColumn, ...] = (AGE,)
    selectable_fields: tuple[str, ...] = ()
    rules: tuple[CelRule, ...] = ()
    categories: tuple[str, ...] = ("porch",)
    scope: Literal["Namespaced", "Cluster"] = "Namespaced"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def name(self) -> str:
        """The CRD's own object name, `<plural>.<group>`."""
        return f"{self.plural}.{self.group}"
