"""When repositories sync next: cron ticks, runOnceAt, periodic checks."""

from __future__ import annotations

import datetime as dt

import pytest

from porch_operator.handlers import schedules

NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC)


def plan(**kwargs: object) -> schedules.Plan:
    args: dict[str, object] = {
        "now": NOW,
        "schedule": None,
        "run_once_at": None,
        "observed_run_once_at": None,
        "last_full_sync": None,
        "last_check": NOW,
        "interval": 300.0,
    }
    args.update(kwargs)
    return schedules.plan_next(**args)  # type: ignore[arg-type]


def test_without_schedule_the_next_thing_is_a_periodic_check() -> None:
    result = plan()
    assert result.at == NOW + dt.timedelta(minutes=5)
    assert not result.requested
    assert result.next_full_sync is None


def test_a_past_run_once_at_runs_now_and_is_requested() -> None:
    past = NOW - dt.timedelta(hours=1)
    result = plan(run_once_at=past)
    assert result.at == NOW and result.requested and result.reason == "spec.sync.runOnceAt"


def test_an_observed_run_once_at_is_not_run_again() -> None:
    past = NOW - dt.timedelta(hours=1)
    assert not plan(run_once_at=past, observed_run_once_at=past).requested


def test_a_future_run_once_at_waits_for_its_time() -> None:
    later = NOW + dt.timedelta(minutes=2)
    result = plan(run_once_at=later)
    assert result.at == later and result.requested


def test_cron_ticks_after_the_last_full_sync_and_is_reported_behind_checks() -> None:
    result = plan(schedule="0 3 * * *", last_full_sync=NOW - dt.timedelta(hours=1))
    assert not result.requested  # the periodic check comes first
    assert result.next_full_sync == dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)
    frequent = plan(schedule="*/2 * * * *", last_full_sync=NOW)
    assert frequent.requested and frequent.at == NOW + dt.timedelta(minutes=2)


def test_an_invalid_cron_expression_is_a_schedule_error_naming_it() -> None:
    with pytest.raises(schedules.ScheduleError, match="not a cron"):
        plan(schedule="not a cron")


def test_times_round_trip() -> None:
    assert schedules.parse_time(schedules.format_time(NOW)) == NOW
    assert schedules.parse_time(None) is None
    assert schedules.parse_time("2026-11-25T10:30:00") == NOW  # no zone means UTC
