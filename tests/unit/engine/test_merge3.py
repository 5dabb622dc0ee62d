"""Three-way merge of one resource (kyaml merge3 semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from porch_operator.engine import documents, merge3, trees
from porch_operator.errors import InvalidSpec


def tree(text: str) -> Any:
    return documents.parse_documents(text, path="t.yaml")[0].node


def merged(dest: str, original: str, updated: str) -> Any:
    result = merge3.merge(tree(dest), tree(original), tree(updated))
    return trees.to_plain(result)


def test_scalars_upstream_wins_conflicts_and_local_changes_stay() -> None:
    assert merged("a: 1\nb: local\n", "a: 1\nb: 1\n", "a: 2\nb: 1\n") == {"a": 2, "b": "local"}
    assert merged("a: local\n", "a: 1\n", "a: 2\n") == {"a": 2}
    # added upstream, removed upstream, added locally
    assert merged("x: mine\n", "a: 1\n", "b: 2\n") == {"x": "mine", "b": 2}
    # removed locally and unchanged upstream stays removed
    assert merged("b: 1\n", "a: 1\nb: 1\n", "a: 1\nb: 1\n") == {"b": 1}


def test_explicit_null_clears() -> None:
    assert merged("a: 1\nb: 2\n", "a: 1\nb: 2\n", "a: 1\nb: null\n") == {"a": 1}
    assert merged("a: 1\nb: ~\n", "a: 1\nb: 2\n", "a: 1\nb: 2\n") == {"a": 1}


def test_new_fields_are_appended_in_name_order() -> None:
    result = merge3.merge(tree("z: 1\nm: 1\n"), tree("z: 1\n"), tree("z: 1\nc: 2\nb: 3\n"))
    assert list(result) == ["z", "m", "b", "c"]


def test_associative_lists_merge_by_key() -> None:
    base = "spec:\n  containers:\n  - name: app\n    image: v1\n  - name: gone\n    image: x\n"
    local = (
        "spec:\n  containers:\n  - name: app\n    image: v1\n    resources: {}\n"
        "  - name: gone\n    image: x\n  - name: mine\n    image: m\n"
    )
    new = "spec:\n  containers:\n  - name: app\n    image: v2\n  - name: extra\n    image: e\n"
    assert merged(local, base, new) == {
        "spec": {
            "containers": [
                {"name": "app", "image": "v2", "resources": {}},
                {"name": "mine", "image": "m"},
                {"image": "e", "name": "extra"},
            ]
        }
    }


def test_other_lists_are_replaced_when_upstream_changed_them() -> None:
    assert merged("args: [a, local]\n", "args: [a]\n", "args: [a, b]\n") == {"args": ["a", "b"]}
    assert merged("args: [a, local]\n", "args: [a]\n", "args: [a]\n") == {"args": ["a", "local"]}


def test_builtin_kinds_use_schema_merge_keys() -> None:
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n    name: http\n"
    )
    local = service.replace("name: http", "name: http\n    targetPort: 8080")
    new = service + "  - port: 443\n    name: https\n"
    result = merged(local, service, new)
    assert result["spec"]["ports"] == [
        {"port": 80, "name": "http", "targetPort": 8080},
        {"name": "https", "port": 443},
    ]
    pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  tolerations:\n  - name: a\n"
    # tolerations have no merge key in the schema: the list is replaced as a whole
    assert merged(pod, pod, pod.replace("- name: a", "- name: b"))["spec"]["tolerations"] == [{"name": "b"}]


def test_finalizers_merge_as_a_set() -> None:
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  finalizers:\n"
    result = merged(head + "  - a\n  - local\n", head + "  - a\n", head + "  - a\n  - b\n")
    assert result["metadata"]["finalizers"] == ["a", "local", "b"]


def test_kind_mismatch_is_an_invalid_spec() -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.x"):
        merge3.merge(tree("spec:\n  x: 1\n"), tree("spec:\n  x: [1]\n"), tree("spec:\n  x: {a: 1}\n"))


def test_resource_cleared_when_all_sides_are_empty() -> None:
    assert merge3.merge(None, {"a": 1}, None) is merge3.CLEAR


def test_fields_with_non_string_keys_match_by_their_printed_name() -> None:
    dest = {1: "local", "b": "x"}
    result = merge3.merge(dest, {"1": "old", "b": "x"}, {"1": "new", "b": "y"})
    assert result == {1: "new", "b": "y"}


def test_a_change_of_spelling_upstream_is_a_change() -> None:
    assert merge3.merge(tree("a: x\n"), tree("a: 'x'\n"), tree("a: x\n")) == {"a": "x"}
    assert documents.emit_document(merge3.merge(tree("a: x\n"), tree("a: x\n"), tree('a: "x"\n'))) == (
        'a: "x"\n'
    )
    assert documents.emit_document(merge3.merge(tree('a: "y"\n'), tree("a: 0644\n"), tree("a: 0644\n"))) == (
        'a: "y"\n'
    )
    assert documents.emit_document(merge3.merge(tree("a: 1\n"), tree("a: 0.0\n"), tree("a: -0.0\n"))) == (
        "a: -0.0\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a resource no side changed is kept, except what the walk always clears
        ("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n", {"replicas": 2}),
        ("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n  containers: []\n", {"replicas": 2}),
        ("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n  paused: null\n", {"replicas": 2}),
        ("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n  paused: ~\n", {"replicas": 2}),
    ],
)
def test_untouched_resources_are_kept_but_nulls_and_empty_keyed_lists_still_go(
    text: str, expected: dict[str, Any]
) -> None:
    result = merge3.merge(tree(text), tree(text), tree(text))
    assert trees.to_plain(result)["spec"] == expected


def test_an_upstream_change_of_spelling_alone_is_taken_even_when_the_values_are_equal() -> None:
    local = tree("a:\n  b: x\n  c: 1\n")
    result = merge3.merge(local, tree("a:\n  b: x\n  c: 1\n"), tree("a:\n  b: 'x'\n  c: 1\n"))
    assert documents.emit_document(result) == "a:\n  b: 'x'\n  c: 1\n"
    mixed = {1: "one", "1": "other"}
    assert merge3.merge(dict(mixed), dict(mixed), dict(mixed)) == {1: "other", "1": "other"}
