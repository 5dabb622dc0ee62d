"""The executable evaluator: runs local binaries named by FunctionConfig `binaryExecutor` (porch §5.4).

For an image `<repository>/<name>:<tag>` it looks up the FunctionConfig whose `spec.image` is `<name>`, whose
prefixes include `<repository>`, and whose `binaryExecutor.tags` include `<tag>`; the binary is its `path`,
absolute or relative to the functions directory. Anything else is `NotMine`. The binary gets the
ResourceList on stdin; stdout is the output, stderr the log. A non-zero exit is `FunctionFailed` carrying the
exit code, the stderr tail and the structured results parsed from stdout. The configs come from a
`FunctionConfigStore`, whatever fills it (a file, a Kubernetes watch).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from fnrunner.api import limits
from fnrunner.evaluators import functionconfigs, images, processes, resourcelists
from fnrunner.evaluators.evaluation import (
    EvaluatorUnavailable,
    FunctionFailed,
    NotMine,
    Output,
    failure_message,
)

STDERR_TAIL_BYTES = 256 * 1024


@dataclass
class ExecutableEvaluator:
    """See the module docstring."""

    store: functionconfigs.FunctionConfigStore
    functions_dir: Path
    default_prefix: str = limits.DEFAULT_IMAGE_PREFIX
    max_output_bytes: int = limits.MAX_MESSAGE_BYTES
    name: str = "executable"

    def binary_for(self, image: str) -> Path | None:
        """The binary serving `image`, or None when no FunctionConfig maps it to one."""
        ref = images.parse(image, default_prefix=self.default_prefix)
        config = self.store.for_image(ref, default_prefix=self.default_prefix)
        if config is None or config.binary_executor is None:
            return None
        if not ref.tag or ref.tag not in config.binary_executor.tags:
            return None
        path = Path(config.binary_executor.path)
        return path if path.is_absolute() else self.functions_dir / path

    async def evaluate(self, image: str, resource_list: bytes, *, timeout: float) -> Output:  # noqa: ASYNC109
        binary = self.binary_for(image)
        if binary is None:
            raise NotMine(f"No binaryExecutor is configured for {image}.")
        if not os.access(binary, os.X_OK):
            raise EvaluatorUnavailable(
                f"The binary {binary} configured for {image} is not an executable file."
            )
        done = await processes.run(
            [str(binary)],
            resource_list,
            timeout=timeout,
            max_stdout=self.max_output_bytes,
            stderr_tail=STDERR_TAIL_BYTES,
        )
        if done.exit_code != 0:
            results = await asyncio.to_thread(resourcelists.results_of, done.stdout)
            raise FunctionFailed(
                failure_message(image, done.exit_code, done.stderr),
                exit_code=done.exit_code,
                stderr=done.stderr,
                results=results,
            )
        return Output(resource_list=done.stdout, log=done.stderr)
