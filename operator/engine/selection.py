"""Which resources a pipeline function sees: `selectors` (ORed, fields ANDed) minus `exclude` matches.

Mirrors kpt's `SelectInput`, except that a resource matching several selectors is selected once (kpt appends
it once per matching selector). Used by `render`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from porch_operator.engine import documents
from porch_operator.engine.kptfile import Selector

T = TypeVar("T")


def _meta(node: Any) -> dict[str, Any]:
    metadata = node.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(documents.plain_value(value))


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _text(v) for k, v in value.items()}


def matches(node: Any, selector: Selector) -> bool:
    """Whether a resource matches every field the selector sets."""
    metadata = _meta(node)
    if selector.name and selector.name != _text(metadata.get("name")):
        return False
    if selector.namespace and selector.namespace != _text(metadata.get("namespace")):
        return False
    if selector.kind and selector.kind != _text(node.get("kind")):
        return False
    if selector.api_version and selector.api_version != _text(node.get("apiVersion")):
        return False
    labels = _string_map(metadata.get("labels"))
    if any(labels.get(k) != v for k, v in selector.labels.items()):
        return False
    annotations = _string_map(metadata.get("annotations"))
    return all(annotations.get(k) == v for k, v in selector.annotations.items())


def select(
    items: Sequence[T],
    *,
    node_of: Callable[[T], Any],
    selectors: Sequence[Selector],
    exclude: Sequence[Selector],
) -> list[T]:
    """The items a function with these selectors and exclusions applies to, in input order."""
    chosen = (
        list(items)
        if not selectors
        else [item for item in items if any(matches(node_of(item), s) for s in selectors)]
    )
    if not exclude:
        return chosen
    return [
        item for item in chosen if not any(matches(node_of(item), e) for e in exclude if not e.is_empty())
    ]
