"""The fast YAML path of the builtin evaluator: what it writes reads back as the same data for every reader,
and the text it would read differently from go-yaml goes to libyaml instead."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml
import yaml_rs
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from fnrunner.evaluators import plainyaml, resourcelists
from fnrunner.evaluators.builtin.catalogue import run_function, set_namespace
from fnrunner.evaluators.builtin.context import Context

# Strings that YAML readers like to turn into something else, and some that are only syntax.
TRICKY = [
    "yes", "No", "ON", "off", "y", "N", "true", "False", "null", "Null", "~", "", " ", "0644", "0o17", "0x1F",
    "0b101", "1_000", "1e3", "+1", "-1", ".5", "1.0", ".inf", "-.Inf", ".nan", "NaN", "12:30", "1:30:00",
    "2024-01-01", "2024-01-01T10:00:00Z", "a: b", "a:", ":a", "- x", "-", "?", "? x", "#c", "x #y", "x#y",
    "@at", "`bt", "%p", "!t", "&a", "*a", "|", ">", "{x}", "[x]", "'q'", '"dq"', "<<", "=", "multi\nline\n",
    "trail ", "  lead", "tab\there", "é ü 日本", "a\u0085b", "a\u2028b", "bell\x07", "del\x7f", "cr\r\nlf",
    "nginx:1.25", "http://example.com/x?y=1", "app-0", "v1.2.3", "a=b", "user@host", "e10", "Infinity",
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
keys = st.one_of(st.sampled_from(TRICKY), st.text(max_size=8), st.integers(min_value=-5, max_value=5))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
)


def read_by_every_reader(text: str) -> list[Any]:
    return [
        yaml_rs.loads(text, parse_datetime=False),
        yaml.load(text, Loader=yaml.CSafeLoader),
        YAML(typ="safe", pure=True).load(text),
    ]


@settings(max_examples=300, deadline=None)
@given(documents)
def test_what_it_writes_every_reader_reads_back_unchanged(value: Any) -> None:
    text = plainyaml.dump(value)
    for read in read_by_every_reader(text):
        assert read == value, text


def test_plain_strings_stay_plain_and_everything_else_is_a_json_string() -> None:
    text = plainyaml.dump({"image": "nginx:1.25", "app": "app-0", "on": "yes", "mode": "0644", "t": "a: b"})
    assert text == 'image: nginx:1.25\napp: app-0\n"on": "yes"\nmode: "0644"\nt: "a: b"\n'


def test_layout_is_kyaml_s_block_style() -> None:
    value = {"items": [{"a": 1, "b": [1, [2, 3]], "c": {}}, [], {"d": None}], "e": {"f": 1.0, "g": 1e20}}
    assert plainyaml.dump(value) == (
        "items:\n"
        "- a: 1\n"
        "  b:\n"
        "  - 1\n"
        "  -\n"
        "    - 2\n"
        "    - 3\n"
        "  c: {}\n"
        "- []\n"
        "- d: null\n"
        "e:\n"
        "  f: 1.0\n"
        "  g: 1.0e+20\n"
    )


@pytest.mark.parametrize("value", [datetime.date(2024, 1, 1), b"bytes", {"k": {1, 2}}])
def test_values_outside_plain_data_are_refused(value: Any) -> None:
    with pytest.raises(plainyaml.Unsuitable):
        plainyaml.dump(value)


@pytest.mark.parametrize("text", ["mode: 0644\n", "- 012\n", "a: [1, 012]\n", "0644\n", "a: {b: -017}\n"])
def test_leading_zero_integers_are_left_to_libyaml(text: str) -> None:
    with pytest.raises(plainyaml.Unsuitable):
        plainyaml.load(text)


def resource_list_text(body: str) -> bytes:
    return (
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + body + "functionConfig:\n"
        "  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n    namespace: new\n"
    ).encode()


def run_set_namespace(data: bytes) -> Any:
    output = run_function(set_namespace, data, Context(image="set-namespace:v0.4", deadline=1e12))
    return yaml.load(output, Loader=yaml.CSafeLoader)


def test_an_octal_file_mode_keeps_its_value_through_a_builtin() -> None:
    data = resource_list_text(
        "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec:\n    volumes:\n"
        "    - name: s\n      secret:\n        defaultMode: 0644\n"
    )
    out = run_set_namespace(data)
    assert out["items"][0]["spec"]["volumes"][0]["secret"]["defaultMode"] == 0o644
    assert out["items"][0]["metadata"]["namespace"] == "new"


def test_yaml_1_1_booleans_stay_strings_as_go_yaml_reads_them() -> None:
    data = resource_list_text(
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: m\n"
        "  data:\n    enabled: yes\n    at: 2024-01-01\n"
    )
    parsed = resourcelists.parse(data)
    assert parsed.codec == "yaml"
    out = run_set_namespace(data)
    assert out["items"][0]["data"] == {"enabled": "yes", "at": "2024-01-01"}


@pytest.mark.parametrize(
    "text",
    ["items: [\n", "a: 1\na: 2\n", "kind: ResourceList\napiVersion: config.kubernetes.io/v1\nitems: {}\n"],
)
def test_bad_yaml_is_invalid_input(text: str) -> None:
    with pytest.raises(resourcelists.InvalidInput):
        resourcelists.parse(text.encode())
