"""Turn pydantic's JSON schema into a Kubernetes structural schema.

What changes: every `$ref` is inlined from `$defs` (the referring node's own keys, such as its description,
win, and CEL rules of both are kept); `anyOf: [X, null]` (an optional field) becomes X: a null sent by a
client is pruned instead of stored, so `has()` in CEL means "given"; `anyOf: [integer, string]` becomes
`x-kubernetes-int-or-string`; `title` and null defaults go; `const` becomes a one-item `enum`; free-form
objects and `Any` become `x-kubernetes-preserve-unknown-fields`. Anything else pydantic might emit that a CRD
cannot hold (`oneOf`, a union of two models) is an error, so a new model cannot silently produce a schema
the API server rejects.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_KEY_ORDER = [
    "description",
    "type",
    "format",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "additionalProperties",
    "items",
]
_RULE_KEY_ORDER = ["rule", "message", "messageExpression", "reason", "fieldPath", "optionalOldSelf"]
_VALIDATIONS = "x-kubernetes-validations"
_PRESERVE = "x-kubernetes-preserve-unknown-fields"


class NotStructural(ValueError):
    """The model produced a schema construct that has no structural equivalent."""


def structural(schema: Schema) -> Schema:
    """The structural form of a pydantic `model_json_schema(by_alias=True)` result."""
    defs = schema.get("$defs", {})
    top = {key: value for key, value in schema.items() if key != "$defs"}
    return _node(top, defs, path="")


def _node(node: Schema, defs: Schema, *, path: str) -> Schema:
    node = _resolve(node, defs, path=path)
    node = _simplify(node, path=path)
    for key in ("anyOf", "oneOf", "allOf", "not", "$ref"):
        if key in node:
            raise NotStructural(f"{path or '<root>'}: {key} cannot be expressed in a structural schema")
    if "properties" in node:
        node["properties"] = {
            name: _node(child, defs, path=f"{path}.{name}") for name, child in node["properties"].items()
        }
    if isinstance(node.get("items"), dict):
        node["items"] = _node(node["items"], defs, path=f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _node(node["additionalProperties"], defs, path=f"{path}{{}}")
    return _ordered(node)


def _resolve(node: Schema, defs: Schema, *, path: str) -> Schema:
    """Inline `$ref`, a one-item `allOf`, and the non-null branch of an optional (`anyOf` with null)."""
    while True:
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            node = _merge(target, {key: value for key, value in node.items() if key != "$ref"})
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = _merge(node["allOf"][0], {key: value for key, value in node.items() if key != "allOf"})
        elif "anyOf" in node:
            node = _collapse_any_of(node, path=path)
        else:
            return node


def _collapse_any_of(node: Schema, *, path: str) -> Schema:
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    branches = [branch for branch in node["anyOf"] if branch.get("type") != "null"]
    if len(branches) == 1:
        return _merge(branches[0], rest)
    if sorted(branch.get("type", "") for branch in branches) == ["integer", "string"]:
        return {**rest, "x-kubernetes-int-or-string": True}
    raise NotStructural(f"{path or '<root>'}: a union of {len(branches)} types has no structural form")


def _merge(base: Schema, override: Schema) -> Schema:
    """`base` with the keys of `override` on top; CEL rules of both are kept (base's first)."""
    merged = {**base, **override}
    if _VALIDATIONS in base and _VALIDATIONS in override:
        merged[_VALIDATIONS] = [*base[_VALIDATIONS], *override[_VALIDATIONS]]
    return merged


def _simplify(node: Schema, *, path: str) -> Schema:
    node = dict(node)
    node.pop("title", None)
    if "default" in node and node["default"] is None:
        del node["default"]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("additionalProperties") is True:
        del node["additionalProperties"]
        node[_PRESERVE] = True
    if node.get(_PRESERVE) and node.get("type") == "object" and "additionalProperties" in node:
        del node["additionalProperties"]
    if "type" not in node and not node.get(_PRESERVE) and not node.get("x-kubernetes-int-or-string"):
        if set(node) - {"description", "default"}:
            raise NotStructural(f"{path or '<root>'}: a node without a type: {sorted(node)}")
        node[_PRESERVE] = True  # `Any`: any JSON value
    return node


def _ordered(node: Schema) -> Schema:
    """Keys in a fixed, readable order (pydantic sorts them); each CEL rule starts with `rule`."""
    if _VALIDATIONS in node:
        node[_VALIDATIONS] = [_in_order(rule, _RULE_KEY_ORDER) for rule in node[_VALIDATIONS]]
    return _in_order(node, _KEY_ORDER)


def _in_order(mapping: Schema, order: list[str]) -> Schema:
    def rank(key: str) -> tuple[int, str]:
        return (order.index(key), "") if key in order else (len(order), key)

    return {key: mapping[key] for key in sorted(mapping, key=rank)}
