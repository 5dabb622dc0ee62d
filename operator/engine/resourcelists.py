"""The KRM function wire format: building input ResourceLists and reading function output.

A function receives `config.kubernetes.io/v1` `ResourceList` YAML: `items` (each carrying the annotations kpt
adds: path, index, id, seqindent, package-path, in both their current `internal.` and legacy spellings) and an
optional `functionConfig`. Its output has `items` and optionally `results`.

Items without comments of their own are written as one line of JSON (valid YAML, written at C speed); the
others as block YAML with the sequence indentation of their file, indented into the list. When every item
goes as JSON, so does the whole list: JSON is YAML to every function, and a function that answers in JSON
(the fnrunner's builtins answer in the format they were given) is read back several times faster than YAML.
Used only by `render`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ruamel.yaml.comments import CommentedMap, merge_attrib

from porch_operator.engine import documents
from porch_operator.errors import InvalidSpec

API_VERSION: Final = "config.kubernetes.io/v1"
KIND: Final = "ResourceList"

PATH: Final = "internal.config.kubernetes.io/path"
INDEX: Final = "internal.config.kubernetes.io/index"
ID: Final = "internal.config.kubernetes.io/id"
SEQ_INDENT: Final = "internal.config.kubernetes.io/seqindent"
PACKAGE_PATH: Final = "internal.config.kubernetes.io/package-path"
MIGRATION_ID: Final = "internal.config.kubernetes.io/annotations-migration-resource-id"
LEGACY_PATH: Final = "config.kubernetes.io/path"
LEGACY_INDEX: Final = "config.kubernetes.io/index"
LEGACY_ID: Final = "config.k8s.io/id"
KPT_RESOURCE_ID: Final = "internal.config.k8s.io/kpt-resource-id"

INTERNAL_ANNOTATIONS: Final = frozenset(
    {
        PATH,
        INDEX,
        ID,
        SEQ_INDENT,
        PACKAGE_PATH,
        MIGRATION_ID,
        LEGACY_PATH,
        LEGACY_INDEX,
        LEGACY_ID,
        KPT_RESOURCE_ID,
    }
)


def function_input_annotations(
    *, path: str, index: int, item_id: int, seq_indent: str, package_path: str
) -> dict[str, str]:
    """The annotations kpt adds to an item before handing it to a function."""
    return {
        LEGACY_INDEX: str(index),
        LEGACY_PATH: path,
        INDEX: str(index),
        PACKAGE_PATH: package_path,
        PATH: path,
        SEQ_INDENT: seq_indent,
        MIGRATION_ID: str(item_id),
        ID: str(item_id),
        LEGACY_ID: str(item_id),
    }


def with_annotations(node: Any, extra: Mapping[str, str]) -> Any:
    """A shallow copy of a resource whose `metadata.annotations` also holds `extra`; `node` is unchanged."""
    metadata = node.get("metadata")
    new_metadata = metadata.copy() if isinstance(metadata, dict) else {}
    annotations = new_metadata.get("annotations")
    new_annotations = annotations.copy() if isinstance(annotations, dict) else {}
    new_annotations.update(extra)
    new_metadata["annotations"] = new_annotations
    copied = node.copy()
    copied["metadata"] = new_metadata
    return copied


def _indent_item(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    out = ["- " + lines[0]]
    out.extend(("  " + line) if line else "" for line in lines[1:])
    return "\n".join(out)


_JSON_HEAD: Final = f'{{"apiVersion":"{API_VERSION}","kind":"{KIND}","items":['


def build(items: Sequence[tuple[str, bool]], function_config: Any | None) -> bytes:
    """A ResourceList from its items, each as `item_text` wrote it, and a functionConfig.

    When every item and the functionConfig can go as JSON, the whole list is one JSON document: a function
    reads it as it reads YAML, and one that answers in the format it was given (the fnrunner's builtins do)
    is read back at JSON speed. Otherwise the list is block YAML with the JSON items as flow lines in it.
    """
    config_line = None if function_config is None else documents.json_line(function_config)
    if (function_config is None or config_line is not None) and all(as_json for _, as_json in items):
        text = _JSON_HEAD + ",".join(item for item, _ in items) + "]"
        if config_line is not None:
            text += ',"functionConfig":' + config_line
        return (text + "}\n").encode("utf-8")
    parts = [f"apiVersion: {API_VERSION}", f"kind: {KIND}"]
    if items:
        parts.append("items:")
        parts.extend(("- " + item) if as_json else _indent_item(item) for item, as_json in items)
    else:
        parts.append("items: []")
    if function_config is not None:
        config = documents.emit_document(function_config).rstrip("\n")
        if config in ("{}", "[]") or config.startswith(("{", "[")):
            parts.append("functionConfig: " + config)
        else:
            parts.append("functionConfig:")
            parts.extend(("  " + line) if line else "" for line in config.split("\n"))
    return ("\n".join(parts) + "\n").encode("utf-8")


def item_text(
    node: Any, seq_indent: str, extra: Mapping[str, str], *, json_safe: bool | None = None
) -> tuple[str, bool]:
    """An item of the input list, `with_annotations(node, extra)`, and whether it was written as JSON.

    The text is one line of JSON, or a block YAML document when JSON would lose something (`build` puts
    either into the list).

    `node` itself is not changed. `json_safe=True` says the tree is known to be writable as JSON (an
    earlier call said so, and the tree has changed since only by values that `documents.json_safe` accepts):
    the tree is then written without being checked again.
    """
    write = documents.json_text if json_safe else documents.json_line
    if (
        type(node) is CommentedMap
        and not getattr(node, merge_attrib, None)
        and (json_safe or documents.json_ready_root(node))  # known safe: its root was checked before
    ):
        # JSON keeps no comments: a plain copy of the root writes the same line as the ruamel.yaml map, and
        # is copied, checked and written at C speed.
        line = write(with_annotations(dict(OrderedDict.items(node)), extra))
        if line is not None:
            return line, True
    annotated = with_annotations(node, extra)
    line = write(annotated)
    if line is not None:
        return line, True
    return documents.emit_document(annotated, seq_indent=_seq(seq_indent)), False


def _seq(value: str) -> documents.SeqIndent:
    return documents.WIDE if value == documents.WIDE else documents.COMPACT


def parse_output(
    data: bytes, *, what: str, sent_comments: frozenset[str] = frozenset()
) -> tuple[list[Any], Any]:
    """The `items` and raw `results` of a function's output; `InvalidSpec` when it is not a ResourceList.

    `sent_comments` are the comment texts of the input (see `documents.load_function_output`).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSpec(f"The output of {what} is not UTF-8 text.") from exc
    parsed = documents.load_function_output(text, what=what, sent_comments=sent_comments)
    if parsed is None:
        return [], None
    if not isinstance(parsed, dict):
        raise InvalidSpec(f"The output of {what} is not a ResourceList.")
    kind = parsed.get("kind")
    if kind is not None and kind != KIND:
        raise InvalidSpec(f"The output of {what} has kind {kind!r}, expected {KIND!r}.")
    items = parsed.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InvalidSpec(f"The output of {what} has 'items' that is not a list.")
    for item in items:
        line_col = getattr(item, "lc", None)
        if line_col is not None:
            documents.normalize_comments(item, line_col.col or 0)
    return items, parsed.get("results")


def check_krm(node: Any, where: str) -> None:
    """Raise `InvalidSpec` unless `node` is a KRM resource (apiVersion, kind and metadata.name set)."""
    problem = krm_problem(node)
    if problem is not None:
        raise InvalidSpec(f"{where} {problem}")


def krm_problem(node: Any) -> str | None:
    """Why `node` is not a KRM resource (to follow a description of it in a message), or None when it is."""
    if not isinstance(node, dict):
        return "is not a KRM resource: it is not a mapping."
    for key in ("apiVersion", "kind"):
        value = node.get(key)
        if not value or not isinstance(value, str):
            return f"is not a KRM resource: it has no `{key}`."
    metadata = node.get("metadata")
    if not isinstance(metadata, dict):
        return "is not a KRM resource: it has no `metadata`."
    name = metadata.get("name")
    if name is None or isinstance(name, dict | list) or str(name) == "":
        return "is not a KRM resource: it has no `metadata.name`."
    annotations = metadata.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        return "has `metadata.annotations` that is not a mapping."
    labels = metadata.get("labels")
    if labels is not None and not isinstance(labels, dict):
        return "has `metadata.labels` that is not a mapping."
    return None


def annotation(node: Any, key: str) -> str | None:
    """A string annotation of a resource, or None."""
    return annotation_in(annotations_of(node), key)


def annotations_of(node: Any) -> dict[Any, Any]:
    """The annotations map of a resource ({} when it has none), for several `annotation_in` look-ups."""
    annotations = node.get("metadata", {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def annotation_in(annotations: dict[Any, Any], key: str) -> str | None:
    """A string annotation from `annotations_of(node)`, or None."""
    value = annotations.get(key)
    if type(value) is str:
        return value
    return None if value is None else str(documents.plain_value(value))


def strip_internal(node: Any, *, drop_empty: bool) -> None:
    """Remove the annotations kpt uses in transit; with `drop_empty`, drop `annotations` left empty."""
    metadata = node.get("metadata")
    if not isinstance(metadata, dict):
        return
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        return
    if type(annotations) is dict:
        pop = annotations.pop
        for key in INTERNAL_ANNOTATIONS:
            pop(key, None)
    else:
        for key in [k for k in annotations if k in INTERNAL_ANNOTATIONS]:
            _delete(annotations, key)
    if drop_empty and not annotations:
        _delete(metadata, "annotations")


def lacks_annotations(node: Any) -> bool:
    """Whether `ensure_annotations` would give the resource an annotations map."""
    metadata = node.get("metadata")
    return isinstance(metadata, dict) and not isinstance(metadata.get("annotations"), dict)


def has_empty_annotations(node: Any) -> bool:
    """Whether `drop_empty_annotations` would remove an empty annotations map."""
    metadata = node.get("metadata")
    return isinstance(metadata, dict) and metadata.get("annotations") == {}


def ensure_annotations(node: Any) -> None:
    """Give a resource an (empty) annotations map at the end of its metadata if it has none.

    kpt keeps its path/index annotations on every resource while rendering, so `annotations` holds its place
    in `metadata` from the moment a resource is read; keys that functions add later go after it. Empty maps
    are dropped again when files are written.
    """
    if lacks_annotations(node):
        metadata = node["metadata"]
        metadata["annotations"] = documents.new_map() if hasattr(metadata, "ca") else {}


def drop_empty_annotations(node: Any) -> None:
    """Remove an empty `metadata.annotations` map before a resource is written to a file."""
    if has_empty_annotations(node):
        _delete(node["metadata"], "annotations")


def _delete(mapping: Any, key: Any) -> None:
    del mapping[key]
    comment_attrs = getattr(mapping, "ca", None)
    if comment_attrs is not None:
        comment_attrs.items.pop(key, None)


def config_map(data: Mapping[str, str]) -> dict[str, Any]:
    """The ConfigMap kpt builds from a pipeline entry's `configMap` (all values as strings)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "function-input"},
        "data": {str(k): str(v) for k, v in data.items()},
    }
