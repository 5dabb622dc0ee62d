"""Function runtimes for engine tests: real executables run as subprocesses, and in-process functions.

`ExecRuntime` is what kpt does for `exec:` pipeline entries: it runs the program with the ResourceList on
stdin
and reads the result from stdout, with stderr captured. It satisfies
`porch_operator.engine.ports.FunctionRuntime`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml

from porch_operator.engine.ports import FunctionOutput, FunctionResponse, FunctionTarget
from porch_operator.errors import FunctionFailed, FunctionNotFound


class ExecRuntime:
    """Runs `exec` targets as subprocesses; relative paths resolve against `workdir` (kpt uses its cwd)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.calls: list[FunctionTarget] = []

    async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
        self.calls.append(function)
        if function.exec_path is None:
            raise FunctionNotFound(f"No evaluator knows the image {function.image!r}.")
        program = function.exec_path
        if not os.path.isabs(program):
            program = str(self.workdir / program)
        process = await asyncio.create_subprocess_exec(
            program,
            *function.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.workdir,
        )
        stdout, stderr = await process.communicate(resource_list)
        if process.returncode != 0:
            results: list[dict[str, object]] = []
            try:
                parsed = yaml.safe_load(stdout.decode()) if stdout else None
                if isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
                    results = parsed["results"]
            except yaml.YAMLError:
                pass
            raise FunctionFailed(
                f"Function {function.display_name} exited with code {process.returncode}.",
                exit_code=process.returncode or 1,
                stderr=stderr.decode(),
                results=results,
            )
        return FunctionResponse(resource_list=stdout, log=stderr)


Transform = Callable[[bytes], Awaitable[bytes] | bytes]


class InProcessRuntime:
    """Maps image names to Python callables that take and return ResourceList bytes."""

    def __init__(self, functions: dict[str, Transform]) -> None:
        self.functions = functions
        self.calls: list[FunctionTarget] = []

    async def evaluate(self, function: FunctionTarget, resource_list: bytes) -> FunctionOutput:
        self.calls.append(function)
        transform = self.functions.get(function.image or "")
        if transform is None:
            raise FunctionNotFound(f"No evaluator knows the image {function.image!r}.")
        output = transform(resource_list)
        if isinstance(output, Awaitable):
            output = await output
        return FunctionResponse(resource_list=output)
