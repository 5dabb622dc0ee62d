"""Builtin ensure-name-substring, set-image, apply-replacements and starlark; codecs and deadlines."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import yaml

from fnrunner.evaluators.builtin.catalogue import BuiltinEvaluator
from fnrunner.evaluators.evaluation import EvaluationTimeout, InvalidInput, NotMine
from tests.unit.fnrunner.conftest import Builtins, config_map, deployment, resource_list


def _with_config_volume(dep: dict[str, Any], config: str) -> dict[str, Any]:
    pod = dep["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "cfg", "configMap": {"name": config}}]
    pod["containers"][0]["envFrom"] = [{"configMapRef": {"name": config}}]
    return dep


def test_ensure_name_substring_prepends_and_updates_references(builtins: Builtins) -> None:
    items = [
        _with_config_volume(deployment("web"), "settings"),
        config_map({"k": "v"}, name="settings"),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
        deployment("dev-already"),
    ]
    out, results = builtins.run("ensure-name-substring:v0.2", items, config_map({"prepend": "dev-"}))
    web, settings, namespace, already = out
    assert web["metadata"]["name"] == "dev-web"
    assert settings["metadata"]["name"] == "dev-settings"
    pod = web["spec"]["template"]["spec"]
    assert pod["volumes"][0]["configMap"]["name"] == "dev-settings"
    assert pod["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "dev-settings"
    assert namespace["metadata"]["name"] == "ns"
    assert already["metadata"]["name"] == "dev-already"
    assert len(results) == 2


def test_ensure_name_substring_typed_append(builtins: Builtins) -> None:
    config = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "EnsureNameSubstring",
        "metadata": {"name": "x"},
        "substring": "-prod",
        "editMode": "append",
    }
    out, _ = builtins.run("ensure-name-substring", [deployment("web")], config)
    assert out[0]["metadata"]["name"] == "web-prod"


def test_ensure_name_substring_needs_exactly_one_mode(builtins: Builtins) -> None:
    both = config_map({"prepend": "a-", "append": "-b"})
    assert "exactly one" in str(builtins.fail("ensure-name-substring", [deployment()], both))


def test_set_image_new_tag_name_and_digest(builtins: Builtins) -> None:
    dep = deployment(image="nginx:1.2")
    dep["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "nginx"}]
    out, _ = builtins.run("set-image:v0.1.1", [dep], config_map({"name": "nginx", "newTag": "1.21"}))
    pod = out[0]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "nginx:1.21"
    assert pod["initContainers"][0]["image"] == "nginx:1.21"
    typed = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "SetImage",
        "metadata": {"name": "x"},
        "image": {"name": "nginx", "newName": "registry.local:5000/nginx", "digest": "sha256:abc"},
    }
    out, _ = builtins.run("set-image", [deployment(image="nginx:1.2")], typed)
    assert (
        out[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local:5000/nginx@sha256:abc"
    )


def test_set_image_leaves_other_images(builtins: Builtins) -> None:
    out, results = builtins.run(
        "set-image", [deployment(image="redis:7")], config_map({"name": "nginx", "newTag": "2"})
    )
    assert out[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "redis:7"
    assert "no image" in results[0]["message"]
    assert "newName" in str(builtins.fail("set-image", [deployment()], config_map({"name": "nginx"})))


def _replacements(*replacements: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "ApplyReplacements",
        "metadata": {"name": "r"},
        "replacements": list(replacements),
    }


def test_apply_replacements_copies_a_field_with_filters_and_delimiters(builtins: Builtins) -> None:
    source = config_map({"image": "nginx", "tag": "1.25"}, name="versions")
    replacement = {
        "source": {"kind": "ConfigMap", "name": "versions", "fieldPath": "data.tag"},
        "targets": [
            {
                "select": {"kind": "Deployment"},
                "reject": [{"name": "other"}],
                "fieldPaths": ["spec.template.spec.containers.[name=main].image"],
                "options": {"delimiter": ":", "index": 1},
            }
        ],
    }
    out, results = builtins.run(
        "apply-replacements:v0.1.1",
        [source, deployment("web"), deployment("other")],
        _replacements(replacement),
    )
    assert out[1]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert out[2]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.2"
    assert len(results) == 1


def test_apply_replacements_create_option(builtins: Builtins) -> None:
    replacement = {
        "source": {"kind": "Deployment", "name": "web"},
        "targets": [
            {"select": {"kind": "ConfigMap"}, "fieldPaths": ["data.owner"], "options": {"create": True}}
        ],
    }
    out, _ = builtins.run(
        "apply-replacements", [deployment("web"), config_map({}, name="c")], _replacements(replacement)
    )
    assert out[1]["data"]["owner"] == "web"


def test_apply_replacements_errors(builtins: Builtins) -> None:
    ambiguous = {"source": {"kind": "Deployment"}, "targets": []}
    assert "exactly one" in str(
        builtins.fail("apply-replacements", [deployment("a"), deployment("b")], _replacements(ambiguous))
    )
    missing = {"source": {"kind": "Deployment", "fieldPath": "spec.nothing"}, "targets": []}
    assert "not found" in str(builtins.fail("apply-replacements", [deployment()], _replacements(missing)))
    assert builtins.fail("apply-replacements", [deployment()], config_map({})).exit_code == 1


STARLARK = """
def run(items, prefix):
    for item in items:
        item["metadata"]["name"] = prefix + item["metadata"]["name"]
run(ctx.resource_list["items"], ctx.resource_list["functionConfig"]["data"]["prefix"])
ctx.resource_list["items"].append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "added"}})
"""


def test_starlark_mutates_and_adds_items(builtins: Builtins) -> None:
    out, _ = builtins.run(
        "starlark:v0.5", [deployment("web")], config_map({"source": STARLARK, "prefix": "x-"})
    )
    assert [item["metadata"]["name"] for item in out] == ["x-web", "added"]


def test_starlark_fail_is_a_function_failure(builtins: Builtins) -> None:
    config = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "StarlarkRun",
        "metadata": {"name": "s"},
        "source": 'fail("no way")',
    }
    failure = builtins.fail("starlark", [deployment()], config)
    assert "no way" in failure.stderr.decode()
    assert failure.exit_code == 1


def test_starlark_endless_script_is_stopped_at_the_deadline() -> None:
    source = "def spin():\n    for i in range(1000000000):\n        pass\nspin()\n"
    data = resource_list([deployment()], config_map({"source": source}))
    evaluator = BuiltinEvaluator()
    with pytest.raises(EvaluationTimeout):
        asyncio.run(evaluator.evaluate("starlark", data, timeout=0.3))
    evaluator.close()


def test_json_in_json_out() -> None:
    data = json.dumps(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": [deployment()],
            "functionConfig": config_map({"namespace": "j"}),
        }
    ).encode()
    evaluator = BuiltinEvaluator()
    out = asyncio.run(evaluator.evaluate("set-namespace", data, timeout=5)).resource_list
    assert json.loads(out)["items"][0]["metadata"]["namespace"] == "j"


def test_images_that_are_not_builtin_and_bad_input() -> None:
    evaluator = BuiltinEvaluator(enabled=["set-labels"])
    data = resource_list([deployment()], config_map({"namespace": "n"}))
    for image in (
        "example.com/set-namespace:v1",
        "set-namespace:v0.4",
        "ghcr.io/kptdev/krm-functions-catalog/kubeconform",
    ):
        with pytest.raises(NotMine):
            asyncio.run(evaluator.evaluate(image, data, timeout=5))
    with pytest.raises(InvalidInput):
        asyncio.run(evaluator.evaluate("set-labels", b"kind: Deployment\n", timeout=5))
    with pytest.raises(InvalidInput):
        asyncio.run(evaluator.evaluate("set-labels", b"{not yaml", timeout=5))
    assert yaml.safe_load(data)["kind"] == "ResourceList"


def test_set_image_additional_image_fields(builtins: Builtins) -> None:
    custom = {
        "apiVersion": "example.com/v1",
        "kind": "Job2",
        "metadata": {"name": "j"},
        "spec": {"runner": {"img": "nginx:1"}},
    }
    config = {
        "apiVersion": "fn.kpt.dev/v1alpha1",
        "kind": "SetImage",
        "metadata": {"name": "x"},
        "image": {"name": "nginx", "newTag": "2"},
        "additionalImageFields": [{"kind": "Job2", "path": "spec/runner/img"}],
    }
    out, _ = builtins.run("set-image", [custom], config)
    assert out[0]["spec"]["runner"]["img"] == "nginx:2"
