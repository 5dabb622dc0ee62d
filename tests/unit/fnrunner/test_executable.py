"""The executable evaluator with real executables: passing, failing, hanging and huge-output functions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from fnrunner.evaluators import functionconfigs
from fnrunner.evaluators.evaluation import EvaluationTimeout, FunctionFailed, NotMine, OutputTooLarge
from fnrunner.evaluators.executable import ExecutableEvaluator
from tests.unit.fnrunner.conftest import deployment, function_configs, resource_list


def _evaluator(
    scripts: dict[str, Path], functions_dir: Path, max_output: int = 1024 * 1024
) -> ExecutableEvaluator:
    configs = [functionconfigs.from_object(obj) for obj in function_configs(scripts)]
    return ExecutableEvaluator(
        store=functionconfigs.FunctionConfigStore(configs),
        functions_dir=functions_dir,
        max_output_bytes=max_output,
    )


async def test_passing_function(scripts: dict[str, Path], tmp_path: Path) -> None:
    output = await _evaluator(scripts, tmp_path).evaluate(
        "example.com/fns/pass-fn:v1", resource_list([deployment()]), timeout=30
    )
    result = yaml.safe_load(output.resource_list)
    assert result["items"][0]["metadata"]["labels"] == {"touched": "yes"}
    assert output.log == b"all good\n"


async def test_failing_function_reports_exit_code_results_and_stderr(
    scripts: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(FunctionFailed) as caught:
        await _evaluator(scripts, tmp_path).evaluate(
            "example.com/fns/fail-fn:v1", resource_list([]), timeout=30
        )
    failure = caught.value
    assert failure.exit_code == 3
    assert b"replicas must be positive" in failure.stderr
    assert failure.results[0]["severity"] == "error"
    assert failure.results[0]["resourceRef"]["name"] == "app"
    assert "exit status 3" in str(failure) and "example.com/fns/fail-fn:v1" in str(failure)


async def test_hanging_function_is_killed_at_the_deadline(scripts: dict[str, Path], tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(EvaluationTimeout):
        await _evaluator(scripts, tmp_path).evaluate(
            "example.com/fns/hang-fn:v1", resource_list([]), timeout=0.5
        )
    # Generous bound: only checks that we did not wait for the 600 s sleep.
    assert time.monotonic() - started < 30


async def test_huge_output_is_cut_off(scripts: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(OutputTooLarge):
        await _evaluator(scripts, tmp_path).evaluate(
            "example.com/fns/huge-fn:v1", resource_list([]), timeout=30
        )


async def test_relative_paths_tags_and_prefixes(scripts: dict[str, Path], tmp_path: Path) -> None:
    relative = {"pass": Path(scripts["pass"].name)}
    evaluator = _evaluator(relative, tmp_path)
    assert evaluator.binary_for("example.com/fns/pass-fn:v1") == tmp_path / "pass-fn"
    output = await evaluator.evaluate("example.com/fns/pass-fn:v1", resource_list([]), timeout=30)
    assert b"ResourceList" in output.resource_list
    for image in (
        "example.com/fns/pass-fn:v2",
        "other.io/fns/pass-fn:v1",
        "example.com/fns/pass-fn",
        "pass-fn:v1",
    ):
        with pytest.raises(NotMine):
            await evaluator.evaluate(image, resource_list([]), timeout=30)


async def test_default_prefix_entry(tmp_path: Path, scripts: dict[str, Path]) -> None:
    config = functionconfigs.from_object(
        {
            "metadata": {"name": "set-x"},
            "spec": {
                "image": "set-x",
                "prefixes": [""],
                "binaryExecutor": {"tags": ["v0.1"], "path": str(scripts["pass"])},
            },
        }
    )
    evaluator = ExecutableEvaluator(
        store=functionconfigs.FunctionConfigStore([config]), functions_dir=tmp_path
    )
    assert evaluator.binary_for("set-x:v0.1") == scripts["pass"]
    assert evaluator.binary_for("ghcr.io/kptdev/krm-functions-catalog/set-x:v0.1") == scripts["pass"]
