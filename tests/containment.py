"""`missing(expected, actual)`: where a manifest is not contained in another (proves nothing was lost)."""

from __future__ import annotations

from typing import Any


def missing(expected: Any, actual: Any, path: str = "") -> list[str]:
    """The paths where `expected` is not in `actual`: maps may hold more keys; lists compare item by item."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a map, got {actual!r}"]
        return [
            gap for key, value in expected.items() for gap in missing(value, actual.get(key), f"{path}.{key}")
        ]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        pairs = zip(expected, actual, strict=True)
        return [gap for i, (e, a) in enumerate(pairs) for gap in missing(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]
