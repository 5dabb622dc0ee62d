"""Bad input never crashes the engine: it ends in a PorchError subclass and nothing lands outside the package.

Property-based: random text where YAML is expected, random YAML where a Kptfile is expected, hostile paths,
and garbage function output.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from porch_operator.engine import documents, metadata, render, resources
from porch_operator.engine.kptfile import GitLock, Kptfile
from porch_operator.engine.resources import PackageResources
from porch_operator.engine.tasks import clone, upgrade
from porch_operator.errors import InvalidSpec, PorchError
from tests.unit.engine.runtimes import InProcessRuntime

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n"
PIPELINE_KPTFILE = KPTFILE + "pipeline:\n  mutators:\n  - image: example.com/fn\n"

yaml_fragments = st.sampled_from(
    [
        "apiVersion: v1\n",
        "kind: ConfigMap\n",
        "metadata:\n",
        "  name: x\n",
        "  annotations:\n",
        "    a: b\n",
        "data: {a: [1, 2}\n",
        "- item\n",
        "---\n",
        "&anchor a: *anchor\n",
        "!!binary aGVsbG8=\n",
        "key: 'unterminated\n",
        "\t tab: x\n",
        "? complex\n: key\n",
        "<<: {a: 1}\n",
        "%YAML 1.2\n",
        "x: !custom tag\n",
        "# comment\n",
        "\x00\n",
        "\ufeffbom: x\n",
        "a: " + "[" * 50 + "\n",
    ]
)
yaml_like = st.one_of(
    st.lists(yaml_fragments, max_size=8).map("".join),
    st.text(max_size=200),
)


def assert_inside(package: PackageResources) -> None:
    for path in package:
        assert resources.validate_path(path) == path
        assert not path.startswith("/") and ".." not in path.split("/")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@SETTINGS
@given(text=yaml_like)
def test_random_text_as_a_resource_file(text: str) -> None:
    try:
        package = PackageResources({"Kptfile": KPTFILE, "cm.yaml": text})
    except InvalidSpec:
        return
    try:
        result = run(render.render(package, runtime=InProcessRuntime({})))
    except PorchError:
        return
    assert_inside(result.resources)


@SETTINGS
@given(text=yaml_like)
def test_random_text_as_a_kptfile(text: str) -> None:
    try:
        package = PackageResources({"Kptfile": text, "sub/Kptfile": text})
    except InvalidSpec:
        return
    for action in (
        lambda: Kptfile.parse(text),
        lambda: metadata.read(package),
        lambda: metadata.apply(package, labels={"a": "b"}, conditions=[]),
        lambda: run(render.render(package, runtime=InProcessRuntime({}))),
    ):
        with contextlib.suppress(PorchError):
            action()


kptfile_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@SETTINGS
@given(
    sections=st.dictionaries(
        st.sampled_from(["metadata", "info", "pipeline", "upstream", "upstreamLock", "status", "inventory"]),
        kptfile_values,
        max_size=5,
    )
)
def test_structurally_invalid_kptfiles(sections: dict[str, Any]) -> None:
    text = yaml.safe_dump({"apiVersion": "kpt.dev/v1", "kind": "Kptfile", **sections})
    package = PackageResources({"Kptfile": text})
    try:
        kptfile = Kptfile.parse(text)
        _ = (
            kptfile.pipeline,
            kptfile.readiness_gates,
            kptfile.conditions,
            kptfile.labels,
            kptfile.upstream_lock,
        )
        metadata.apply(package, labels={"a": "b"}, readiness_gates=["g"], conditions=[])
        result = run(render.render(package, runtime=InProcessRuntime({})))
        assert_inside(result.resources)
    except PorchError:
        pass


@SETTINGS
@given(path=st.text(min_size=0, max_size=40))
def test_hostile_paths_never_become_package_files(path: str) -> None:
    try:
        package = PackageResources({"Kptfile": KPTFILE, path: "x"})
    except InvalidSpec:
        return
    assert_inside(package)


@SETTINGS
@given(
    output=st.one_of(
        st.binary(max_size=200),
        yaml_like.map(str.encode),
        st.sampled_from(
            [
                b"items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    annotations:\n"
                b"      internal.config.kubernetes.io/path: /etc/passwd\n",
                b"items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    annotations:\n"
                b"      config.kubernetes.io/path: ../../x.yaml\n",
                b"items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n"
                b"    name: a\n    namespace: ../..\n",
                b"items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: ../../../escape\n",
                b"items: {}\n",
                b"kind: Other\n",
                b"[]\n",
                b"items:\n- apiVersion: v1\n  kind: X\n  metadata:\n    name: a\n"
                b"    annotations:\n      internal.config.kubernetes.io/package-path: /../..\n",
            ]
        ),
    )
)
def test_garbage_function_output(output: bytes) -> None:
    runtime = InProcessRuntime({"example.com/fn": lambda data: output})
    package = PackageResources(
        {"Kptfile": PIPELINE_KPTFILE, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"}
    )
    try:
        result = run(render.render(package, runtime=runtime))
    except PorchError:
        return
    assert_inside(result.resources)
    if not result.ok:
        assert result.resources is package


@SETTINGS
@given(local=yaml_like, old=yaml_like, new=yaml_like)
def test_random_upgrade_inputs(local: str, old: str, new: str) -> None:
    def package(text: str) -> PackageResources:
        return PackageResources({"Kptfile": KPTFILE, "a.yaml": text, "notes.txt": text})

    try:
        task = upgrade.UpgradeTask(
            old_upstream=package(old),
            new_upstream=package(new),
            local=package(local),
            new_upstream_lock=GitLock("r", "d", "v2", "c"),
        )
    except InvalidSpec:
        return
    try:
        result = run(upgrade.apply(PackageResources(), task))
    except PorchError:
        return
    assert_inside(result)


@SETTINGS
@given(text=yaml_like)
def test_random_upstream_for_clone(text: str) -> None:
    try:
        upstream = PackageResources({"Kptfile": KPTFILE, "x.yaml": text})
    except InvalidSpec:
        return
    task = clone.CloneTask(
        upstream=upstream, lock=GitLock("r", "d", "v1", "c"), package_name="p", deployment=True
    )
    try:
        result = run(clone.apply(PackageResources(), task))
    except PorchError:
        return
    assert_inside(result)


@SETTINGS
@given(text=yaml_like)
@example(text=" {}\n")  # an empty map, indented: once an index past the emitter's line locations
def test_documents_parse_or_refuse(text: str) -> None:
    try:
        docs = documents.parse_documents(text, path="x.yaml")
    except InvalidSpec:
        return
    documents.emit_documents(docs)


def test_alias_bombs_and_deep_nesting_are_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    previous = "a"
    for level in "bcdefghi":
        bomb += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = level
    deep = "a: " + "[" * 150 + "]" * 150 + "\n"
    for text in (bomb, deep):
        package = PackageResources(
            {"Kptfile": KPTFILE, "x.yaml": "apiVersion: v1\nkind: X\nmetadata:\n  name: x\n" + text}
        )
        try:
            run(render.render(package, runtime=InProcessRuntime({})))
        except InvalidSpec as exc:
            assert "YAML" in str(exc) or "deep" in str(exc) or "nodes" in str(exc)
        else:
            raise AssertionError("a hostile document was accepted")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "? " * 40 + "x\n: 1\n",  # nested explicit keys: ruamel.yaml builds them in exponential time
        "{" * 40 + "a" + "}" * 40 + ": 1\n",  # the same with flow mappings as keys
        "a: 1\n? [x, y]\n: 2\n",  # a list as a key
    ],
)
def test_collection_keys_are_refused_quickly_with_a_clear_error(text: str) -> None:
    with pytest.raises(InvalidSpec, match="mapping key that is itself a mapping or list"):
        documents.parse_documents(text, path="keys.yaml")
