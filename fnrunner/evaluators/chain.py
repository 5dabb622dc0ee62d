"""The evaluator chain: try each evaluator in a fixed order, falling through only on `NotMine`.

The order is builtin, executable, pod (built by `fnrunner.server`); it is fixed, unlike Porch whose Go map
iteration makes exec/pod order random. Any error other than `NotMine` ends the evaluation at once. When all
evaluators decline, the chain raises `NotMine` naming the image, which the server maps to NOT_FOUND. The
time limit covers the whole chain: an evaluator that declined early leaves the rest to the next one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from fnrunner.evaluators.evaluation import EvaluationError, Evaluator, NotMine, Output


@dataclass(frozen=True)
class Outcome:
    """The output of a chained evaluation and which evaluator produced it (for metrics and logs)."""

    output: Output
    evaluator: str


class EvaluatorChain:
    """Evaluators in order; see the module docstring."""

    def __init__(self, evaluators: Sequence[Evaluator]) -> None:
        self.evaluators = tuple(evaluators)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(evaluator.name for evaluator in self.evaluators)

    async def evaluate(self, image: str, resource_list: bytes, *, timeout: float) -> Outcome:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        reasons = []
        for evaluator in self.evaluators:
            remaining = max(deadline - time.monotonic(), 0.001)
            try:
                output = await evaluator.evaluate(image, resource_list, timeout=remaining)
            except NotMine as declined:
                reasons.append(f"{evaluator.name}: {declined}")
                continue
            except EvaluationError as error:
                error.evaluator = evaluator.name
                raise
            return Outcome(output=output, evaluator=evaluator.name)
        tried = "; ".join(reasons) or "no evaluator is enabled"
        raise NotMine(f"No evaluator knows the function image {image!r} ({tried})")
