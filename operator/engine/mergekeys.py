"""kpt's merge keys: the `kpt-merge` comment on `metadata:` and the upstream-identifier annotation.

When a package is cloned or upgraded, kpt (and Porch, best effort) marks every resource with where it came
from, so that a later three-way merge matches resources even after the downstream renamed them:

    metadata: # kpt-merge: <namespace>/<name>
      annotations:
        internal.kpt.dev/upstream-identifier: '<group>|<kind>|<namespace or default>|<name>'

An existing `kpt-merge` comment is kept (it names the upstream identity); any other comment on that line is
replaced. Resources without name, namespace and labels are left alone. `identity` gives the key the
resource-merge matches on.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from porch_operator.engine import documents

MERGE_COMMENT_PREFIX: Final = "kpt-merge:"
UPSTREAM_IDENTIFIER: Final = "internal.kpt.dev/upstream-identifier"


def _text(value: Any) -> str:
    return "" if value is None else str(documents.plain_value(value))


def group_of(api_version: Any) -> str:
    """The API group of an apiVersion ('' for the core group)."""
    text = _text(api_version)
    return text.rsplit("/", 1)[0] if "/" in text else ""


def merge_comment(node: Any) -> str:
    """The end-of-line comment on the `metadata:` key ('' when there is none)."""
    return documents.key_comment(node, "metadata")


def namespace_and_name_from_comment(comment: str) -> tuple[str, str] | None:
    """(namespace, name) from a `kpt-merge: ns/name` comment, or None."""
    text = comment.strip().removeprefix("#").strip()
    if not text.startswith(MERGE_COMMENT_PREFIX):
        return None
    parts = text.removeprefix(MERGE_COMMENT_PREFIX).strip().split("/", 1)
    if len(parts) != 2:
        return None
    return parts[0], parts[1]


def identity(node: Any, path: str) -> tuple[str, str, str, str, str]:
    """What resource-merge matches resources on: group, kind, namespace, name (comment first), path."""
    return (*facts(node).identity, path)


class MergeFacts(NamedTuple):
    """What resource-merge needs to know of a resource, worked out in one pass (see `facts`)."""

    has_keys: bool  # `has_keys(node)`
    identity: tuple[str, str, str, str]  # `identity(node, path)` without the path


def facts(node: Any) -> MergeFacts:
    """`has_keys(node)` and `identity(node, ...)`, from one reading of the resource."""
    if not isinstance(node, dict):
        return MergeFacts(True, ("", "", "", ""))  # (no identity: only maps are matched)
    get = documents.lookup
    current = merge_comment(node)
    metadata = get(node, "metadata")
    if not isinstance(metadata, dict):
        metadata = None
    group, kind = group_of(get(node, "apiVersion")), _text(get(node, "kind"))
    name = _text(get(metadata, "name")) if metadata is not None else ""
    namespace = _text(get(metadata, "namespace")) if metadata is not None else ""
    identity = (group, kind, *(namespace_and_name_from_comment(current) or (namespace, name)))
    if metadata is None or (not name and not namespace and not get(metadata, "labels")):
        return MergeFacts(True, identity)
    comment, value = _keys_for(group, kind, namespace, name, current)
    annotations = get(metadata, "annotations")
    has = (
        current == comment
        and isinstance(annotations, dict)
        and documents.plain_value(get(annotations, UPSTREAM_IDENTIFIER)) == value
    )
    return MergeFacts(has, identity)


def _expected(node: Any) -> tuple[str, str] | None:
    """The merge comment and upstream identifier a resource should carry, or None when it gets none."""
    if not isinstance(node, dict):
        return None
    metadata = node.get("metadata")
    if not isinstance(metadata, dict):
        return None
    name, namespace = _text(metadata.get("name")), _text(metadata.get("namespace"))
    if not name and not namespace and not metadata.get("labels"):
        return None
    group, kind = group_of(node.get("apiVersion")), _text(node.get("kind"))
    return _keys_for(group, kind, namespace, name, merge_comment(node))


def _keys_for(group: str, kind: str, namespace: str, name: str, current: str) -> tuple[str, str]:
    """The merge comment and upstream identifier of a resource whose comment is now `current`.

    An existing `kpt-merge` comment is kept and names the identity; otherwise one is made from the metadata.
    """
    comment = current if MERGE_COMMENT_PREFIX in current else f"{MERGE_COMMENT_PREFIX} {namespace}/{name}"
    namespace, name = namespace_and_name_from_comment(comment) or (namespace, name)
    return comment, f"{group}|{kind}|{namespace or 'default'}|{name}"


def has_keys(node: Any) -> bool:
    """Whether the resource already carries the merge keys `add` would give it (or gets none)."""
    return facts(node).has_keys


def add(node: Any) -> Any:
    """Add the merge comment and upstream-identifier annotation; returns the node (maybe a new map object)."""
    expected = _expected(node)
    if expected is None:
        return node
    comment, value = expected
    if not isinstance(node, CommentedMap):
        node = documents.commented_map(node.items())
    metadata = node["metadata"]
    if merge_comment(node) != comment:
        documents.set_key_comment(node, "metadata", comment)
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        annotations = documents.new_map()
        metadata["annotations"] = annotations
    if documents.plain_value(annotations.get(UPSTREAM_IDENTIFIER)) != value:
        annotations[UPSTREAM_IDENTIFIER] = SingleQuotedScalarString(value)
    return node
