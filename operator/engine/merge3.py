"""Three-way merge of one KRM resource, as kyaml's merge3 walker does it for `kpt pkg update`.

`merge(dest, original, updated)` folds the upstream change (original → updated) into the local copy (`dest`),
in place where possible, and returns the merged tree (or `CLEAR` when the resource's root was cleared):

* maps are merged field by field (field names of all three, sorted); a field that upstream changed takes the
  upstream value, even when the local copy changed it too (upstream wins a conflict); fields upstream did
  not change keep the local value; new upstream fields are appended;
* associative lists (elements keyed by a merge key such as `name` or `containerPort`) are merged element by
  element; other lists are replaced as a whole when upstream changed them;
* an explicit null on either side clears the field.

Which lists are associative: for well-known Kubernetes kinds the merge keys of their OpenAPI schema (a small
built-in table of the lists that carry one); for anything else kyaml's inference (the first of `mountPath`,
`devicePath`, `ip`, `type`, `topologyKey`, `name`, `containerPort` that every element has).
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, Final

from ruamel.yaml.comments import merge_attrib
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString, SingleQuotedScalarString

from porch_operator.engine import documents, trees
from porch_operator.errors import InvalidSpec


class _Clear:
    """Marker: the field (or element) is removed from the result."""

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR: Final = _Clear()

ASSOCIATIVE_KEYS: Final = ("mountPath", "devicePath", "ip", "type", "topologyKey", "name", "containerPort")

# Kinds whose schema kyaml knows (Kubernetes built-ins); lists in them merge only when the schema has a key.
_BUILTIN_GROUPS: Final = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "certificates.k8s.io",
        "events.k8s.io",
    }
)
# (field name, parent field name or None for any) -> merge key ('' for a list of scalars merged as a set).
_SCHEMA_KEYS: Final[dict[tuple[str, str | None], str]] = {
    ("containers", None): "name",
    ("initContainers", None): "name",
    ("ephemeralContainers", None): "name",
    ("env", None): "name",
    ("volumes", None): "name",
    ("volumeMounts", None): "mountPath",
    ("volumeDevices", None): "devicePath",
    ("imagePullSecrets", None): "name",
    ("hostAliases", None): "ip",
    ("topologySpreadConstraints", None): "topologyKey",
    ("ownerReferences", "metadata"): "uid",
    ("finalizers", "metadata"): "",
    ("conditions", None): "type",
}


def _group(api_version: Any) -> str:
    text = str(api_version or "")
    return text.rsplit("/", 1)[0] if "/" in text else ""


class _Missing:
    """Marker: the field does not exist in this source (as opposed to an explicit null)."""

    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Final = _Missing()


class _Context:
    def __init__(self, builtin: bool, shared: bool) -> None:
        self.builtin = builtin
        # Whether `dest`'s containers are read-only: the walk then copies a map or list of it (one level,
        # its children shared) before it changes it, and the containers it changes nothing in stay shared.
        self.shared = shared


def merge(dest: Any, original: Any, updated: Any, *, shared: bool = False) -> Any:
    """Merge the upstream change `original` → `updated` into `dest`; returns the result or `CLEAR`.

    Pass None for a side that does not have the resource. `dest` is changed in place, unless `shared` says
    it is read-only: the result then holds copies of the containers that changed, and shares everything
    else with `dest` (so it must be copied before anything changes it in place).
    """
    sources = tuple(_MISSING if node is None else node for node in (dest, original, updated))
    api_version = next(
        (n.get("apiVersion") for n in sources if isinstance(n, dict) and n.get("apiVersion")),
        None,
    )
    context = _Context(
        builtin=api_version is not None and _group(api_version) in _BUILTIN_GROUPS, shared=shared
    )
    return _walk(sources[0], sources[1], sources[2], (), context)


def leaves_unchanged(dest: Any, original: Any, updated: Any) -> bool:
    """Whether `merge(dest, original, updated)` would return `dest` without changing anything in it.

    True when the three trees are equal and upstream changed nothing, not even a spelling (see `_untouched`);
    the caller may then keep `dest` without walking it, and without making it its own to change.
    """
    return (
        isinstance(original, dict)
        and trees.same_data(original, updated)
        and trees.same_data(dest, original)
        and _untouched(dest, original, updated)
    )


_NULL_SPELLINGS: Final = frozenset({"~", "null", "Null", "NULL"})


def _has_merges(node: Any) -> bool:
    return type(node) is not dict and bool(getattr(node, merge_attrib, None))


def _is_tagged_null(node: Any) -> bool:
    return node is None or (isinstance(node, documents.RawPlain) and str(node) in _NULL_SPELLINGS)


def _missing_or_null(node: Any) -> bool:
    return node is _MISSING or _is_tagged_null(node)


def _walk(dest: Any, original: Any, updated: Any, path: tuple[str, ...], context: _Context) -> Any:
    if leaves_unchanged(dest, original, updated):
        return dest  # what walking it would return (see `_untouched`), without the walk
    kind = None
    for source in (dest, original, updated):
        if source is _MISSING or source is None:
            continue
        if isinstance(source, dict):
            this = "map"
        elif isinstance(source, list):
            this = "seq"
        elif isinstance(source, documents.RawPlain) and str(source) in _NULL_SPELLINGS:
            continue
        else:
            this = "scalar"
        if kind is None:
            kind = this
        elif this != kind:
            raise InvalidSpec(
                f"Cannot merge field {'.'.join(path) or '(root)'}: the local copy, the old upstream and the "
                "new upstream disagree on whether it is a map, a list or a single value."
            )
    if kind is None or kind == "map":
        return _walk_map(dest, original, updated, path, context)
    if kind == "seq":
        key = _list_key((dest, original, updated), path, context)
        if key is None:
            return _visit_non_associative(dest, original, updated)
        return _walk_associative(dest, original, updated, key=key, path=path, context=context)
    return _visit_scalar(dest, original, updated)


def _untouched(dest: Any, original: Any, updated: Any) -> bool:
    """Whether the walk leaves `dest` as it is, for three trees already known to be equal (`==`).

    It does when upstream did not change anything, not even a spelling (`original` and `updated` have the same
    scalar types), and nothing in `dest` is cleared or rewritten: no nulls (cleared), no empty lists (an
    empty associative list is cleared), no floats (`0.0 == -0.0`), and only string keys (two keys printing
    the same name would be merged).
    """
    if isinstance(original, dict):
        if _has_merges(dest) or _has_merges(original) or _has_merges(updated):
            return False
        get = dict.__getitem__  # no merged (`<<`) keys: the same as each map's own look-up
        for key, value in dict.items(original):
            if not isinstance(key, str):
                return False
            local, other = get(dest, key), get(updated, key)
            kind = type(value)
            if kind is str or kind is int or kind is bool:
                # The common leaves, as the scalar case below finds them (a plain string, integer or boolean
                # is never null itself).
                if kind is not type(other) or _is_tagged_null(local) or isinstance(local, float):
                    return False
            elif not _untouched(local, value, other):
                return False
        return True
    if isinstance(original, list):
        return bool(original) and all(map(_untouched, dest, original, updated))
    kind = type(original)
    return (
        kind is type(updated)
        and kind in _EXACT_SCALARS
        and original is not None
        and not _is_tagged_null(original)
        and not _is_tagged_null(dest)
        and not isinstance(dest, float)
    )


def _walk_map(dest: Any, original: Any, updated: Any, path: tuple[str, ...], context: _Context) -> Any:
    if _is_tagged_null(updated) or _is_tagged_null(dest):
        return CLEAR
    if dest is _MISSING and updated is _MISSING:
        return CLEAR
    owned = not context.shared
    if dest is _MISSING:
        dest = documents.new_map()
        owned = True
    # (`dict.keys`: a map's keys without ruamel.yaml's Python iterator; their order does not matter here.)
    names = sorted(
        {
            str(k)
            for source in (dest, original, updated)
            if isinstance(source, dict)
            for k in dict.keys(source)
        }
    )
    # Whether every key is a string: then a field is found by a dict lookup instead of a scan.
    dest_str, original_str, updated_str = _str_keyed(dest), _str_keyed(original), _str_keyed(updated)
    # With string keys and no merged (`<<`) keys, a map's own look-up is the dict's, read here without
    # ruamel.yaml's Python layer; `_field` does the rest.
    get = dict.get
    dest_plain = dest_str and not _has_merges(dest)
    original_plain = original_str and not _has_merges(original)
    updated_plain = updated_str and not _has_merges(updated)
    for name in names:
        local = get(dest, name, _MISSING) if dest_plain else _field(dest, name, dest_str)
        old = get(original, name, _MISSING) if original_plain else _field(original, name, original_str)
        new = get(updated, name, _MISSING) if updated_plain else _field(updated, name, updated_str)
        # What the walk and `_set_field` would do, without them; only with string keys (keys that are not
        # strings may print alike, and `_set_field` may then pick another key than `_field` found).
        if dest_str and _scalar_kept(local, old, new):
            continue
        value = _walk(local, old, new, (*path, name), context)
        if not owned:
            if not _field_changes(dest, name, value, dest_str):
                continue
            dest, owned = documents.copy_level(dest), True
        _set_field(dest, name, value, dest_str)
    return dest


def _str_keyed(source: Any) -> bool:
    return isinstance(source, dict) and all(map(isinstance, dict.keys(source), repeat(str)))


def _scalar_kept(local: Any, old: Any, new: Any) -> bool:
    """Whether a field is a scalar upstream left exactly as it was, so the walk keeps the local one in place.

    Upstream's two values have the same type and value (so the same spelling), neither side is null (nulls
    clear), and the local value is a scalar too (a map or list there would be a kind mismatch).
    """
    kind = type(new)
    return (
        kind is type(old)
        and kind in _EXACT_SCALARS
        and type(local) in _EXACT_SCALARS
        and new == old
        and not _is_tagged_null(new)
        and not _is_tagged_null(local)
    )


def _field(node: Any, name: str, str_keys: bool = False) -> Any:
    """The value of field `name` (a key equal to it, else the first key that prints as it), or `_MISSING`.

    `str_keys` says that every key of `node` is a string, so no other key can print as `name`.
    """
    if not isinstance(node, dict):
        return _MISSING
    if name in node:
        return node[name]
    if str_keys:
        return _MISSING
    for key in node:
        if str(key) == name:
            return node[key]
    return _MISSING


def _existing_key(mapping: Any, name: str, str_keys: bool) -> Any:
    if str_keys:
        return name if name in mapping else None
    return next((k for k in mapping if str(k) == name), None)


def _field_changes(mapping: Any, name: str, value: Any, str_keys: bool) -> bool:
    """Whether `_set_field` would change `mapping`."""
    existing = _existing_key(mapping, name, str_keys)
    if value is CLEAR or value is _MISSING:
        return existing is not None
    return existing is None or mapping[existing] is not value


def _set_field(mapping: Any, name: str, value: Any, str_keys: bool = False) -> None:
    existing = _existing_key(mapping, name, str_keys)
    if value is CLEAR or value is _MISSING:
        if existing is not None:
            trees.delete_key(mapping, existing)
        return
    if existing is not None:
        if mapping[existing] is not value:
            mapping[existing] = value
    else:
        mapping[name] = value


# Scalar types whose written form depends only on type and value (floats do not: 0.0 == -0.0).
_EXACT_SCALARS: Final = frozenset(
    {
        str,
        int,
        bool,
        type(None),
        documents.RawPlain,
        DoubleQuotedScalarString,
        SingleQuotedScalarString,
        LiteralScalarString,
    }
)


def _visit_scalar(dest: Any, original: Any, updated: Any) -> Any:
    if _is_tagged_null(updated) or _is_tagged_null(dest):
        return CLEAR
    if _missing_or_null(updated) != _missing_or_null(original):
        return updated
    if _missing_or_null(updated) and _missing_or_null(original):
        return dest
    kind = type(updated)
    if kind is type(original) and kind in _EXACT_SCALARS and updated == original:
        return dest  # same type and value: same spelling (what the signatures below would find)
    if documents.scalar_signature(updated) != documents.scalar_signature(original):
        return updated
    return dest


def _visit_non_associative(dest: Any, original: Any, updated: Any) -> Any:
    if _is_tagged_null(updated) or _is_tagged_null(dest):
        return CLEAR
    if _missing_or_null(updated) != _missing_or_null(original):
        return updated
    if _missing_or_null(updated) and _missing_or_null(original):
        return dest
    if not trees.equal(updated, original) or _styles_differ(updated, original):
        return updated
    return dest


def _styles_differ(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return any(_styles_differ(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict) and isinstance(b, dict):
        return any(_styles_differ(v, b[k]) for k, v in a.items() if k in b)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return documents.scalar_signature(a) != documents.scalar_signature(b)


def _list_key(sources: tuple[Any, ...], path: tuple[str, ...], context: _Context) -> str | None:
    """The merge key of a list, '' for a list of scalars merged as a set, None for a non-associative list."""
    if context.builtin and path:
        name = path[-1]
        parent = path[-2] if len(path) > 1 else None
        if name == "ports":
            # Service ports merge on `port`, container ports on `containerPort`.
            return "port" if path == ("spec", "ports") else "containerPort"
        for candidate in ((name, parent), (name, None)):
            if candidate in _SCHEMA_KEYS:
                return _SCHEMA_KEYS[candidate]
        return None
    for source in sources:
        if isinstance(source, list) and source:
            key = _associative_key(source)
            if key:
                return key
    return None


def _associative_key(elements: list[Any]) -> str | None:
    for key in ASSOCIATIVE_KEYS:
        if all(isinstance(e, dict) and _field(e, key) is not _MISSING for e in elements):
            return key
    return None


def _element_value(element: Any, key: str) -> str | None:
    if key == "":
        return None if isinstance(element, dict | list) else str(documents.plain_value(element))
    value = _field(element, key)
    if value is _MISSING or isinstance(value, dict | list) or value is None:
        return None
    return str(documents.plain_value(value))


def _by_value(elements: Any, key: str) -> dict[str, Any]:
    """The elements of a list by the value of their merge key, the first element of each value."""
    found: dict[str, Any] = {}
    if isinstance(elements, list):
        for element in elements:
            value = _element_value(element, key)
            if value is not None and value not in found:
                found[value] = element
    return found


def _walk_associative(
    dest: Any, original: Any, updated: Any, *, key: str, path: tuple[str, ...], context: _Context
) -> Any:
    if _missing_or_null(updated) and not _missing_or_null(original):
        return CLEAR
    owned = not context.shared
    if _missing_or_null(dest):
        dest = documents.new_seq()
        owned = True
    # Each side's elements by their key's value, the first of each value (what `_find` gives): the walk below
    # changes in `dest` only the element of the value it is at, and the elements it adds have values of
    # their own, so what `_find` would find there stays what is found here.
    dest_by, original_by, updated_by = (_by_value(s, key) for s in (dest, original, updated))
    for value in dict.fromkeys([*dest_by, *original_by, *updated_by]):
        local = dest_by.get(value, _MISSING)
        old = original_by.get(value, _MISSING)
        new = updated_by.get(value, _MISSING)
        if key == "":
            merged = _visit_scalar(local, old, new)
        else:
            merged = _walk(local, old, new, (*path, f"[{key}={value}]"), context)
            if isinstance(merged, dict) and merged and _field(merged, key) is _MISSING:
                if context.shared and merged is local:
                    # (The walk keeps the key it found the element by, so this does not happen today; were it
                    # to, a shared map must not be changed in place.)
                    merged = documents.copy_level(merged)
                merged[key] = value
        if not owned:
            if not _element_changes(dest, local, merged):
                continue
            dest, owned = documents.copy_level(dest), True
        _set_element(dest, local, merged)
    return dest if dest else CLEAR


def _element_index(dest: list[Any], local: Any) -> int | None:
    return next((i for i, e in enumerate(dest) if e is local), None) if local is not _MISSING else None


def _empty_element(merged: Any) -> bool:
    return merged is CLEAR or _missing_or_null(merged) or (isinstance(merged, dict) and not merged)


def _element_changes(dest: list[Any], local: Any, merged: Any) -> bool:
    """Whether `_set_element` would change `dest`."""
    index = _element_index(dest, local)
    if _empty_element(merged):
        return index is not None
    return index is None or dest[index] is not merged


def _set_element(dest: list[Any], local: Any, merged: Any) -> None:
    """Replace, drop or append an element; `local` is the element object that was in `dest`, if any."""
    index = _element_index(dest, local)
    if _empty_element(merged):
        if index is not None:
            del dest[index]
        return
    if index is None:
        dest.append(merged)
    elif dest[index] is not merged:
        dest[index] = merged
