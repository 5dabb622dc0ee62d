"""Shared helpers for the function-runner tests: ResourceList builders, function scripts, the wrapper binary.

Function "executables" are small Python scripts written into tmp_path with this interpreter in their shebang:
real processes with real stdin/stdout/stderr and exit codes, no mocks.
"""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fnrunner.evaluators.builtin.catalogue import BuiltinEvaluator
from fnrunner.evaluators.evaluation import FunctionFailed

REPO = Path(__file__).resolve().parents[3]


def resource_list(items: list[dict[str, Any]], config: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if config is not None:
        body["functionConfig"] = config
    return yaml.safe_dump(body, sort_keys=False).encode()


def config_map(data: dict[str, str], name: str = "fn-config") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str = "app", namespace: str | None = None, image: str = "nginx:1.2") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


class Builtins:
    """Runs builtin functions the way the server does (worker thread, deadline) and parses the output."""

    def __init__(self) -> None:
        self.evaluator = BuiltinEvaluator()

    def run_raw(self, function: str, data: bytes) -> bytes:
        output = asyncio.run(self.evaluator.evaluate(function, data, timeout=10))
        return output.resource_list

    def run(
        self, function: str, items: list[dict[str, Any]], config: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        out = yaml.safe_load(self.run_raw(function, resource_list(items, config)))
        return out["items"], out.get("results", [])

    def fail_raw(self, function: str, data: bytes) -> FunctionFailed:
        with pytest.raises(FunctionFailed) as caught:
            self.run_raw(function, data)
        return caught.value

    def fail(
        self, function: str, items: list[dict[str, Any]], config: dict[str, Any] | None
    ) -> FunctionFailed:
        with pytest.raises(FunctionFailed) as caught:
            self.run(function, items, config)
        return caught.value


@pytest.fixture(scope="session")
def builtins() -> Builtins:
    return Builtins()


def write_script(directory: Path, name: str, body: str) -> Path:
    """An executable Python script `name` in `directory`."""
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


PASSING = """
import sys, yaml
rl = yaml.safe_load(sys.stdin)
for item in rl["items"]:
    item.setdefault("metadata", {}).setdefault("labels", {})["touched"] = "yes"
rl["results"] = [{"message": "touched", "severity": "info"}]
sys.stderr.write("all good\\n")
yaml.safe_dump(rl, sys.stdout)
"""

FAILING = """
import sys, yaml
rl = yaml.safe_load(sys.stdin)
rl["results"] = [{"message": "replicas must be positive", "severity": "error",
                  "resourceRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}}]
yaml.safe_dump(rl, sys.stdout)
sys.stderr.write("validation failed: replicas must be positive\\n")
sys.exit(3)
"""

HANGING = """
import sys, time
sys.stdin.read()
time.sleep(600)
"""

HUGE = """
import sys
sys.stdin.read()
chunk = b"x" * 65536
for _ in range(200):
    sys.stdout.buffer.write(chunk)
"""


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, Path]:
    return {
        "pass": write_script(tmp_path, "pass-fn", PASSING),
        "fail": write_script(tmp_path, "fail-fn", FAILING),
        "hang": write_script(tmp_path, "hang-fn", HANGING),
        "huge": write_script(tmp_path, "huge-fn", HUGE),
    }


def function_configs(paths: dict[str, Path]) -> list[dict[str, Any]]:
    """FunctionConfigs mapping `example.com/fns/<key>-fn:v1` to each script."""
    return [
        {
            "apiVersion": "config.porch.kpt.dev/v1alpha1",
            "kind": "FunctionConfig",
            "metadata": {"name": f"{key}-fn"},
            "spec": {
                "image": f"{key}-fn",
                "prefixes": ["example.com/fns"],
                "binaryExecutor": {"tags": ["v1"], "path": str(path)},
            },
        }
        for key, path in paths.items()
    ]


@pytest.fixture(scope="session")
def wrapper_binary() -> Path:
    """The Go wrapper, built (once, cached outside the repo) by hack/wrapper/build.sh."""
    started = time.monotonic()
    result = subprocess.run(
        [str(REPO / "hack" / "wrapper" / "build.sh")], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, (
        f"wrapper build failed after {time.monotonic() - started:.0f}s: {result.stderr}"
    )
    return Path(result.stdout.strip().splitlines()[-1])
