"""When a repository is synced next (pure functions over the Repository's spec and status).

A *full sync* (fetch, discover, compare every object with git) runs:

- when the operator starts (the local git mirror is a cache that may be stale or gone),
- when the Repository's spec changes (`metadata.generation` differs from `status.observedGeneration`),
- when `spec.sync.runOnceAt` is set to a time not yet acted on (`status.observedRunOnceAt`): at that time, or
  at once if it is in the past,
- at every tick of the cron `spec.sync.schedule`, and
- otherwise every `interval` seconds (a *check*: it fetches and compares refs, and discovers and writes only
  when git changed).

Only requested syncs (spec change, runOnceAt, schedule tick) record `status.lastFullSyncTime`; a periodic
check that finds nothing new writes nothing. An invalid cron expression is reported and the interval is used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from croniter import CroniterBadCronError, croniter


class ScheduleError(ValueError):
    """The cron schedule of a Repository cannot be parsed."""


@dataclass(frozen=True)
class Plan:
    """What the next sync is and when: `at` is UTC; `requested` says whether it records its time.

    `next_full_sync` is the time of the next requested sync (schedule tick or runOnceAt), which may come
    after periodic checks; None when nothing is scheduled.
    """

    at: dt.datetime
    requested: bool
    reason: str
    next_full_sync: dt.datetime | None = None


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_tick(schedule: str, after: dt.datetime) -> dt.datetime:
    """The first tick of the 5-field cron `schedule` strictly after `after` (UTC)."""
    try:
        return croniter(schedule, after.astimezone(dt.UTC)).get_next(dt.datetime)  # type: ignore[no-any-return]
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise ScheduleError(f"spec.sync.schedule {schedule!r} is not a valid cron expression: {exc}") from exc


def plan_next(
    *,
    now: dt.datetime,
    schedule: str | None,
    run_once_at: dt.datetime | None,
    observed_run_once_at: dt.datetime | None,
    last_full_sync: dt.datetime | None,
    last_check: dt.datetime,
    interval: float,
) -> Plan:
    """The earliest pending reason to sync after the last check (see the module docstring)."""
    candidates: list[Plan] = [
        Plan(last_check + dt.timedelta(seconds=interval), requested=False, reason="periodic check")
    ]
    if run_once_at is not None and run_once_at != observed_run_once_at:
        candidates.append(Plan(max(run_once_at, now), requested=True, reason="spec.sync.runOnceAt"))
    if schedule:
        base = last_full_sync or last_check
        candidates.append(Plan(next_tick(schedule, base), requested=True, reason="spec.sync.schedule"))
    requested = [plan.at for plan in candidates if plan.requested]
    first = min(candidates, key=lambda plan: (plan.at, not plan.requested))
    return Plan(first.at, first.requested, first.reason, min(requested) if requested else None)
