"""What a builtin function gets besides its ResourceList: result recording and a cooperative deadline.

Builtins run in a worker thread that cannot be killed, so long loops call `check_time()`; the evaluator also
stops waiting at the deadline whatever the thread does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fnrunner.evaluators.builtin import objects


class Cancelled(Exception):
    """The evaluation's deadline passed; raised inside the worker thread to stop it early."""


@dataclass
class Context:
    image: str
    deadline: float
    results: list[dict[str, Any]] = field(default_factory=list)

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise Cancelled

    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    def result(
        self,
        message: str,
        *,
        severity: str = "info",
        obj: dict[str, Any] | None = None,
        field_path: str | None = None,
        current: Any = None,
        proposed: Any = None,
    ) -> None:
        item: dict[str, Any] = {"message": message, "severity": severity}
        if obj is not None:
            item["resourceRef"] = objects.resource_ref(obj)
            if field_path is not None:
                field_ref: dict[str, Any] = {"path": field_path}
                if current is not None:
                    field_ref["currentValue"] = current
                if proposed is not None:
                    field_ref["proposedValue"] = proposed
                item["field"] = field_ref
            path = objects.file_path(obj)
            if path:
                item["file"] = {"path": path}
        self.results.append(item)
