"""Status conditions the way kstatus, `kubectl wait`, Flux and Argo CD read them (pure functions).

Conditions are metav1.Condition dicts kept in a list keyed by `type`. `Ready` is normal-true and always
present once the operator has looked at an object; `Reconciling` and `Stalled` are abnormal-true and present
only while true. Every condition carries the `observedGeneration` it was computed for (kubectl wait ignores
conditions older than the object's generation). `lastTransitionTime` changes only when `status` flips, so a
reconcile that finds nothing new produces an identical list, and the caller writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Conditions = list[dict[str, Any]]

READY = "Ready"
RENDERED = "Rendered"
RECONCILING = "Reconciling"
STALLED = "Stalled"
# Conditions that exist only while they are true (kstatus "abnormal-true" polarity).
_ABNORMAL = (RECONCILING, STALLED)
_MAX_MESSAGE = 32_768


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Condition:
    """One condition to set: `status` is True/False/Unknown; `reason` is CamelCase."""

    type: str
    status: str
    reason: str
    message: str = ""

    @classmethod
    def true(cls, type_: str, reason: str, message: str = "") -> Condition:
        return cls(type_, "True", reason, message)

    @classmethod
    def false(cls, type_: str, reason: str, message: str = "") -> Condition:
        return cls(type_, "False", reason, message)


def find(conditions: Iterable[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    for condition in conditions or ():
        if condition.get("type") == type_:
            return condition
    return None


def is_true(conditions: Iterable[dict[str, Any]] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == "True"


def merge(
    existing: Iterable[dict[str, Any]] | None,
    updates: Iterable[Condition],
    *,
    generation: int,
    now: str | None = None,
    remove: Iterable[str] = (),
) -> Conditions:
    """The condition list after applying `updates` and removing the `remove` types.

    An abnormal-true type set to anything but True is removed instead of kept as False. Types not
    mentioned are kept as they are. The result is sorted by type so equal inputs give equal lists.
    """
    by_type = {c["type"]: dict(c) for c in existing or () if "type" in c}
    timestamp = now or now_rfc3339()
    for update in updates:
        if update.type in _ABNORMAL and update.status != "True":
            by_type.pop(update.type, None)
            continue
        previous = by_type.get(update.type)
        transition = (
            previous["lastTransitionTime"]
            if previous and previous.get("status") == update.status and previous.get("lastTransitionTime")
            else timestamp
        )
        by_type[update.type] = {
            "type": update.type,
            "status": update.status,
            "reason": update.reason,
            "message": update.message[:_MAX_MESSAGE],
            "observedGeneration": generation,
            "lastTransitionTime": transition,
        }
    for type_ in remove:
        by_type.pop(type_, None)
    return [by_type[t] for t in sorted(by_type)]


@dataclass
class Verdict:
    """The outcome of one reconcile as kstatus shows it: `Ready`, `Stalled` and `Reconciling`, all with the
    same reason and message."""

    ready: bool
    reason: str
    message: str
    stalled: bool = False
    reconciling: bool = False

    def conditions(self) -> list[Condition]:
        return [
            Condition("Ready", "True" if self.ready else "False", self.reason, self.message),
            Condition("Stalled", "True" if self.stalled else "False", self.reason, self.message),
            Condition("Reconciling", "True" if self.reconciling else "False", self.reason, self.message),
        ]


def observed_status(obj: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
    """`observedGeneration` and the verdict's conditions merged into the object's current ones."""
    generation = int(obj["metadata"].get("generation", 1))
    current = (obj.get("status") or {}).get("conditions")
    merged = merge(current, verdict.conditions(), generation=generation)
    return {"observedGeneration": generation, "conditions": merged}
