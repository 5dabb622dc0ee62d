"""Comments of YAML read by yaml-rs are written back where they were: checked against ruamel's own reading of
the same texts, on hand-written documents, on random ones, and through a builtin function."""

from __future__ import annotations

import io
import textwrap
from typing import Any

import pytest
import yaml_rs
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fnrunner.evaluators import plainyaml, resourcelists, yamlcomments
from fnrunner.evaluators.builtin.catalogue import run_function, set_labels, set_namespace
from fnrunner.evaluators.builtin.context import Context


def end_of_line_comments(text: str) -> dict[tuple[Any, ...], str]:
    """ruamel's reading: the end-of-line comment of each scalar entry, by path."""
    found: dict[tuple[Any, ...], str] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, (CommentedMap, CommentedSeq)):
            entries = node.items() if isinstance(node, CommentedMap) else enumerate(node)
            for key, value in entries:
                if isinstance(value, (CommentedMap, CommentedSeq)) and value:
                    walk(value, (*path, key))
                    continue
                tokens = node.ca.items.get(key)
                token = tokens and (tokens[2] if isinstance(node, CommentedMap) else tokens[0])
                # Only a comment on the entry's own line: ruamel also hangs the comment lines that follow an
                # entry on it, which is layout, not meaning.
                if token is not None and token.value.lstrip(" ").startswith("#"):
                    found[(*path, key)] = token.value.strip().split("\n")[0]

    walk(YAML().load(text), ())
    return found


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def rewrite(text: str) -> str:
    data = plainyaml.load(text)
    return plainyaml.dump(data, yamlcomments.find(text, data))


DOCUMENTS = [
    # kyaml's style: compact sequences, a comment on a scalar in every resource, comments of their own.
    """\
    apiVersion: config.kubernetes.io/v1
    kind: ResourceList
    # the resources
    items:
    - apiVersion: apps/v1 # kpt-merge: /app
      kind: Deployment
      metadata:
        name: app # kpt-set: ${name}
        # labels follow
        labels:
          app: app
      spec:
        replicas: 2  # kpt-set: ${replicas}
        template:
          spec:
            containers:
            - name: main
              image: "nginx:1.25" # kpt-set: ${image}
              args: ["a", "b"] # flow
              command:
              - sh # the shell
              # then its flag
              - -c
    # trailing
    """,
    # Indented sequences (ruamel's style), mappings in them; quoted and block scalars holding '#'.
    """\
    kind: ConfigMap
    data:
      plain: 'it''s # not a comment' # but this is
      double: "say \\"# no\\"" # yes
      script: |
        # part of the script
        echo hi # also part of it
      folded: >-
        a # b
      url: http://example.com/#anchor # a comment
    list:
      - one # 1
      - two
      -
        - nested # deep
      # a mapping item
      - name: x # its name
        ports:
          - 80 # http
      - {a: "b # c", d: [1, 2]} # flow item
    empty: {} # nothing
    none: # null
    """,
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_comments_return_to_their_entries(document: str) -> None:
    text = textwrap.dedent(document)
    out = rewrite(text)
    assert yaml_rs.loads(out, parse_datetime=False) == yaml_rs.loads(text, parse_datetime=False)
    assert end_of_line_comments(out) == end_of_line_comments(text)
    assert sorted(comment_lines(out)) == sorted(
        line for line in comment_lines(text) if not line.startswith("# part") and not line.startswith("a #")
    )


def test_full_line_comments_stay_before_their_entry() -> None:
    text = "a: 1\n# about b\nb:\n  # about c\n  c: 2\nitems:\n# about the first\n- x: 1\n# end\n"
    assert rewrite(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x # alias\n",
        "a: !!str 1 # tag\n",
        "a: a plain scalar\n  over two lines # c\n",
        'a: "a quoted scalar\n  over two lines" # c\n',
        "a: 1 # c\n---\nb: 2\n",
        "? complex\n: key # c\n",
        "a:\n\t b: 1 # tab\n",
        "a: {b: 1,\n  c: 2} # flow over lines\n",
    ],
)
def test_what_the_scanner_does_not_follow_is_refused(text: str) -> None:
    with pytest.raises((plainyaml.Unsuitable, ValueError)):
        data = plainyaml.load(text)
        yamlcomments.find(text, data)


def test_refused_text_goes_through_the_round_trip_codec_and_keeps_its_comments() -> None:
    text = (
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: m &anchor # c\n"
        "  data:\n    long: a plain scalar\n      over two lines # c2\n"
    )
    parsed = resourcelists.parse(text.encode())
    assert parsed.codec == "round-trip"
    assert "# c2" in resourcelists.dump(parsed).decode()


def run(module: Any, text: str) -> str:
    image = f"{module.__name__.rsplit('.', 1)[-1].replace('_', '-')}:v0"
    return run_function(module, text.encode(), Context(image=image, deadline=1e12)).decode()


RESOURCE_LIST = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1 # first
  kind: ConfigMap
  metadata:
    name: a # kpt-set: ${a}
  data:
    key: value # keep me
- apiVersion: v1 # second
  kind: ConfigMap
  metadata:
    # the name
    name: b
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: c
  data:
    {data}
"""


def test_a_builtin_keeps_the_comments_of_what_it_changes() -> None:
    text = RESOURCE_LIST.replace("{data}", "namespace: new")
    assert resourcelists.parse(text.encode()).codec == "yaml-with-comments"
    out = run(set_namespace, text)
    assert end_of_line_comments(out) == end_of_line_comments(text)
    assert "    # the name\n    name: b\n    namespace: new\n" in out
    labelled = run(set_labels, RESOURCE_LIST.replace("{data}", "team: x"))
    assert "  data:\n    key: value # keep me\n" in labelled and "team: x" in labelled


def test_comments_follow_items_a_function_moves() -> None:
    text = RESOURCE_LIST.replace("{data}", "namespace: new")
    data = plainyaml.load(text)
    comments = yamlcomments.find(text, data)
    data["items"].reverse()
    moved = plainyaml.dump(data, comments)
    assert moved.index("- apiVersion: v1 # second") < moved.index("- apiVersion: v1 # first")
    assert "    # the name\n    name: b\n" in moved


# Random documents: plain data written by plainyaml, a comment added after every scalar line with some
# probability, comment lines inserted between lines; what comes back must sit where ruamel says it was.
words = st.text(alphabet="abcxyz -#:'\"", min_size=1, max_size=6)
values = st.recursive(
    st.one_of(words, st.integers(), st.booleans(), st.none()),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.dictionaries(st.text(alphabet="abkz", min_size=1, max_size=3), children, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


def indented(data: Any) -> str:
    """`data` as ruamel writes it with sequences indented under their key (another common style)."""
    writer = YAML()
    writer.indent(mapping=2, sequence=4, offset=2)
    writer.width = 4096
    stream = io.StringIO()
    writer.dump(data, stream)
    return stream.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(alphabet="abkz", min_size=1, max_size=3), values, min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=60, max_size=60),
    st.lists(st.booleans(), min_size=60, max_size=60),
    st.sampled_from([plainyaml.dump, indented]),
)
def test_random_documents(data: dict[str, Any], eol: list[bool], full: list[bool], style: Any) -> None:
    lines = []
    for number, line in enumerate(style(data).splitlines()):
        if full[number % 60]:
            lines.append(" " * (len(line) - len(line.lstrip())) + f"# line {number}")
        ends_scalar = not line.rstrip().endswith(":") and line.strip() != "-"
        lines.append(line + (f" # eol {number}" if eol[number % 60] and ends_scalar else ""))
    text = "\n".join(lines) + "\n"
    try:
        out = rewrite(text)
    except plainyaml.Unsuitable:
        return  # the caller falls back to the round trip; placing nothing wrongly is what counts here
    assert yaml_rs.loads(out, parse_datetime=False) == data
    assert end_of_line_comments(out) == end_of_line_comments(text)
    assert sorted(comment_lines(out)) == sorted(comment_lines(text))


def test_ruamel_reads_the_emitted_text_as_yaml() -> None:
    out = rewrite(textwrap.dedent(DOCUMENTS[0]))
    stream = io.StringIO()
    YAML().dump(YAML().load(out), stream)
    assert "# kpt-set: ${replicas}" in stream.getvalue()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab:-#'\"|>[]{} \n&*!?", max_size=80))
def test_hostile_text_is_refused_cleanly_or_read(text: str) -> None:
    data = ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nx: " + text).encode()
    try:
        parsed = resourcelists.parse(data)
    except resourcelists.InvalidInput:
        return
    # What we write reads back; one more read and write (which may change codec) reaches a fixed point.
    again = resourcelists.dump(resourcelists.parse(resourcelists.dump(parsed)))
    assert resourcelists.dump(resourcelists.parse(again)) == again


@pytest.mark.timeout(30)
@pytest.mark.parametrize("key", ["? " * 40 + "x", "{" * 40 + "a" + "}" * 40])
def test_collection_keys_are_refused_quickly(key: str) -> None:
    data = f"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n# c\nx:\n  {key}: 1\n"
    for round_trip in (False, True):
        with pytest.raises(resourcelists.InvalidInput):
            resourcelists.parse(data.encode(), round_trip=round_trip)
