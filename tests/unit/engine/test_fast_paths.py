"""The engine's shortcuts give exactly what the plain code they stand for gives.

Function input: items whose root is a ruamel.yaml map are written from a plain copy of the root; the
reference is `json_line(with_annotations(...))`, else block YAML, as the ResourceList was always built; a list
sent as one JSON document reads as the YAML list with the same items. Placement: output whose placement
annotations are as they were sent goes where the reconciliation of those annotations puts it.
Fold: `trees.reconcile` skips equal values of plain types and reads ruamel.yaml maps through `dict`; the
reference is the straightforward recursion it replaced. Both are compared on random trees that carry comments,
styled and verbatim scalars.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from porch_operator.engine import documents, mergekeys, render, resourcelists, trees
from porch_operator.engine.resources import PackageResources
from porch_operator.errors import InvalidSpec

_keys = st.sampled_from(["a", "b", "name", "metadata", "annotations", "labels", "spec", "1"])
_scalars = st.one_of(
    st.sampled_from(["x", "y", "true", "0644", "", "a: b"]),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(
        [
            documents.RawPlain("0644"),
            documents.RawPlain("True"),
            documents.RawPlain("~"),
            DoubleQuotedScalarString("x"),
            SingleQuotedScalarString("y"),
        ]
    ),
)


def _commented(mapping: dict[Any, Any], comment: int) -> Any:
    node = CommentedMap(mapping)
    if mapping and comment:
        text = "kpt-merge: ns/name" if comment == 1 else "a user comment"
        node.ca.items[next(iter(mapping))] = [None, None, CommentToken(f"# {text}\n", CommentMark(0)), None]
    return node


_trees = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(CommentedSeq),
        st.dictionaries(st.one_of(_keys, st.integers(0, 2)), children, max_size=4),
        st.builds(_commented, st.dictionaries(_keys, children, max_size=4), st.integers(0, 2)),
    ),
    max_leaves=12,
)
_resources = st.builds(
    lambda root, metadata, annotations, comment: _commented(
        {**root, "metadata": {**metadata, "annotations": annotations}}, comment
    ),
    st.dictionaries(_keys, _trees, max_size=3),
    st.dictionaries(_keys, _trees, max_size=2),
    st.dictionaries(_keys, _scalars, max_size=2),
    st.integers(0, 2),
)


def _reference_item(node: Any, seq_indent: str, extra: dict[str, str]) -> str:
    annotated = resourcelists.with_annotations(node, extra)
    line = documents.json_line(annotated)
    if line is not None:
        return line
    try:
        return documents.emit_document(annotated, seq_indent=resourcelists._seq(seq_indent))
    except Exception as exc:
        return f"error {type(exc).__name__}"


@settings(max_examples=400, deadline=None)
@given(node=_resources, wide=st.booleans())
def test_function_input_items_are_written_as_before(node: Any, wide: bool) -> None:
    seq_indent = documents.WIDE if wide else documents.COMPACT
    extra = resourcelists.function_input_annotations(
        path="a.yaml", index=0, item_id=3, seq_indent=seq_indent, package_path="/"
    )
    before = documents.emit_document(node) if _emits(node) else None
    expected = _reference_item(node, seq_indent, extra)
    try:
        actual, as_json = resourcelists.item_text(node, seq_indent, extra)
    except Exception as exc:
        actual, as_json = f"error {type(exc).__name__}", False
    assert actual == expected
    if as_json:  # known to be JSON-safe, the item is written without the check, the same
        assert resourcelists.item_text(node, seq_indent, extra, json_safe=True) == (actual, True)
    if before is not None:
        assert documents.emit_document(node) == before  # the resource itself is left as it was


@settings(max_examples=300, deadline=None)
@given(
    nodes=st.lists(_resources, max_size=4),
    config=st.one_of(st.none(), _resources, st.just(resourcelists.config_map({"a": "b", "n": "1"}))),
)
def test_a_json_resource_list_reads_as_the_yaml_list_it_stands_for(nodes: list[Any], config: Any) -> None:
    """The whole list goes as one JSON document only when every item and the functionConfig go as JSON,
    and then every YAML reader gets what it gets from the YAML list with the same items as JSON lines."""
    import yaml

    items = []
    for number, node in enumerate(nodes):
        extra = resourcelists.function_input_annotations(
            path="a.yaml", index=number, item_id=number, seq_indent=documents.COMPACT, package_path="/"
        )
        try:
            items.append(resourcelists.item_text(node, documents.COMPACT, extra))
        except Exception:
            return  # a tree nothing can write (compared with the old code above)
    try:
        sent = resourcelists.build(items, config).decode()
        as_yaml = resourcelists.build([(text, False) for text, _ in items], None).decode()
    except Exception:
        return
    every = all(as_json for _, as_json in items)
    config_json = config is None or documents.json_line(config) is not None
    assert sent.startswith("{") == (every and config_json)
    if not sent.startswith("{"):
        return
    expected = yaml.load(as_yaml, Loader=yaml.CSafeLoader)
    if config is not None:
        expected["functionConfig"] = yaml.load(documents.json_line(config) or "", Loader=yaml.CSafeLoader)
    assert yaml.load(sent, Loader=yaml.CSafeLoader) == expected
    assert documents.load_function_output(sent, what="test") == expected


@settings(max_examples=200, deadline=None)
@given(mapping=st.dictionaries(st.one_of(_keys, st.integers(0, 2)), _trees, max_size=6), extra=_keys)
def test_commented_map_builds_what_the_constructor_builds(mapping: dict[Any, Any], extra: str) -> None:
    fast, reference = documents.commented_map(mapping.items()), CommentedMap(mapping)
    assert type(fast) is CommentedMap
    assert list(fast.items()) == list(reference.items()) and fast._ok == reference._ok
    for node in (fast, reference):  # and both go on to behave the same
        node[extra] = "changed"
        node.insert(0, "first", 1)
        node.pop(next(iter(mapping), extra), None)
    assert list(fast.items()) == list(reference.items()) and fast._ok == reference._ok
    if _emits(reference):
        assert documents.emit_document(fast) == documents.emit_document(reference)


_KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: {}\n"


def _placement(renderer: Any, annotations: dict[str, Any], source: Any) -> Any:
    try:
        item = renderer._place("", {"metadata": {"name": "n"}}, annotations, source, "the function")
    except InvalidSpec as exc:
        return str(exc)
    return (item.package, item.path, item.index, item.seq_indent)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from([*render._PLACEMENT, "other"]),
        st.one_of(
            st.none(),
            st.integers(0, 2),
            st.sampled_from(
                ["a.yaml", "b/c.yaml", "x//./y.yaml", "../z.yaml", "0", "1", "/", "/sub", "wide"]
            ),
        ),
        max_size=3,
    ),
    package=st.sampled_from(["", "sub"]),
    index=st.integers(0, 2),
    wide=st.booleans(),
)
def test_output_placed_as_it_was_sent_goes_where_the_slow_way_puts_it(
    changes: dict[str, Any], package: str, index: int, wide: bool
) -> None:
    files = {"Kptfile": _KPTFILE.format("root"), "sub/Kptfile": _KPTFILE.format("sub")}
    renderer = render._Renderer(PackageResources(files), runtime=None, allow_exec=False, image_prefix="")  # type: ignore[arg-type]
    seq_indent = documents.WIDE if wide else documents.COMPACT
    source = render._Item(node={}, seq_indent=seq_indent, package=package, path="a.yaml", index=index)
    sent = resourcelists.function_input_annotations(
        path=source.path, index=index, item_id=0, seq_indent=seq_indent, package_path="/" + package
    )
    annotations: dict[str, Any] = {**sent, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del annotations[key]
    source.sent = tuple(sent[key] for key in render._PLACEMENT)
    fast = _placement(renderer, annotations, source)
    source.sent = None  # never sent: the reconciliation of the annotations decides
    assert fast == _placement(renderer, annotations, source)


def _emits(node: Any) -> bool:
    try:
        documents.emit_document(node)
    except Exception:
        return False
    return True


def _reference_reconcile(old: Any, new: Any) -> Any:
    """`trees.reconcile` as it was written before its shortcuts."""
    if isinstance(old, dict | list) and type(old) is not type(new) and old == new:
        return old
    if isinstance(old, dict) and isinstance(new, dict):
        if old == new:
            return old
        for key in [k for k in old if k not in new]:
            trees.delete_key(old, key)
        for key, value in new.items():
            if key in old:
                merged = _reference_reconcile(old[key], value)
                if merged is not old[key]:
                    old[key] = merged
            else:
                old[key] = value
        return old
    if isinstance(old, list) and isinstance(new, list):
        if old == new:
            return old
        common = min(len(old), len(new))
        for index in range(common):
            merged = _reference_reconcile(old[index], new[index])
            if merged is not old[index]:
                old[index] = merged
        del old[common:]
        old.extend(new[common:])
        return old
    if not isinstance(old, dict | list) and not isinstance(new, dict | list) and trees.same_scalar(old, new):
        return old
    return new


def _snapshot(node: Any) -> Any:
    """Everything a written file depends on: types, values, key order and comments."""
    if isinstance(node, dict):
        comments = {}
        if isinstance(node, CommentedMap):
            comments = {k: [str(getattr(t, "value", t)) for t in v] for k, v in node.ca.items.items()}
        return (type(node).__name__, [(k, _snapshot(v)) for k, v in node.items()], comments)
    if isinstance(node, list):
        return (type(node).__name__, [_snapshot(v) for v in node])
    return (type(node).__name__, repr(node))


@settings(max_examples=400, deadline=None)
@given(old=_trees, new=_trees)
def test_fold_gives_what_the_plain_recursion_gives(old: Any, new: Any) -> None:
    mine, theirs = documents.copy_tree(old), documents.copy_tree(old)
    result = trees.reconcile(mine, documents.copy_tree(new))
    expected = _reference_reconcile(theirs, documents.copy_tree(new))
    assert _snapshot(result) == _snapshot(expected)
    assert _snapshot(mine) == _snapshot(theirs)


def _reference_split(text: str) -> list[str] | None:
    """`documents._split_documents` as it was written line by line."""
    import re

    separator = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?$")
    chunks: list[list[str]] = [[]]
    for line in text.split("\n"):
        if separator.match(line):
            if line.strip() not in ("---", "..."):
                return None
            chunks.append([])
            continue
        chunks[-1].append(line)
    bodies = ["\n".join(chunk).strip("\n") for chunk in chunks]
    return [body + "\n" for body in bodies if body.strip()]


_lines = st.sampled_from(
    ["---", "...", "--- ", "---\t", "--- # c", "...x", "----", "a: 1", "", " ", "---\r", "  - x", "\r", "#"]
)


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(_lines, max_size=8), newline=st.booleans())
def test_streams_split_into_documents_as_before(lines: list[str], newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if newline else "")
    assert documents._split_documents(text) == _reference_split(text)


@settings(max_examples=300, deadline=None)
@given(prefixes=st.lists(st.text(alphabet=" -", max_size=210), min_size=1, max_size=4))
def test_deep_indentation_is_found_as_before(prefixes: list[str]) -> None:
    import re

    text = "\n".join(prefix + "x" for prefix in prefixes)
    longest = max(map(len, re.findall(r"^[ -]*", text, re.MULTILINE)), default=0)
    assert documents._deeper_than(text, 200) == (longest > 200)


_variants = st.sampled_from(["same", "same", "respelled", "changed", "null"])


def _variant(tree: Any, how: str) -> Any:
    """A copy of `tree`, maybe with its first scalar respelled, changed or nulled."""
    copied = documents.copy_tree(tree)
    if how == "same" or not isinstance(copied, dict | list):
        return copied
    stack = [copied]
    while stack:
        node = stack.pop()
        slots = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for slot, value in slots:
            if isinstance(value, dict | list):
                stack.append(value)
                continue
            node[slot] = {
                "respelled": DoubleQuotedScalarString(str(value)),
                "changed": "changed",
                "null": None,
            }[how]
            return copied
    return copied


@settings(max_examples=500, deadline=None)
@given(tree=_trees, dest_how=_variants, original_how=_variants, updated_how=_variants)
def test_merge_shortcuts_for_untouched_subtrees_and_scalars_change_nothing(
    tree: Any, dest_how: str, original_how: str, updated_how: str
) -> None:
    from porch_operator.engine import merge3
    from porch_operator.errors import InvalidSpec

    def run(shortcut: bool) -> Any:
        sides = [_variant(tree, how) for how in (dest_how, original_how, updated_how)]
        saved = merge3._untouched, merge3._scalar_kept
        if not shortcut:
            merge3._untouched = lambda *_: False  # type: ignore[assignment]
            merge3._scalar_kept = lambda *_: False  # type: ignore[assignment]
        try:
            result = merge3.merge(*(side if isinstance(side, dict) else {"v": side} for side in sides))
        except InvalidSpec as exc:
            return ("error", str(exc))
        finally:
            merge3._untouched, merge3._scalar_kept = saved  # type: ignore[assignment]
        return _snapshot(result)

    assert run(shortcut=True) == run(shortcut=False)


class _CopyingCache(documents.DocumentCache):
    """The document cache as it was before trees were shared: every reader gets a copy of its own."""

    def get(self, text: str) -> documents.Document | None:
        document = super().get(text)
        return (
            None
            if document is None
            else documents.Document(documents.copy_tree(document.node), document.seq_indent)
        )

    def put(self, text: str, document: documents.Document) -> None:
        super().put(text, documents.Document(documents.copy_tree(document.node), document.seq_indent))

    def owns(self, node: Any) -> bool:
        return False

    def text_of(self, document: documents.Document) -> str | None:
        return None


class _CheckedCache(documents.DocumentCache):
    """The shared cache, remembering every instance so a test can check its trees were never changed."""

    made: list[_CheckedCache] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _CheckedCache.made.append(self)

    def changed_trees(self) -> list[str]:
        return [
            text
            for node, text, seq_indent in self._texts.values()
            if documents.emit_document(node, seq_indent=seq_indent) != text
        ]


_sides = st.sampled_from(["same", "same", "same", "respelled", "changed", "null", "missing"])


def _resource_text(name: str, spec: Any, how: str, merge_comment: bool, group: str = "") -> str | None:
    """A resource document in one package (None when this package does not have it).

    Kinds of a Kubernetes group merge only the lists their schema names; in other groups (`group`) a list
    of maps that all have a `name` (or another of kyaml's keys) merges element by element.
    """
    if how == "missing":
        return None
    api_version = f"{group}/v1" if group else "v1"
    node = _commented(
        {
            "apiVersion": api_version,
            "kind": "Thing",
            "metadata": {"name": name, "annotations": {}},
            "spec": spec,
        },
        0,
    )
    if merge_comment:
        # With both merge keys in place, nothing needs to copy the resource before the three-way merge,
        # which then works on the shared trees themselves.
        documents.set_key_comment(node, "metadata", f"kpt-merge: /{name}")
        node["metadata"]["annotations"][mergekeys.UPSTREAM_IDENTIFIER] = f"{group}|Thing|default|{name}"
    node["spec"] = _variant(spec, "same" if how == "missing" else how)
    try:
        return documents.emit_document(node)
    except Exception:
        return None


# Lists of maps that all have a `name`: associative lists, merged element by element.
_named_lists = st.lists(
    st.builds(
        lambda name, rest: {**rest, "name": name},
        st.sampled_from(["a", "b", "c"]),
        st.dictionaries(st.sampled_from(["image", "x"]), _trees, max_size=2),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda element: element["name"],
)


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(
        st.one_of(_trees, st.dictionaries(st.sampled_from(["containers", "items"]), _named_lists)),
        min_size=1,
        max_size=4,
    ),
    sides=st.lists(st.tuples(_sides, _sides, _sides), min_size=4, max_size=4),
    merge_comment=st.booleans(),
)
def test_resource_merge_with_shared_trees_gives_what_private_copies_gave(
    specs: list[Any], sides: list[tuple[str, str, str]], merge_comment: bool
) -> None:
    import pytest

    from porch_operator.engine import packagemerge
    from porch_operator.errors import PorchError

    packages: list[dict[str, str]] = [
        {"Kptfile": "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: p\n"} for _ in range(3)
    ]
    for number, spec in enumerate(specs):
        for package, how in zip(packages, sides[number], strict=True):
            text = _resource_text(f"r{number}", spec, how, merge_comment, "" if number % 2 else "example.com")
            if text is not None:
                path = f"file-{number % 2}.yaml"
                package[path] = package[path] + "---\n" + text if path in package else text

    def run(cache_class: type[documents.DocumentCache]) -> Any:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(documents, "DocumentCache", cache_class)
            try:
                return packagemerge.resource_merge(*packages)
            except PorchError as exc:
                return ("error", type(exc).__name__, str(exc))

    _CheckedCache.made.clear()
    shared = run(_CheckedCache)
    assert shared == run(_CopyingCache)
    assert [cache.changed_trees() for cache in _CheckedCache.made] == [[]]


_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)


@settings(max_examples=400, deadline=None)
@given(node=_resources, text=_texts)
def test_json_lines_hold_what_the_standard_writer_writes(node: Any, text: str) -> None:
    import json

    node["metadata"]["annotations"]["text"] = text
    line = documents.json_line(node)
    if line is None:
        return
    reference = json.dumps(node, ensure_ascii=True, check_circular=False)
    assert json.loads(line, object_pairs_hook=list) == json.loads(reference, object_pairs_hook=list)
    # no raw control characters or line breaks of any YAML version, and no surrogate-pair escapes (go-yaml
    # refuses them): every YAML reader reads the line as the data
    assert not documents._YAML_UNSAFE.search(line) and "\n" not in line and "\\ud8" not in line
    import yaml
    import yaml_rs

    data = json.loads(reference)
    assert yaml.safe_load(line) == data
    assert yaml_rs.loads("x: " + line, parse_datetime=False)["x"] == data


def _reference_seq_indent(text: str) -> str:
    """`documents.detect_seq_indent` as it was written line by line."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        prefix, dash, _ = line.partition("- ")
        if not dash or prefix.strip(" "):
            continue
        key_line = next(
            (
                above.split("#", 1)[0]
                for above in reversed(lines[:index])
                if not above.strip(" ").startswith("#")
            ),
            None,
        )
        if key_line is None:
            continue
        trimmed = key_line.strip(" ")
        if trimmed.count(":") != 1 or not trimmed.endswith(":"):
            continue
        key_indent = len(key_line) - len(key_line.lstrip(" "))
        if len(prefix) == key_indent:
            return documents.COMPACT
        if len(prefix) - key_indent == 2:
            return documents.WIDE
    return documents.COMPACT


def _reference_split_comments(chunk: str) -> tuple[str, dict[int, str]] | None:
    """`documents._split_comments` as it was written line by line, plus the one-space check after it."""
    blocks = ("|", "|-", "|+", ">", ">-", ">+")
    lines = chunk.split("\n")
    comments: dict[int, str] = {}
    block_indent: int | None = None
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if "#" in line:
            if stripped.startswith("#"):
                return None
            position = line.find(" #")
            if position >= 0:
                if "'" in line[:position] or '"' in line[:position]:
                    return None
                before = line[:position].rstrip(" ")
                if before.endswith(blocks):
                    return None
                comments[index] = line[position + 1 :]
                lines[index] = before
        if lines[index].endswith(blocks):
            block_indent = indent
    if any(chunk.split("\n")[i] != lines[i] + " " + text for i, text in comments.items()):
        return None
    return "\n".join(lines), comments


_yaml_lines = st.lists(
    st.sampled_from(
        [
            "a:",
            "a: 1",
            "  b:",
            "- x",
            "  - x",
            "    - y",
            "# c",
            "  # c",
            "a: 1 # c",
            "a: 1  # c",
            "a: |",
            "a: | # c",
            "  text # not a comment",
            "a: '#' # c",
            'a: "x" # c',
            "url: http://h/#x",
            "",
            " ",
            "a: >-",
            "  - b: 1 # c",
            "k: v#",
            "#",
            "a: x #",
            "- - x",
        ]
    ),
    max_size=10,
)


@settings(max_examples=800, deadline=None)
@given(lines=_yaml_lines, newline=st.booleans())
def test_sequence_indentation_and_comments_are_found_as_before(lines: list[str], newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if newline else "")
    assert documents.detect_seq_indent(text) == _reference_seq_indent(text)
    assert documents._split_comments(text) == _reference_split_comments(text)


_plain_values = st.recursive(
    st.one_of(
        st.sampled_from(["x", "y", "0644", ""]), st.integers(-2, 2), st.booleans(), st.none(), st.floats()
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(_keys, st.integers(0, 2)), children, max_size=3),
    ),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None)
@given(old=_trees, new=_plain_values)
def test_a_fold_into_a_json_safe_tree_reports_what_it_added(old: Any, new: Any) -> None:
    """What render relies on to skip the JSON check: the folded tree is safe exactly when what it took is."""
    if not documents.json_safe(old):
        return
    inserted: list[Any] = []
    result = trees.reconcile(documents.copy_tree(old), documents.copy_tree(new), inserted)
    assert documents.json_safe(result) == all(map(documents.json_safe, inserted))


# The line reader (`documents._LineReader`) reads documents in our own form without a YAML parser; with it or
# without it (`read_lines=False`: yaml-rs or libyaml, then an emitted copy compared with the text), reading a
# document gives the same tree: the same types, spellings, key order and comments, or None for both.

_tricky_scalars = st.one_of(
    _scalars,
    st.sampled_from(
        [
            "it's",
            "-0",
            "007",
            "1e3",
            "infinity",
            ".5",
            "#x",
            "a #b",
            " lead",
            "trail ",
            "é ü",
            '"q"',
            "line\nbreak",
            "{}",
            "[]",
            "- x",
            "k:",
            "=",
            "yes",
            "NULL",
            "12345678901234567890123",
            "tab\there",
            "x\u2028y",
        ]
    ),
    st.integers(-(2**70), 2**70),
    st.sampled_from(
        [
            SingleQuotedScalarString("it's"),
            SingleQuotedScalarString("plain"),
            DoubleQuotedScalarString("plain"),
            DoubleQuotedScalarString("a\\b"),
            documents.RawPlain("-0"),
            documents.RawPlain("1e3"),
        ]
    ),
)
_documents = st.builds(
    _commented,
    st.dictionaries(
        st.one_of(_keys, st.sampled_from(["x y", "k'", "-", "a-b", "1"])),
        st.recursive(
            _tricky_scalars,
            lambda children: st.one_of(
                st.lists(children, max_size=3), st.dictionaries(_keys, children, max_size=4)
            ),
            max_leaves=12,
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(0, 2),
)


def _read_both_ways(text: str) -> documents.Document | None:
    mine = documents._fast_parse_chunk(text)
    theirs = documents._fast_parse_chunk(text, read_lines=False)
    assert (mine is None) == (theirs is None), text
    if mine is not None and theirs is not None:
        assert _snapshot(mine.node) == _snapshot(theirs.node), text
        assert mine.seq_indent == theirs.seq_indent
    return mine


@settings(max_examples=600, deadline=None)
@given(node=_documents, wide=st.booleans())
def test_documents_read_line_by_line_are_read_as_before(node: Any, wide: bool) -> None:
    text = documents.emit_document(node, seq_indent=documents.WIDE if wide else documents.COMPACT)
    mine = _read_both_ways(text)
    if mine is not None:
        # Read the fast way, a document is written back as it was.
        assert documents.emit_document(mine.node, seq_indent=mine.seq_indent) == text


_line_bodies = st.sampled_from(
    [
        "a:",
        "b:",
        "a: 1",
        "b: x",
        "c: 'q'",
        'd: "z"',
        "- x",
        "- a: 1",
        "- b:",
        "f: {}",
        "g: []",
        "- {}",
        "- []",
        "metadata: # kpt-merge: ns/name",
        "a: 1 # c",
        "- x # c",
        "- a: 1 # c",
        "c: 'q' # c",
        "c: 'x # y'",
        "# full line",
        "e: x#y",
        "e: x  # two spaces",
        "e: |",
        "h: -0",
        "h: 0644",
        "i: null",
        "j: ~",
        "k: 'it''s'",
        "k: 'it's'",
        "l: |",
        "text",
        "- - x",
        "m:  x",
        "n: x ",
        "-",
        "- ",
        "p: 99999999999999999999",
        "q: 1.5",
        "r: true",
        "s: 'true'",
        "t: '0644'",
        'u: "a\\b"',
        "v: a: b",
        "'w': 1",
        "x y: z",
        "y: y",
        "",
    ]
)
# Lines at the indentations documents use, so that nested maps and both sequence styles come up often.
_document_lines = st.lists(
    st.builds(lambda indent, body: " " * indent + body, st.sampled_from([0, 0, 2, 2, 4, 6]), _line_bodies),
    min_size=1,
    max_size=12,
)


@settings(max_examples=1500, deadline=None)
@given(lines=_document_lines)
@example(lines=["a:", "- x", "b:", "  - x"])  # one sequence written compact, the next wide
@example(lines=["a:", "  - x", "b:", "- x"])
def test_any_lines_are_read_as_before(lines: list[str]) -> None:
    _read_both_ways("\n".join(lines) + "\n")


def _reference_expected(node: Any, current: str) -> tuple[str, str] | None:
    """`mergekeys._expected` as it was, taking the current comment."""
    if not isinstance(node, dict):
        return None
    metadata = node.get("metadata")
    if not isinstance(metadata, dict):
        return None
    name, namespace = mergekeys._text(metadata.get("name")), mergekeys._text(metadata.get("namespace"))
    if not name and not namespace and not metadata.get("labels"):
        return None
    comment = current
    if mergekeys.MERGE_COMMENT_PREFIX not in comment:
        comment = f"{mergekeys.MERGE_COMMENT_PREFIX} {namespace}/{name}"
    from_comment = mergekeys.namespace_and_name_from_comment(comment)
    if from_comment is not None:
        namespace, name = from_comment
    group = mergekeys.group_of(node.get("apiVersion"))
    return comment, f"{group}|{mergekeys._text(node.get('kind'))}|{namespace or 'default'}|{name}"


def _reference_has_keys(node: Any) -> bool:
    """`mergekeys.has_keys` as it was, before it shared one reading with `identity`."""
    current = mergekeys.merge_comment(node) if isinstance(node, dict) else ""
    expected = _reference_expected(node, current)
    if expected is None:
        return True
    comment, value = expected
    annotations = node["metadata"].get("annotations")
    return (
        current == comment
        and isinstance(annotations, dict)
        and documents.plain_value(annotations.get(mergekeys.UPSTREAM_IDENTIFIER)) == value
    )


def _reference_identity(node: Any, path: str) -> tuple[str, ...]:
    """`mergekeys.identity` as it was."""
    metadata = node.get("metadata") if isinstance(node, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    from_comment = mergekeys.namespace_and_name_from_comment(mergekeys.merge_comment(node))
    namespace, name = from_comment or (
        mergekeys._text(metadata.get("namespace")),
        mergekeys._text(metadata.get("name")),
    )
    return (
        mergekeys.group_of(node.get("apiVersion")),
        mergekeys._text(node.get("kind")),
        namespace,
        name,
        path,
    )


_names = st.one_of(
    st.sampled_from(["", "web", "a/b", " x ", "0644"]),
    st.sampled_from([documents.RawPlain("0644"), SingleQuotedScalarString("web"), None, 3, True]),
)
_merge_comments = st.sampled_from(
    ["", "kpt-merge: shop/web", "kpt-merge: /web", "kpt-merge: web", "kpt-merge:  a/b/c ", "a user comment"]
)
_identifiers = st.one_of(
    st.sampled_from(["apps|Deployment|shop|web", "|ConfigMap|default|web", "x"]),
    st.builds(SingleQuotedScalarString, st.sampled_from(["apps|Deployment|shop|web", "|Thing|default|web"])),
)


@st.composite
def _merge_resources(draw: st.DrawFn) -> Any:
    """Resources with and without merge keys, often with exactly the keys `mergekeys.add` would give."""
    metadata: dict[str, Any] = {}
    for key, values in (("name", _names), ("namespace", _names)):
        if draw(st.booleans()):
            metadata[key] = draw(values)
    if draw(st.booleans()):
        metadata["labels"] = draw(st.sampled_from([{}, {"app": "web"}]))
    node: dict[str, Any] = {
        "apiVersion": draw(st.sampled_from(["v1", "apps/v1", "example.com/v1", None])),
        "kind": draw(st.sampled_from(["Deployment", "ConfigMap", "Thing"])),
    }
    namespace, name = (mergekeys._text(metadata.get(k)) for k in ("namespace", "name"))
    matching = f"{mergekeys.MERGE_COMMENT_PREFIX} {namespace}/{name}"
    comment = draw(st.one_of(st.just(matching), _merge_comments))
    from_comment = mergekeys.namespace_and_name_from_comment(comment) or (namespace, name)
    group = mergekeys.group_of(node["apiVersion"])
    identifier = f"{group}|{node['kind']}|{from_comment[0] or 'default'}|{from_comment[1]}"
    annotations = draw(st.sampled_from(["matching", "styled", "missing", "empty", "other", "list", "random"]))
    if annotations in ("matching", "styled"):
        value = identifier if annotations == "matching" else SingleQuotedScalarString(identifier)
        metadata["annotations"] = {mergekeys.UPSTREAM_IDENTIFIER: value}
    elif annotations == "empty":
        metadata["annotations"] = {}
    elif annotations == "other":
        metadata["annotations"] = {"a": "b"}
    elif annotations == "list":
        metadata["annotations"] = ["x"]
    elif annotations == "random":
        metadata["annotations"] = {mergekeys.UPSTREAM_IDENTIFIER: draw(_identifiers)}
    node["metadata"] = draw(st.sampled_from([metadata, metadata, metadata, "text", None]))
    root = _commented(node, 0)
    if comment and isinstance(node["metadata"], dict):
        documents.set_key_comment(root, "metadata", comment)
    return root if draw(st.booleans()) else dict(node)


@settings(max_examples=600, deadline=None)
@given(node=_merge_resources())
def test_merge_facts_are_what_has_keys_and_identity_gave(node: Any) -> None:
    assert mergekeys.has_keys(node) == _reference_has_keys(node)
    if isinstance(node, dict) and _reference_expected(node, mergekeys.merge_comment(node)) is not None:
        # Resources that need keys and get them: `add` gives what `has_keys` then accepts.
        assert mergekeys.has_keys(mergekeys.add(documents.copy_tree(node)))
    assert mergekeys.identity(node, "f.yaml") == _reference_identity(node, "f.yaml")


def _reference_find(elements: Any, key: str, value: str) -> Any:
    """How the merge found an associative list's element by value before it indexed the list once."""
    from porch_operator.engine import merge3

    if not isinstance(elements, list):
        return merge3._MISSING
    for element in elements:
        if merge3._element_value(element, key) == value:
            return element
    return merge3._MISSING


_list_elements = st.one_of(
    st.builds(dict, name=st.sampled_from(["a", "b", 1, "1", None, documents.RawPlain("1")])),
    st.builds(dict, other=st.just("x")),
    st.sampled_from(["a", "b", 1, "1", None]),
    st.just([]),
)


@settings(max_examples=400, deadline=None)
@given(elements=st.one_of(st.lists(_list_elements, max_size=5), st.none()), key=st.sampled_from(["name", ""]))
def test_associative_elements_are_found_by_value_as_before(elements: Any, key: str) -> None:
    from porch_operator.engine import merge3

    found = merge3._by_value(elements, key)
    values = [
        merge3._element_value(element, key) for element in (elements if isinstance(elements, list) else [])
    ]
    assert list(found) == list(dict.fromkeys(v for v in values if v is not None))
    for value in [*values, "a", "zz"]:
        if value is not None:
            assert found.get(value, merge3._MISSING) is _reference_find(elements, key, value)
