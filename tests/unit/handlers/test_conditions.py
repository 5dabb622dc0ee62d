"""kstatus conditions: transitions keep their time, abnormal-true conditions exist only while true."""

from __future__ import annotations

from porch_operator.handlers import conditions
from porch_operator.handlers.conditions import Condition


def test_merge_sets_generation_and_keeps_transition_time_while_status_is_unchanged() -> None:
    first = conditions.merge(None, [Condition.false("Ready", "Pending", "wait")], generation=1, now="T1")
    assert first == [
        {
            "type": "Ready",
            "status": "False",
            "reason": "Pending",
            "message": "wait",
            "observedGeneration": 1,
            "lastTransitionTime": "T1",
        }
    ]
    again = conditions.merge(first, [Condition.false("Ready", "Other", "still")], generation=2, now="T2")
    assert again[0]["lastTransitionTime"] == "T1" and again[0]["observedGeneration"] == 2
    flipped = conditions.merge(again, [Condition.true("Ready", "Ready")], generation=2, now="T3")
    assert flipped[0]["lastTransitionTime"] == "T3"


def test_reconciling_and_stalled_exist_only_while_true() -> None:
    on = conditions.merge(None, [Condition.true("Stalled", "Broken", "x")], generation=1, now="T")
    assert conditions.is_true(on, "Stalled")
    off = conditions.merge(on, [Condition.false("Stalled", "Fixed")], generation=1, now="T")
    assert conditions.find(off, "Stalled") is None


def test_an_unchanged_reconcile_gives_an_equal_list() -> None:
    updates = [Condition.true("Ready", "Ready", "ok"), Condition.true("Rendered", "Rendered", "ok")]
    first = conditions.merge(None, updates, generation=3, now="T1")
    assert conditions.merge(first, updates, generation=3, now="T2") == first


def test_other_types_are_kept_and_the_list_is_sorted() -> None:
    existing = conditions.merge(None, [Condition.true("Rendered", "Rendered")], generation=1, now="T")
    merged = conditions.merge(existing, [Condition.true("Ready", "Ready")], generation=1, now="T")
    assert [c["type"] for c in merged] == ["Ready", "Rendered"]
    assert [c["type"] for c in conditions.merge(merged, [], generation=1, remove=["Rendered"])] == ["Ready"]
