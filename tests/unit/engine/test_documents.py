"""The YAML layer: round trips keep comments and styles; both emitters write the same text; kyaml's rules."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from porch_operator.engine import documents
from porch_operator.errors import InvalidSpec

CANONICAL = """\
apiVersion: apps/v1
kind: Deployment
metadata: # kpt-merge: prod/web
  name: web
  namespace: prod
  annotations:
    config.kubernetes.io/local-config: "true"
    internal.kpt.dev/upstream-identifier: 'apps|Deployment|prod|web'
spec:
  replicas: 3
  paused: false
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.25
        args:
        - --port=8080
        env: []
      nodeSelector: {}
  script: |
    echo hello
    echo world
"""


def test_canonical_document_is_read_fast_and_written_back_unchanged() -> None:
    fast = documents._fast_parse(CANONICAL)
    assert fast is not None, "a canonical document with only a merge comment takes the fast path"
    docs = documents.parse_documents(CANONICAL, path="deploy.yaml")
    assert documents.emit_documents(docs) == CANONICAL
    assert documents.key_comment(docs[0].node, "metadata") == "kpt-merge: prod/web"


@pytest.mark.parametrize(
    "text",
    [
        "a: 1 # one\nb:\n  c: x # see\n  d: # a map\n    e: 'f'\nurl: http://h/#frag\n",
        "spec:\n  containers:\n  - name: app # the app\n    image: nginx:1.25 # kpt-set: ${image}\n",
        "script: |\n  echo 1 # not a comment\nafter: x # a comment\n",
    ],
)
def test_end_of_line_comments_take_the_fast_path(text: str) -> None:
    fast = documents._fast_parse(text)
    assert fast is not None
    assert documents.emit_documents(fast) == text
    assert documents.emit_documents(documents._slow_parse(text, "x.yaml")) == text


@pytest.mark.parametrize(
    "text",
    [
        "# head\na: 1\n",
        "a: 'x # y' # real\n",
        "a:\n- x # on an item\n",
        "a: | # after the indicator\n  text\n",
    ],
)
def test_other_comments_take_the_round_trip_parser(text: str) -> None:
    assert documents._fast_parse(text) is None
    assert documents.emit_documents(documents.parse_documents(text, path="x.yaml")) == text


def test_comments_styles_and_order_survive_a_round_trip() -> None:
    text = (
        "# head comment\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: cm # the name\n"
        "data:\n"
        "  z: '1'\n"
        '  a: "text"\n'
        "  # a full-line comment\n"
        "  b: 0012\n"
        "  c: True\n"
    )
    docs = documents.parse_documents(text, path="cm.yaml")
    assert documents.emit_documents(docs) == text
    assert list(docs[0].node["data"]) == ["z", "a", "b", "c"]


def test_end_of_line_comments_get_one_space_like_kyaml() -> None:
    docs = documents.parse_documents("a: 1   # wide\nb: 2\n", path="x.yaml")
    assert documents.emit_documents(docs) == "a: 1 # wide\nb: 2\n"


def test_multiple_documents_drop_empty_ones_and_markers() -> None:
    text = "---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n"
    docs = documents.parse_documents(text, path="multi.yaml")
    assert [doc.node for doc in docs] == [{"a": 1}, {"b": 2}]
    assert documents.emit_documents(docs) == "a: 1\n---\nb: 2\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:\n- x\n", documents.COMPACT),
        ("a:\n  - x\n", documents.WIDE),
        ("a:\n    - x\n", documents.COMPACT),  # four spaces is neither; kyaml falls back to compact
        ("a:\n  # comment\n  - x\n", documents.WIDE),
        ("a: b\n", documents.COMPACT),
    ],
)
def test_sequence_indentation_is_detected_as_kyaml_does(text: str, expected: str) -> None:
    assert documents.detect_seq_indent(text) == expected


def test_wide_documents_are_written_wide() -> None:
    text = "items:\n  - a: 1\n    b: 2\n  - c\n"
    docs = documents.parse_documents(text, path="w.yaml")
    assert docs[0].seq_indent == documents.WIDE
    assert documents.emit_documents(docs) == text


@pytest.mark.parametrize(
    ("value", "style"),
    [
        ("plain", ""),
        ("true", '"'),
        ("yes", '"'),
        ("1", '"'),
        ("0x1F", '"'),
        ("1.5e3", '"'),
        ("2024-01-02", '"'),
        ("", '"'),
        ("a: b", "'"),
        ("- item", "'"),
        ("#hash", "'"),
        ("|pipe", "'"),
        ("line\nbreak\n", "|"),
        ("tab\there", '"'),
        (" leading", "'"),
    ],
)
def test_string_styles_follow_go_yaml(value: str, style: str) -> None:
    assert documents.choose_string_style(value) == style


def test_invalid_yaml_is_an_invalid_spec_naming_the_file() -> None:
    with pytest.raises(InvalidSpec, match=r"bad\.yaml"):
        documents.parse_documents("a: [unclosed\n", path="bad.yaml")


def test_single_json_document_is_written_as_indented_json() -> None:
    node = {"kind": "ConfigMap", "apiVersion": "v1", "data": {"n": documents.RawPlain("12"), "s": "<&>"}}
    text = documents.emit_file("x.json", [documents.Document(node, documents.COMPACT)])
    assert text == (
        '{\n  "apiVersion": "v1",\n  "data": {\n    "n": 12,\n    "s": "\\u003c\\u0026\\u003e"\n  },\n'
        '  "kind": "ConfigMap"\n}\n'
    )


def test_function_output_items_are_dedented_comments() -> None:
    output = (
        "items:\n"
        "- apiVersion: v1\n"
        "  kind: ConfigMap\n"
        "  metadata:\n"
        "    name: a # eol\n"
        "  data:\n"
        "    k: v\n"
        "    # about j\n"
        "    j: w\n"
    )
    parsed = documents.load_function_output(output, what="test")
    item = parsed["items"][0]
    documents.normalize_comments(item, item.lc.col)
    assert documents.emit_document(item) == (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # eol\ndata:\n  k: v\n  # about j\n  j: w\n"
    )


# -- the fast emitter writes exactly what ruamel.yaml writes --------------------------------------------

_keys = st.sampled_from(["name", "a", "b-c", "x.y/z", "yes", "n", "1", "with space", "k:v", "#k", "-"])
_scalars = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(["true", "no", "0012", "1e3", "~", "a: b", "multi\nline\n", "ends\n\n", "x\n  y"]),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.none(),
)
_trees = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(tree=st.dictionaries(_keys, _trees, min_size=1, max_size=5), wide=st.booleans())
def test_fast_emitter_matches_ruamel(tree: dict[str, object], wide: bool) -> None:
    indent = documents.WIDE if wide else documents.COMPACT
    try:
        fast = documents._FastEmitter(indent).document(tree)
    except documents._Unsupported:
        return
    buffer = io.StringIO()
    documents._ruamel(indent).dump(tree, buffer)
    assert fast == buffer.getvalue()
    # and what we write reads back as the same data
    reread = documents.parse_documents(fast, path="t.yaml")[0].node
    from porch_operator.engine import trees

    assert trees.equal(trees.to_plain(reread), _as_read(tree))


def _as_read(node: object) -> object:
    """What a YAML reader returns for a tree we wrote (verbatim scalars compare by text)."""
    if isinstance(node, dict):
        return {k: _as_read(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_read(v) for v in node]
    return node


@settings(max_examples=200, deadline=None)
@given(
    tree=st.dictionaries(_keys, _trees, min_size=1, max_size=5),
    comment_lines=st.sets(st.integers(min_value=0, max_value=40), max_size=4),
)
def test_fast_and_round_trip_parsers_agree(tree: dict[str, object], comment_lines: set[int]) -> None:
    buffer = io.StringIO()
    documents._ruamel().dump(tree, buffer)
    lines = buffer.getvalue().split("\n")
    for index in comment_lines:
        if index < len(lines) - 1 and lines[index]:
            lines[index] += " # note " + str(index)
    text = "\n".join(lines)
    fast = documents._fast_parse(text)
    if fast is None:
        return
    assert documents.emit_documents(fast) == text
    from porch_operator.engine import trees

    slow = documents._slow_parse(text, "t.yaml")
    assert [trees.to_plain(d.node) for d in fast] == [trees.to_plain(d.node) for d in slow]


def test_document_cache_shares_one_read_only_tree_per_text_and_knows_its_text() -> None:
    cache = documents.DocumentCache()
    first = documents.parse_documents(CANONICAL, path="a.yaml", cache=cache)
    assert (cache.hits, cache.misses, len(cache)) == (0, 1, 1)
    again = documents.parse_documents(CANONICAL, path="b.yaml", cache=cache)
    assert (cache.hits, cache.misses) == (1, 1)
    assert again[0].node is first[0].node and again[0] is not first[0]  # one tree, a Document each
    assert cache.owns(first[0].node)
    assert again[0].seq_indent == documents.parse_documents(CANONICAL, path="c.yaml")[0].seq_indent
    # an unchanged shared tree is written as the text it came from, without the emitter
    assert cache.text_of(first[0]) == CANONICAL
    assert documents.emit_documents(first, cache) == CANONICAL
    # a copy is the caller's own: changing it leaves the shared tree and its text alone
    mine = documents.copy_tree(first[0].node)
    assert not cache.owns(mine)
    mine["metadata"]["name"] = "changed"
    documents.set_key_comment(mine, "metadata", "other")
    changed = [documents.Document(mine, first[0].seq_indent)]
    assert cache.text_of(changed[0]) is None
    assert "name: changed" in documents.emit_documents(changed, cache)
    assert documents.emit_documents(documents.parse_documents(CANONICAL, path="d.yaml", cache=cache)) == (
        CANONICAL
    )
    # the text is only the tree's own with the sequence indentation it was read with
    other_indent = documents.WIDE if first[0].seq_indent == documents.COMPACT else documents.COMPACT
    assert cache.text_of(documents.Document(first[0].node, other_indent)) is None
    # a tree parsed without the cache is not the cache's
    assert not cache.owns(documents.parse_documents(CANONICAL, path="e.yaml")[0].node)


def test_document_cache_keys_on_each_document_of_a_stream() -> None:
    cache = documents.DocumentCache()
    one, two = "a: 1\n", "b: 2 # two\n"
    documents.parse_documents(one + "---\n" + two, path="s.yaml", cache=cache)
    docs = documents.parse_documents(two + "---\n" + one + "---\nc: 3\n", path="t.yaml", cache=cache)
    assert (cache.hits, cache.misses, len(cache)) == (2, 3, 3)
    assert documents.emit_documents(docs) == two + "---\n" + one + "---\nc: 3\n"
    assert documents.emit_documents(docs, cache) == two + "---\n" + one + "---\nc: 3\n"
    assert documents.key_comment(docs[0].node, "b") == "two"


def test_document_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = documents.DocumentCache(max_documents=2)
    for text in ("a: 1\n", "b: 1\n", "a: 1\n", "c: 1\n"):
        documents.parse_documents(text, path="x.yaml", cache=cache)
    assert len(cache) == 2
    dropped = cache.get("b: 1\n")
    kept = cache.get("a: 1\n")
    assert kept is not None and dropped is None  # `a` was used again before `c` came, so `b` went
    by_size = documents.DocumentCache(max_chars=12)
    for text in ("a: 1\n", "bb: 1\n", "ccc: 1\n"):
        documents.parse_documents(text, path="x.yaml", cache=by_size)
    assert by_size.chars <= 12
    assert by_size.get("ccc: 1\n") is not None and by_size.get("a: 1\n") is None
    documents.parse_documents("x: " + "y" * 20 + "\n", path="x.yaml", cache=by_size)
    assert by_size.chars <= 12  # a document larger than the bound is never kept


def test_document_cache_keeps_only_fast_parsed_documents() -> None:
    cache = documents.DocumentCache()
    text = "# a full-line comment\na: 1\n"
    docs = documents.parse_documents(text, path="x.yaml", cache=cache)
    assert len(cache) == 0
    assert documents.emit_documents(docs) == text


def test_copy_tree_copies_containers_and_key_comments() -> None:
    node = documents.parse_documents(CANONICAL, path="a.yaml")[0].node
    copied = documents.copy_tree(node)
    assert copied is not node and copied["spec"] is not node["spec"]
    assert documents.emit_document(copied) == documents.emit_document(node)
    documents.set_key_comment(copied, "metadata", "changed")
    assert documents.key_comment(node, "metadata") == "kpt-merge: prod/web"
    slow = documents.parse_documents("# top\na: [1, 2] # flow\n", path="b.yaml")[0].node
    assert documents.emit_document(documents.copy_tree(slow)) == documents.emit_document(slow)


# -- function output and input: quick checks give the answers of the full ones ---------------------------


def _depth_and_count(node: object) -> tuple[int, int]:
    if isinstance(node, dict):
        children = list(node.values())
    elif isinstance(node, list):
        children = list(node)
    else:
        return 0, 1
    depth, count = 0, 1
    for child in children:
        child_depth, child_count = _depth_and_count(child)
        depth, count = max(depth, child_depth + 1), count + child_count
    return depth, count


def _dumped(tree: object, style: str) -> str:
    import json

    import yaml

    if style == "json":
        return json.dumps(tree)
    if style == "flow":
        return yaml.safe_dump(tree, default_flow_style=True)
    if style == "wide":
        return documents.emit_document(tree, seq_indent=documents.WIDE)
    return documents.emit_document(tree)


@settings(max_examples=300, deadline=None)
@given(tree=_trees, style=st.sampled_from(["compact", "wide", "flow", "json"]))
def test_the_text_bound_on_depth_and_size_holds(tree: object, style: str) -> None:
    """What `_text_bounds_shape` assumes: depth <= 2 * line prefix + 3 + brackets, nodes <= 2 * characters."""
    import re

    text = _dumped(tree, style)
    depth, count = _depth_and_count(documents.load_function_output(text, what="test"))
    prefix = max(len(p) for p in re.findall(r"^[ ?:-]*", text, re.MULTILINE))
    assert depth <= 2 * prefix + 3 + text.count("[") + text.count("{")
    assert count <= 2 * len(text) + 1


@pytest.mark.parametrize(
    "text",
    [
        "a:\n" + "".join(" " * (2 * i) + f"k{i}:\n" for i in range(1, 102)) + " " * 204 + "v: 1\n",
        "items:\n" + "- " * 101 + "x\n",
        ": " * 101 + "x\n",
        "a: " + "[" * 101 + "]" * 101 + "\n",
        "a: " + "{b: " * 101 + "c" + "}" * 101 + "\n",
    ],
)
def test_deep_function_output_is_still_refused(text: str) -> None:
    with pytest.raises(InvalidSpec, match="nested more than 100 levels"):
        documents.load_function_output(text, what="test")


def _nested(tree: object, levels: int, kind: str) -> object:
    for _ in range(levels):
        tree = [tree] if kind == "list" else {"k[": tree}
    return tree


@settings(max_examples=300, deadline=None)
@given(
    tree=_trees,
    levels=st.integers(0, 130),
    kind=st.sampled_from(["list", "map"]),
    ascii_only=st.booleans(),
    compact=st.booleans(),
)
def test_the_json_bound_on_depth_and_size_holds(
    tree: object, levels: int, kind: str, ascii_only: bool, compact: bool
) -> None:
    """What `_json_bounds_shape` assumes of JSON output: it says yes only within the limits, and always
    within half the depth limit, whatever quotes, escapes and brackets the strings hold."""
    import json

    deep = _nested(tree, levels, kind)
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(deep, ensure_ascii=ascii_only, separators=separators)
    depth, count = _depth_and_count(deep)
    within = documents._json_bounds_shape(text)
    if within:
        assert depth <= documents.MAX_DEPTH and count <= documents.MAX_NODES
    if depth < documents.MAX_DEPTH // 2:
        assert within
    if depth > documents.MAX_DEPTH:
        with pytest.raises(InvalidSpec, match="nested more than 100 levels"):
            documents.load_function_output(text, what="test")
    else:
        assert documents.load_function_output(text, what="test") == deep


@pytest.mark.parametrize(
    "text",
    [
        '{"a":' + "[" * 101 + "]" * 101 + "}",
        '{"a":' * 101 + "1" + "}" * 101,
        '{"a":' * 101 + '"[x] {y} \\" \\\\"' + "}" * 101,  # brackets, an escape and a quote in the string
    ],
)
def test_deep_json_function_output_is_refused(text: str) -> None:
    with pytest.raises(InvalidSpec, match="nested more than 100 levels"):
        documents.load_function_output(text, what="test")


def test_json_output_the_brackets_cannot_clear_is_walked_and_accepted() -> None:
    # 61 levels, 60 of one kind: more passes than the bound allows, yet within the limits
    text = "[" * 60 + "{}" + "]" * 60
    assert not documents._json_bounds_shape(text)
    node = documents.load_function_output(text, what="test")
    for _ in range(60):
        node = node[0]
    assert node == {}


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 123456789012345678901234567890}',  # beyond 64 bits: orjson makes it a float, YAML an int
        '{a: [b, c], "d": 1}',  # flow YAML that is not JSON
        '{"a": NaN}',
        '{"k": "v", "k2": [{"x": 1.5}]}',
    ],
)
def test_function_output_that_starts_like_json_reads_as_yaml_reads_it(text: str) -> None:
    """JSON is read by orjson, anything else that starts with a brace by the YAML readers, as before."""
    assert documents.load_function_output(text, what="test") == documents._fast_load_output(text)


def test_function_output_within_the_limits_is_accepted_without_a_walk() -> None:
    text = "items:\n" + "".join(f"- name: n{i}\n  data:\n    k: v\n" for i in range(1000))
    assert documents._text_bounds_shape(text)
    assert len(documents.load_function_output(text, what="test")["items"]) == 1000
    assert not documents._text_bounds_shape("a: &x [1]\nb: *x\n")
    assert not documents._text_bounds_shape("a: " + "b" * documents.MAX_NODES + "\n")


def _commented_map(mapping: dict[str, object]) -> CommentedMap:
    commented = CommentedMap(mapping)
    keys = list(mapping)
    if keys:
        text = "kpt-merge: ns/n" if len(keys) % 2 else "a comment"
        commented.ca.items[keys[0]] = [None, None, CommentToken(f"# {text}\n", CommentMark(0)), None]
    return commented


_json_scalars = st.one_of(
    _scalars,
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            documents.RawPlain("0644"),
            documents.RawPlain("True"),
            documents.quoted("true"),
            SingleQuotedScalarString("x"),
            LiteralScalarString("a\nb\n"),
        ]
    ),
)
_json_trees = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_keys, st.integers(0, 3)), children, max_size=4),
        st.dictionaries(_keys, children, max_size=3).map(_commented_map),
    ),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(tree=_json_trees)
def test_quick_json_check_agrees_with_the_full_one(tree: object) -> None:
    assert documents.json_safe(tree) == documents._json_checked(tree)


@pytest.mark.parametrize("levels", [51, 60, 90])
def test_package_files_nested_too_deep_through_compact_sequences_are_refused(levels: int) -> None:
    # Each map and sequence pair adds only two columns: `a:` then `- a:` at the same indentation.
    node: object = "leaf"
    for _ in range(levels):
        node = {"a": [node]}
    text = documents.emit_document({"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "spec": node})
    with pytest.raises(InvalidSpec, match="nested more than 100 levels"):
        documents.parse_documents(text, path="deep.yaml")


def test_package_files_nested_within_the_limit_are_read_the_fast_way() -> None:
    node: object = "leaf"
    for _ in range(45):
        node = {"a": [node]}
    text = documents.emit_document({"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "spec": node})
    assert documents._fast_parse_chunk(text) is not None
    assert documents.parse_documents(text, path="deep.yaml")[0].node["spec"]["a"][0]["a"][0]["a"]
