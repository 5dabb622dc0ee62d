"""Machine instructions the engine executes for one render and one resource-merge of bench_engine's packages.

Times on a shared virtual machine move by a factor of two from one minute to the next; the number of
instructions does not (it changes by well under 1 % between runs), so it is the figure to compare two versions
of the engine with. Each operation is run under valgrind's callgrind once and twice after a warm-up in fresh
processes, and the difference is printed: imports, set-up and the warm-up cancel out. The renders' functions
(bench_engine's builtin pipeline for `render`, its functions answering block YAML for `render-yaml`) answer
from a replay of their first answers, so their own work is not counted. Needs `valgrind`; takes
several minutes (callgrind runs programs about fifty times slower).

    PYTHONPATH=hack .venv/bin/python hack/bench/engine_instructions.py [render|render-yaml|merge ...]
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_engine
from bench.machine import describe, figure

OPERATIONS = ("render", "render-yaml", "merge")


class _Replay:
    """The bench's in-process functions, each answer computed once and then replayed."""

    def __init__(self, functions: bench_engine.BuiltinFunctions | bench_engine.TrivialFunctions) -> None:
        self.functions = functions
        self.answers: dict[tuple[str | None, bytes], object] = {}

    async def evaluate(self, function: object, resource_list: bytes) -> object:
        key = (getattr(function, "image", None), resource_list)
        if key not in self.answers:
            self.answers[key] = await self.functions.evaluate(function, resource_list)  # type: ignore[arg-type]
        return self.answers[key]


def run(operation: str, times: int) -> None:
    """Child process: one warm-up, then `times` operations."""
    from porch_operator.engine import packagemerge, render
    from porch_operator.engine.resources import PackageResources

    if operation in ("render", "render-yaml"):
        builtin = operation == "render"
        files = PackageResources(
            bench_engine.package(kptfile=bench_engine.BUILTIN_KPTFILE) if builtin else bench_engine.package()
        )
        runtime = _Replay(bench_engine.BuiltinFunctions() if builtin else bench_engine.TrivialFunctions())
        for _ in range(times + 1):
            result = asyncio.run(render.render(files, runtime=runtime))  # type: ignore[arg-type]
            assert result.ok, result.error
        return
    old = bench_engine.package(tag=25)
    new = bench_engine.package(tag=26, replicas=3, skip=7)
    new["resources/file-99.yaml"] = bench_engine.CONFIGMAP.format(i=999, mode="new")
    local = bench_engine.package(tag=25)
    for path in list(local)[1::10]:
        local[path] = local[path].replace('retries: "3"', 'retries: "5"')
    for _ in range(times + 1):
        packagemerge.resource_merge(local, old, new)


def instructions(operation: str, times: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        operation,
        str(times),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    match = re.search(r"Collected : (\d+)", output)
    if match is None:
        raise SystemExit(f"no instruction count in callgrind's output:\n{output[-2000:]}")
    return int(match.group(1))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        run(argv[1], int(argv[2]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts")
        return 0
    for line in describe():
        print(line)
    for operation in argv or OPERATIONS:
        once, twice = instructions(operation, 1), instructions(operation, 2)
        print(figure(f"{operation}_500_resources_instructions", (twice - once) / 1e6, "million"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
