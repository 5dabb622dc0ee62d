"""Render beyond the kpt parity cases: failures, limits, comment handling and our deliberate choices."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from porch_operator.engine import render
from porch_operator.engine.ports import FunctionOutput, FunctionResponse, FunctionTarget
from porch_operator.engine.resources import PackageResources
from porch_operator.errors import FunctionFailed, FunctionUnavailable, InvalidSpec
from tests.unit.engine.runtimes import InProcessRuntime

PREFIX = render.DEFAULT_IMAGE_PREFIX


def kptfile(pipeline: str = "", annotations: str = "") -> str:
    text = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n"
    if annotations:
        text += "  annotations:\n" + annotations
    return text + (("pipeline:\n" + pipeline) if pipeline else "")


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


def json_function(change: Any) -> Any:
    """An in-process function that reads the ResourceList, lets `change` edit it and answers in JSON."""

    def run(data: bytes) -> bytes:
        resource_list = yaml.safe_load(data)
        change(resource_list)
        return json.dumps(resource_list).encode()

    return run


def label_all(resource_list: dict[str, Any]) -> None:
    for item in resource_list["items"]:
        item["metadata"].setdefault("labels", {})["rendered"] = "yes"


async def test_package_without_kptfile_is_not_rendered() -> None:
    package = PackageResources({"a.yaml": CM.format(name="a")})
    result = await render.render(package, runtime=InProcessRuntime({}))
    assert result.ok and result.resources is package and not result.results.items


async def test_images_get_the_default_prefix_and_tags() -> None:
    runtime = InProcessRuntime({PREFIX + "set-labels:v1": json_function(label_all)})
    package = PackageResources(
        {
            "Kptfile": kptfile("  mutators:\n  - image: set-labels\n    tag: v1\n"),
            "cm.yaml": CM.format(name="a"),
        }
    )
    result = await render.render(package, runtime=runtime)
    assert result.ok, result.error
    assert runtime.calls == [FunctionTarget(image=PREFIX + "set-labels:v1")]
    assert result.results.items[0].image == PREFIX + "set-labels:v1"
    assert 'rendered: "yes"' in result.resources["cm.yaml"]


async def test_comments_survive_a_function_that_drops_them() -> None:
    source = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # keep me\ndata:\n  k: v # and me\n"
    runtime = InProcessRuntime({"example.com/fn": json_function(label_all)})
    package = PackageResources(
        {"Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n"), "cm.yaml": source}
    )
    result = await render.render(package, runtime=runtime)
    assert result.resources["cm.yaml"] == (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # keep me\n  labels:\n"
        '    rendered: "yes"\ndata:\n  k: v # and me\n'
    )


async def test_a_resource_matching_two_selectors_is_sent_once() -> None:
    seen: list[int] = []

    def count(resource_list: dict[str, Any]) -> None:
        seen.append(len(resource_list["items"]))

    runtime = InProcessRuntime({"example.com/fn": json_function(count)})
    pipeline = (
        "  mutators:\n  - image: example.com/fn\n    selectors:\n    - kind: ConfigMap\n    - name: a\n"
    )
    package = PackageResources({"Kptfile": kptfile(pipeline), "cm.yaml": CM.format(name="a")})
    result = await render.render(package, runtime=runtime)
    assert result.ok and seen == [1]


async def test_unknown_image_fails_the_render_with_a_result() -> None:
    package = PackageResources(
        {
            "Kptfile": kptfile("  mutators:\n  - image: example.com/missing:v1\n"),
            "cm.yaml": CM.format(name="a"),
        }
    )
    result = await render.render(package, runtime=InProcessRuntime({}))
    assert not result.ok and "could not be found" in result.error
    assert result.results.exit_code == 1
    assert result.results.items[0].exit_code == 1
    assert result.resources is package


async def test_unavailable_runner_is_raised_for_a_retry() -> None:
    class Down:
        async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
            raise FunctionUnavailable("The function runner is not reachable.")

    package = PackageResources({"Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n")})
    with pytest.raises(FunctionUnavailable):
        await render.render(package, runtime=Down())


async def test_function_failure_carries_exit_code_stderr_and_results() -> None:
    class Failing:
        async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
            raise FunctionFailed(
                "failed",
                exit_code=7,
                stderr="boom\n",
                results=[
                    {"message": "bad field", "severity": "error", "resourceRef": {"metadata": {"name": "a"}}}
                ],
            )

    package = PackageResources(
        {"Kptfile": kptfile("  validators:\n  - image: example.com/check\n"), "cm.yaml": CM.format(name="a")}
    )
    result = await render.render(package, runtime=Failing())
    assert not result.ok and "exit code 7: bad field" in result.error
    item = result.results.items[0]
    assert (item.exit_code, item.stderr) == (7, "boom\n")
    assert item.results[0]["resourceRef"] == {"name": "a"}
    status = result.status.to_dict()
    assert status["error"] == result.error and status["result"]["exitCode"] == 1
    assert result.status.worth_reporting


async def test_exec_is_refused_unless_allowed() -> None:
    package = PackageResources({"Kptfile": kptfile("  mutators:\n  - exec: ./fn\n")})
    result = await render.render(package, runtime=InProcessRuntime({}))
    assert not result.ok and "exec" in result.error and not result.results.items


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rl: rl["items"].append({"kind": "ConfigMap"}), "not a KRM resource"),
        (
            lambda rl: rl["items"][0]["metadata"]["annotations"].update(
                {
                    "internal.config.kubernetes.io/path": "../../etc/passwd",
                    "config.kubernetes.io/path": "../../x",
                }
            ),
            "outside the package",
        ),
        (
            lambda rl: rl["items"][0]["metadata"]["annotations"].update(
                {
                    "internal.config.kubernetes.io/path": ".git/config",
                    "config.kubernetes.io/path": ".git/config",
                }
            ),
            ".git",
        ),
        (lambda rl: rl["items"].append(dict(rl["items"][0])), "two resources"),
    ],
)
async def test_bad_function_output_fails_the_render_and_writes_nothing(change: Any, message: str) -> None:
    runtime = InProcessRuntime({"example.com/fn": json_function(change)})
    package = PackageResources(
        {"Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n"), "cm.yaml": CM.format(name="a")}
    )
    result = await render.render(package, runtime=runtime)
    assert not result.ok and message in result.error
    assert result.resources is package


async def test_output_that_is_not_yaml_fails_the_render() -> None:
    runtime = InProcessRuntime({"example.com/fn": lambda data: b"{not: [yaml"})
    package = PackageResources({"Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n")})
    result = await render.render(package, runtime=runtime)
    assert not result.ok and "not valid YAML" in result.error


async def test_missing_config_path_is_an_invalid_package() -> None:
    package = PackageResources(
        {"Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n    configPath: nowhere.yaml\n")}
    )
    with pytest.raises(InvalidSpec, match=r"nowhere\.yaml"):
        await render.render(package, runtime=InProcessRuntime({}))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"bad.yaml": "a: [b\n"}, "bad.yaml"),
        ({"list.yaml": "- a\n- b\n"}, "not a KRM resource"),
        ({"noname.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}, "metadata.name"),
        ({"sub/Kptfile": "apiVersion: kpt.dev/v1\nkind: Nope\n"}, "sub/Kptfile"),
    ],
)
async def test_invalid_packages_are_refused(files: dict[str, str], message: str) -> None:
    package = PackageResources({"Kptfile": kptfile(), **files})
    with pytest.raises(InvalidSpec, match=message):
        await render.render(package, runtime=InProcessRuntime({}))


async def test_non_krm_files_are_never_touched() -> None:
    package = PackageResources(
        {
            "Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n"),
            "README.md": "# title\n",
            "script.sh": "#!/bin/sh\necho hi\n",
        }
    )
    runtime = InProcessRuntime({"example.com/fn": json_function(label_all)})
    result = await render.render(package, runtime=runtime)
    assert result.resources["README.md"] == "# title\n"
    assert result.resources["script.sh"] == "#!/bin/sh\necho hi\n"


async def test_structured_results_of_successful_functions_are_kept() -> None:
    def note(resource_list: dict[str, Any]) -> None:
        resource_list["results"] = {
            "items": [{"message": "looked", "severity": "info", "file": {"path": "a"}}]
        }

    runtime = InProcessRuntime({"example.com/fn": json_function(note)})
    package = PackageResources({"Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n")})
    result = await render.render(package, runtime=runtime)
    assert result.ok
    assert result.results.items[0].results == (
        {"message": "looked", "severity": "info", "file": {"path": "a"}},
    )
    assert result.status.worth_reporting and result.status.error == ""


async def test_function_input_carries_kpt_annotations() -> None:
    captured: list[dict[str, Any]] = []

    def capture(data: bytes) -> bytes:
        captured.append(yaml.safe_load(data))
        return data

    runtime = InProcessRuntime({"example.com/fn": capture})
    package = PackageResources(
        {
            "Kptfile": kptfile("  mutators:\n  - image: example.com/fn\n    configMap:\n      a: b\n"),
            "sub/Kptfile": "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: sub\n",
            "sub/cm.yaml": CM.format(name="a"),
        }
    )
    result = await render.render(package, runtime=runtime)
    assert result.ok
    resource_list = captured[0]
    assert (
        resource_list["apiVersion"] == "config.kubernetes.io/v1" and resource_list["kind"] == "ResourceList"
    )
    assert resource_list["functionConfig"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "function-input"},
        "data": {"a": "b"},
    }
    first = resource_list["items"][0]["metadata"]["annotations"]
    assert first["internal.config.kubernetes.io/path"] == "Kptfile"
    assert first["internal.config.kubernetes.io/package-path"] == "/sub"
    assert first["config.kubernetes.io/index"] == "0"
    # nothing of this reaches the files
    assert "internal.config" not in result.resources["sub/cm.yaml"]


async def test_save_on_render_failure_only_with_the_annotation() -> None:
    def fail_after_label(data: bytes) -> bytes:
        raise FunctionFailed("no", exit_code=1)

    runtime = InProcessRuntime(
        {"example.com/label": json_function(label_all), "example.com/fail": fail_after_label}
    )
    pipeline = "  mutators:\n  - image: example.com/label\n  - image: example.com/fail\n"
    files = {"cm.yaml": CM.format(name="a")}
    plain = await render.render(PackageResources({"Kptfile": kptfile(pipeline), **files}), runtime=runtime)
    assert not plain.partial and plain.resources["cm.yaml"] == files["cm.yaml"]
    saving = await render.render(
        PackageResources(
            {"Kptfile": kptfile(pipeline, '    kpt.dev/save-on-render-failure: "true"\n'), **files}
        ),
        runtime=runtime,
    )
    assert saving.partial and "rendered" in saving.resources["cm.yaml"]


async def test_runtime_protocol_objects() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        FunctionTarget()
    with pytest.raises(ValueError, match="exactly one"):
        FunctionTarget(image="a", exec_path="b")
    assert FunctionTarget(exec_path="./fn", args=("--x",)).display_name == "./fn --x"
    output: FunctionOutput = FunctionResponse(resource_list=b"x")
    assert output.log == b""


async def test_values_a_function_adds_decide_how_the_next_function_gets_the_resource() -> None:
    """A resource goes to functions as a JSON line only while JSON keeps everything about it.

    Once a function adds a float (which JSON writes differently from YAML) it goes as block YAML, and the
    float's spelling survives; a resource that only gained strings stays JSON. While every resource goes as
    JSON, the whole list is one JSON document; with one in YAML it is a YAML list with JSON lines in it.
    """
    seen: list[bytes] = []

    def add(value: Any) -> Any:
        def change(resource_list: dict[str, Any]) -> None:
            for item in resource_list["items"]:
                if item["metadata"]["name"] == "a":
                    item["data"]["added"] = value

        inner = json_function(change)

        def run(data: bytes) -> bytes:
            seen.append(data)
            return inner(data)

        return run

    runtime = InProcessRuntime(
        {"example.com/float": add(1e-07), "example.com/text": add("text"), "example.com/look": add("x")}
    )
    pipeline = "".join(f"  - image: example.com/{name}\n" for name in ("text", "float", "look"))
    pipeline = "  mutators:\n" + pipeline
    package = PackageResources(
        {"Kptfile": kptfile(pipeline), "a.yaml": CM.format(name="a"), "b.yaml": CM.format(name="b")}
    )
    result = await render.render(package, runtime=runtime)
    assert result.ok, result.error
    second, third = seen[1].decode(), seen[2].decode()
    assert second.startswith('{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[')
    assert '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"' in second  # gained a string: JSON
    assert third.startswith("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
    assert '- {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"' not in third  # gained a float
    assert "    added: 1.0e-07\n" in third
    assert '- {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"' in third
    assert "  added: 1.0e-07\n" not in result.resources["a.yaml"]  # the last function replaced it
    assert "  added: x\n" in result.resources["a.yaml"]
