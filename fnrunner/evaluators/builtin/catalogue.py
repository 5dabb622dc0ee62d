"""The builtin evaluator: serves catalogue images with the Python implementations in this package.

An image is builtin when its repository is the catalogue's (`ghcr.io/kptdev/krm-functions-catalog`, the
former `gcr.io/kpt-fn`, or none: a short name) and its name is one of `FUNCTIONS`; any tag or digest is
accepted, and the implementation follows the catalogue's current documented behaviour. A function runs in a
worker thread (a dedicated small pool) with the evaluation's deadline: the evaluator stops waiting at the
deadline and the function stops at its next `check_time()`. Bad config and error results make the function
fail the way a catalogue function does: exit code 1, an error result, the message on stderr.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType

from fnrunner.api import limits
from fnrunner.evaluators import images, resourcelists
from fnrunner.evaluators.builtin import (
    apply_replacements,
    apply_setters,
    ensure_name_substring,
    search_replace,
    set_annotations,
    set_image,
    set_labels,
    set_namespace,
    starlark_run,
)
from fnrunner.evaluators.builtin.context import Cancelled, Context
from fnrunner.evaluators.builtin.objects import ConfigError
from fnrunner.evaluators.evaluation import (
    EvaluationTimeout,
    FunctionFailed,
    NotMine,
    Output,
    OutputTooLarge,
    failure_message,
)

FUNCTIONS: dict[str, ModuleType] = {
    "apply-replacements": apply_replacements,
    "apply-setters": apply_setters,
    "ensure-name-substring": ensure_name_substring,
    "search-replace": search_replace,
    "set-annotations": set_annotations,
    "set-image": set_image,
    "set-labels": set_labels,
    "set-namespace": set_namespace,
    "starlark": starlark_run,
}
CATALOGUE_REPOSITORIES = (limits.DEFAULT_IMAGE_PREFIX, limits.LEGACY_IMAGE_PREFIX)


def run_function(module: ModuleType, data: bytes, context: Context) -> bytes:
    """Parse, run one builtin, serialise; raises FunctionFailed for the function's own failures."""
    resource_list = resourcelists.parse(data, round_trip=getattr(module, "ROUND_TRIP", False))
    resource_list.root.pop("results", None)
    try:
        module.run(resource_list, context)
    except (ConfigError, starlark_run.ScriptFailed) as exc:
        message = str(exc)
        context.result(message, severity="error")
        raise FunctionFailed(
            failure_message(context.image, 1, message.encode()),
            exit_code=1,
            stderr=message.encode(),
            results=context.results,
        ) from exc
    resource_list.root["results"] = context.results
    return resourcelists.dump(resource_list)


@dataclass
class BuiltinEvaluator:
    """See the module docstring. `enabled` limits which functions are served (default: all)."""

    default_prefix: str = limits.DEFAULT_IMAGE_PREFIX
    enabled: Iterable[str] | None = None
    workers: int = 4
    max_output_bytes: int = limits.MAX_MESSAGE_BYTES
    name: str = "builtin"
    _pool: ThreadPoolExecutor = field(init=False, repr=False)
    _functions: dict[str, ModuleType] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        wanted = set(FUNCTIONS) if self.enabled is None else set(self.enabled)
        self._functions = {name: module for name, module in FUNCTIONS.items() if name in wanted}
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="builtin-fn")

    def function_for(self, image: str) -> ModuleType | None:
        ref = images.parse(image, default_prefix=self.default_prefix)
        if not ref.with_prefix_matching(CATALOGUE_REPOSITORIES):
            return None
        return self._functions.get(ref.name)

    async def evaluate(self, image: str, resource_list: bytes, *, timeout: float) -> Output:  # noqa: ASYNC109
        module = self.function_for(image)
        if module is None:
            raise NotMine(f"{image} is not a builtin function.")
        context = Context(image=image, deadline=time.monotonic() + timeout)
        future = asyncio.get_running_loop().run_in_executor(
            self._pool, run_function, module, resource_list, context
        )
        try:
            async with asyncio.timeout(timeout):
                output = await future
        except (TimeoutError, Cancelled) as exc:
            # The thread notices the deadline at its next check and ends on its own.
            raise EvaluationTimeout(f"The builtin {image} did not finish within {timeout:.1f} s.") from exc
        if len(output) > self.max_output_bytes:
            raise OutputTooLarge(f"The output of {image} is over {self.max_output_bytes} bytes.")
        return Output(resource_list=output, log=b"")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
