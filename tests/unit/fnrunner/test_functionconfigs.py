"""FunctionConfig parsing, the store's ownership rule, durations, image references."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnrunner.evaluators import functionconfigs, images
from fnrunner.evaluators.evaluation import InvalidInput

PREFIX = "ghcr.io/kptdev/krm-functions-catalog/"


def _config(name: str, image: str, **spec: object) -> dict[str, object]:
    return {"kind": "FunctionConfig", "metadata": {"name": name}, "spec": {"image": image, **spec}}


def test_parse_full_object() -> None:
    obj = _config(
        "set-namespace",
        "set-namespace",
        prefixes=["", "example.com/fns"],
        podExecutor={
            "tags": ["v0.4.1"],
            "timeToLive": "1h30m",
            "maxParallelExecutions": 3,
            "templateOverrides": {"serviceAccountName": "fn"},
        },
        binaryExecutor={"tags": ["v0.4"], "path": "set-namespace"},
        goExecutor={"tags": ["v0.4"]},
    )
    obj["metadata"]["annotations"] = {functionconfigs.ENTRYPOINT_ANNOTATION: '["/fn", "--x"]'}  # type: ignore[index]
    config = functionconfigs.from_object(obj)
    assert config.pod_executor is not None and config.pod_executor.time_to_live == 5400
    assert config.pod_executor.max_parallel_executions == 3
    assert config.binary_executor == functionconfigs.BinaryExecutor(tags=("v0.4",), path="set-namespace")
    assert config.entrypoint == ("/fn", "--x")
    assert config.warm_up_image(default_prefix=PREFIX) == PREFIX + "set-namespace:v0.4.1"
    ref = images.parse("example.com/fns/set-namespace:v1", default_prefix=PREFIX)
    assert config.claims(ref, default_prefix=PREFIX)
    assert not config.claims(
        images.parse("other/set-namespace:v1", default_prefix=PREFIX), default_prefix=PREFIX
    )


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"image": ""},
        {"image": "x", "binaryExecutor": {"tags": [], "path": "p"}},
        {"image": "x", "prefixes": "a"},
    ],
)
def test_invalid_objects(spec: dict[str, object]) -> None:
    with pytest.raises(functionconfigs.InvalidFunctionConfig):
        functionconfigs.from_object({"metadata": {"name": "x"}, "spec": spec})


def test_store_ignores_second_claim_on_an_image() -> None:
    store = functionconfigs.FunctionConfigStore()
    assert store.put(functionconfigs.from_object(_config("a", "fn")))
    assert not store.put(functionconfigs.from_object(_config("b", "fn")))
    assert [config.name for config in store.all()] == ["a"]
    store.remove("a")
    assert store.put(functionconfigs.from_object(_config("b", "fn")))


def test_load_file_reads_documents_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "configs.yaml"
    path.write_text(
        "kind: FunctionConfig\nmetadata: {name: a}\nspec: {image: a}\n---\n"
        "kind: List\nitems:\n- kind: FunctionConfig\n  metadata: {name: b}\n  spec: {image: b}\n"
        "- kind: ConfigMap\n  metadata: {name: c}\n"
    )
    assert [config.name for config in functionconfigs.load_file(path)] == ["a", "b"]


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("500ms", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert functionconfigs.parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(functionconfigs.InvalidFunctionConfig):
        functionconfigs.parse_duration("30 minutes")


def test_image_references() -> None:
    ref = images.parse("set-labels:v0.2", default_prefix=PREFIX)
    assert ref.qualified == PREFIX + "set-labels:v0.2"
    digest = "sha256:" + "a" * 64
    ref = images.parse(f"registry:5000/team/fn@{digest}", default_prefix=PREFIX)
    assert (ref.repository, ref.name, ref.tag, ref.digest) == ("registry:5000/team", "fn", "", digest)
    for bad in ("", "a b", "UPPER:v1", "fn@sha256:zz"):
        with pytest.raises(InvalidInput):
            images.parse(bad, default_prefix=PREFIX)
