"""Rendering a package for the operator: the engine's render through the fnrunner, and what its outcome means
for conditions and status.

Used when a revision is created from a source (the new content is rendered before its first commit) and when
a draft's content is edited (`contents`). An unusable package (a bad path, YAML that does not parse, an
invalid Kptfile) is a failed render with the reason `InvalidSpec`, like a failing function; only an
unreachable function runner raises (and is retried).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from porch_operator import errors, metrics
from porch_operator.engine import render as engine_render
from porch_operator.engine.resources import PackageResources
from porch_operator.handlers import outcomes
from porch_operator.handlers.conditions import Condition
from porch_operator.handlers.runtime import Runtime


@dataclass(frozen=True)
class Outcome:
    """A render's outcome: the files to keep (None: nothing), the `Rendered` condition, `renderStatus`."""

    files: dict[str, str] | None
    rendered: Condition
    render_status: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.rendered.status == "True"


def _failure(error: errors.PorchError) -> Outcome:
    outcome = outcomes.classify(error)
    return Outcome(
        None, Condition.false("Rendered", outcome.reason, outcome.message), {"error": outcome.message}
    )


async def render(runtime: Runtime, files: dict[str, str], *, keep_on_failure: bool) -> Outcome:
    """Render `files`; on failure keep what the renderer left only when `keep_on_failure`."""
    try:
        package = PackageResources(files)
    except errors.InvalidSpec as exc:
        return _failure(exc)
    started = time.monotonic()
    try:
        result = await engine_render.render(
            package, runtime=runtime.functions, image_prefix=runtime.settings.default_image_prefix
        )
    except errors.InvalidSpec as exc:  # the package itself is unusable (YAML, Kptfile, configPath)
        return _failure(exc)
    metrics.RENDER_SECONDS.labels(result="ok" if result.ok else "failed").observe(time.monotonic() - started)
    if result.ok:
        status = result.status.to_dict() if result.status.worth_reporting else None
        return Outcome(
            result.resources.to_dict(),
            Condition.true("Rendered", "Rendered", "The content is rendered."),
            status,
        )
    suffix = " The files were pushed anyway (push-on-render-failure)." if keep_on_failure else ""
    return Outcome(
        result.resources.to_dict() if keep_on_failure else None,
        Condition.false("Rendered", "RenderFailed", result.error + suffix),
        result.status.to_dict(),
    )
