"""One CustomResourceDefinition per kind, from its pydantic model and its `CRDInfo`.

The schema of `spec` and `status` comes from the model (made structural); `apiVersion`, `kind` and
`metadata` get the standard shape every CRD has (the API server owns metadata). Root-level CEL rules,
printer columns, selectable fields, names and categories come from the kind's `crd` ClassVar.
"""

from __future__ import annotations

from typing import Any

from crdgen.structural import structural
from porch_operator.models import KubeObject

_API_VERSION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values."
)
_KIND = "Kind is a string value representing the REST resource this object represents, in CamelCase."


def crd(kind: type[KubeObject]) -> dict[str, Any]:
    """The CustomResourceDefinition of `kind`."""
    info = kind.crd
    model_schema = structural(kind.model_json_schema(by_alias=True))
    properties = model_schema["properties"]
    root: dict[str, Any] = {
        "description": model_schema["description"],
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"description": _API_VERSION, "type": "string"},
            "kind": {"description": _KIND, "type": "string"},
            # Declared only so root rules about the name can point at it (fieldPath); the API server owns it.
            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            "spec": properties["spec"],
            "status": properties["status"],
        },
    }
    if info.rules:
        root["x-kubernetes-validations"] = [rule.to_schema() for rule in info.rules]
    version: dict[str, Any] = {
        "name": info.version,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": [column.to_schema() for column in info.printer_columns],
    }
    if info.selectable_fields:
        version["selectableFields"] = [{"jsonPath": path} for path in info.selectable_fields]
    version["schema"] = {"openAPIV3Schema": root}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": info.name, "labels": {"app.kubernetes.io/part-of": "porch-operator"}},
        "spec": {
            "group": info.group,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": list(info.categories),
            },
            "scope": info.scope,
            "versions": [version],
        },
    }


def file_name(kind: type[KubeObject]) -> str:
    """`<group>_<plural>.yaml`, as kubebuilder names generated CRDs."""
    return f"{kind.crd.group}_{kind.crd.plural}.yaml"
