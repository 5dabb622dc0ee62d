"""Comparing, copying and combining YAML trees while keeping comments, styles and key order.

Trees are dicts, lists and scalars; dicts and lists may be ruamel.yaml `CommentedMap`/`CommentedSeq` carrying
comments. Scalars may carry a style (`ScalarString` subclasses) or a verbatim spelling (`RawPlain`); equality
here compares what a YAML reader would get (type and value), not the spelling.

Used by render (to fold a function's output back into the input trees, like kyaml's comment copying and
field-order sync) and by the three-way merge.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.scalarstring import ScalarString

from porch_operator.engine import documents
from porch_operator.engine.documents import RawPlain


def scalar_kind(value: Any) -> str:
    """A coarse type: 'str', 'raw' (verbatim number/bool/null), 'bool', 'int', 'float', 'null', 'node'."""
    if value is None:
        return "null"
    if isinstance(value, RawPlain):
        return "raw"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "node"


def same_scalar(a: Any, b: Any) -> bool:
    """Whether two scalars read back as the same value (style and spelling ignored)."""
    kind, other = scalar_kind(a), scalar_kind(b)
    if kind == "raw" and other in ("bool", "int", "float", "null"):
        return _raw_matches(str(a), b)
    if other == "raw" and kind in ("bool", "int", "float", "null"):
        return _raw_matches(str(b), a)
    if kind != other:
        return False
    if kind in ("str", "raw"):
        return str(a) == str(b)
    return bool(a == b)


def _raw_matches(text: str, value: Any) -> bool:
    """A verbatim spelling (`0644`, `True`, `~`) and a parsed value agree under YAML 1.1 or 1.2 reading."""
    readings = {repr(documents.raw_value(text))}
    if text.lstrip("+-").isdigit():
        readings.add(repr(int(text)))  # YAML 1.2 reads 0644 as decimal, go-yaml as octal
    return repr(value) in readings


def equal(a: Any, b: Any) -> bool:
    """Deep, type-aware equality of two trees (comments and styles ignored, key order ignored)."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, dict | list):
        return False
    return same_scalar(a, b)


def delete_key(mapping: Any, key: Any) -> None:
    """Delete a key and any comment attached to it."""
    del mapping[key]
    comment_attrs = getattr(mapping, "ca", None)
    if comment_attrs is not None:
        comment_attrs.items.pop(key, None)


def reconcile(old: Any, new: Any, inserted: list[Any] | None = None) -> Any:
    """Make `old` equal to `new` in place where the shapes agree and return the resulting tree.

    Unchanged parts of `old` keep their comments, styles and key order; keys only in `new` are appended in
    `new`'s order; keys missing from `new` are removed (kyaml's comment copy plus field-order sync, applied to
    output that carries no comments of its own). With `inserted`, every value of `new` that became part of
    the result (rather than being matched to a part of `old`) is appended to it; a new key comes as a map
    of that key alone.
    """
    # Equal as data is the common case for the parts a function did not touch; 1 == True and the like are
    # the only false matches, and no function turns one into the other.
    if isinstance(old, dict) and isinstance(new, dict):
        if _equal_maps(old, new):
            return old
        return _reconcile_maps(old, new, inserted)
    if isinstance(old, list) and isinstance(new, list):
        if old == new:
            return old
        return _reconcile_lists(old, new, inserted)
    if not isinstance(old, dict | list) and not isinstance(new, dict | list) and same_scalar(old, new):
        return old
    if inserted is not None:
        inserted.append(new)
    return new


def _reconcile_maps(old: Any, new: Any, inserted: list[Any] | None) -> Any:
    """`reconcile` of two maps known not to be equal."""
    # ruamel.yaml's look-ups differ from the dict's only for merged (`<<`) keys
    lookup = dict if type(old) is CommentedMap and not getattr(old, merge_attrib, None) else type(old)
    get = lookup.get
    if not lookup.keys(old) <= new.keys():  # functions seldom delete keys: test before listing them
        for key in [k for k in lookup.keys(old) if k not in new]:
            delete_key(old, key)
    plain = _PLAIN_TYPES
    for key, value in new.items():
        current = get(old, key, _ABSENT)
        if current is _ABSENT:
            old[key] = value
            if inserted is not None:
                inserted.append({key: value})  # the key is new too
            continue
        kind = type(current)
        if kind is type(value) and kind in plain and current == value:
            continue  # most keys: what `_reconciled_value` keeps, found without calling it
        merged = _reconciled_value(current, value, inserted)
        if merged is not current:
            old[key] = merged
    return old


def _reconcile_lists(old: Any, new: Any, inserted: list[Any] | None) -> Any:
    """`reconcile` of two lists known not to be equal."""
    common = min(len(old), len(new))
    for index in range(common):
        current = old[index]
        merged = _reconciled_value(current, new[index], inserted)
        if merged is not current:
            old[index] = merged
    del old[common:]
    old.extend(new[common:])
    if inserted is not None:
        inserted.extend(new[common:])
    return old


def _reconciled_value(current: Any, value: Any, inserted: list[Any] | None) -> Any:
    """`reconcile(current, value, inserted)`, with what plain values of one type allow worked out here.

    Equal plain values are kept; unequal plain maps and lists are reconciled without being compared again;
    an unequal plain string, integer or boolean is replaced (what `same_scalar` finds for them).
    """
    kind = type(current)
    if kind is type(value) and kind in _PLAIN_TYPES:
        if current == value:
            return current
        if kind is dict:
            return _reconcile_maps(current, value, inserted)
        if kind is list:
            return _reconcile_lists(current, value, inserted)
        if inserted is not None:
            inserted.append(value)
        return value
    return reconcile(current, value, inserted)


_ABSENT: Final = object()

# Values of these exact types that compare equal are kept by `reconcile` as they are.
_PLAIN_TYPES: Final = frozenset({dict, list, str, int, bool, type(None)})


def same_data(a: Any, b: Any) -> bool:
    """`a == b`, without the copy ruamel.yaml's `CommentedMap.__eq__` makes of a map first."""
    if isinstance(a, dict) and isinstance(b, dict) and not (_has_merges(a) or _has_merges(b)):
        return dict.__eq__(a, b) is True
    return bool(a == b)


def _has_merges(node: dict[Any, Any]) -> bool:
    return type(node) is not dict and bool(getattr(node, merge_attrib, None))


def _equal_maps(old: dict[Any, Any], new: dict[Any, Any]) -> bool:
    """`old == new`, without ruamel.yaml's `CommentedMap.__eq__`, which first copies the map into a dict."""
    if type(old) is CommentedMap and not getattr(old, merge_attrib, None):
        return dict.__eq__(old, new) is True
    return bool(old == new)


def sync_order(old: Any, new: Any) -> None:
    """Reorder the keys of `new` to follow `old`; keys only in `new` go last (kyaml's SyncOrder)."""
    if isinstance(old, dict) and isinstance(new, dict):
        order = [k for k in old if k in new] + [k for k in new if k not in old]
        if list(new.keys()) != order:
            values = [(k, new[k]) for k in order]
            for key in list(new.keys()):
                del new[key]
            for key, value in values:
                new[key] = value
        for key, value in new.items():
            if key in old:
                sync_order(old[key], value)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(min(len(old), len(new))):
            sync_order(old[index], new[index])


def copy_comments(old: Any, new: Any) -> None:
    """Copy comments from `old` onto the matching places of `new` that have none (kyaml's CopyComments)."""
    if isinstance(old, CommentedMap) and isinstance(new, CommentedMap):
        _copy_own_comments(old, new)
        for key, value in new.items():
            if key in old:
                if key in old.ca.items and key not in new.ca.items:
                    new.ca.items[key] = copy.copy(old.ca.items[key])
                copy_comments(old[key], value)
    elif isinstance(old, CommentedSeq) and isinstance(new, CommentedSeq):
        _copy_own_comments(old, new)
        for index in range(min(len(old), len(new))):
            if index in old.ca.items and index not in new.ca.items and equal(old[index], new[index]):
                new.ca.items[index] = copy.copy(old.ca.items[index])
            copy_comments(old[index], new[index])
    elif isinstance(old, dict) and isinstance(new, dict):
        for key, value in new.items():
            if key in old:
                copy_comments(old[key], value)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(min(len(old), len(new))):
            copy_comments(old[index], new[index])


def _copy_own_comments(old: CommentedBase, new: CommentedBase) -> None:
    if old.ca.comment and not new.ca.comment:
        new.ca.comment = copy.copy(old.ca.comment)
    if old.ca.end and not new.ca.end:
        new.ca.end = copy.copy(old.ca.end)


def has_comments(node: Any) -> bool:
    """Whether any container in the tree carries a comment."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, CommentedBase):
            comment_attrs = getattr(current, "ca", None)
            if comment_attrs is not None and (
                comment_attrs.comment or comment_attrs.items or comment_attrs.end
            ):
                return True
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return False


def clone(node: Any) -> Any:
    """A deep copy; plain trees are copied quickly, trees with ruamel.yaml metadata with `copy.deepcopy`."""
    if isinstance(node, CommentedBase):
        return copy.deepcopy(node)
    if isinstance(node, dict):
        return {k: clone(v) for k, v in node.items()}
    if isinstance(node, list):
        return [clone(v) for v in node]
    return node


def to_plain(node: Any) -> Any:
    """The tree as plain data: dicts, lists, str, int, float, bool, None (styles and comments dropped)."""
    if isinstance(node, dict):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, ScalarString | RawPlain):
        return str(node)
    return node
