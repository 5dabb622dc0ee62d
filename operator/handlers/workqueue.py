"""Pending work of one repository: which objects to reconcile, and when.

Every object of a repository (its sync, its PackageRevisions, their PackageRevisionResources) is reconciled
by that repository's worker, one item at a time, so git writes, discovery and the objects derived from git
never race each other within a repository; different repositories have different workers and run in
parallel. Watch events only *enqueue* work; the worker pulls it.

Items are keyed (kind, name) and deduplicated: enqueueing a key that is already pending keeps one entry, at
the earliest due time, with the body of the latest enqueue (as an informer would keep the latest object). A
watch event passes the object's body, so the reconcile can tell from it that nothing needs doing; the
operator's own enqueues pass none, which means "look again, fully". Failed items come back
with exponential backoff per key; a success resets the key's backoff.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

Body = dict[str, Any]

SYNC = "sync"
PACKAGE_REVISION = "PackageRevision"
PACKAGE_REVISION_RESOURCES = "PackageRevisionResources"


@dataclass(frozen=True, order=True)
class Key:
    kind: str
    name: str = ""


@dataclass
class Item:
    """A due piece of work: the key, and the latest body seen for it (None for syncs and deletions)."""

    key: Key
    body: Body | None


@dataclass
class _Entry:
    due: float
    body: Body | None
    token: int


@dataclass
class WorkQueue:
    """See the module docstring. Not thread-safe: used from the event loop only."""

    base_backoff: float = 0.5
    max_backoff: float = 300.0
    _entries: dict[Key, _Entry] = field(default_factory=dict)
    _heap: list[tuple[float, int, Key]] = field(default_factory=list)
    _failures: dict[Key, int] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def enqueue(self, key: Key, body: Body | None = None, *, delay: float = 0.0) -> None:
        due = time.monotonic() + max(delay, 0.0)
        entry = self._entries.get(key)
        if entry is not None:
            entry.body = body
            if entry.due <= due:
                return
        token = next(self._counter)
        self._entries[key] = _Entry(due, body, token)
        heapq.heappush(self._heap, (due, token, key))
        self._wakeup.set()

    def retry(self, key: Key, body: Body | None = None) -> float:
        """Enqueue `key` again after its next backoff delay; returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = min(self.base_backoff * float(2**failures), self.max_backoff)
        self.enqueue(key, body, delay=delay)
        return delay

    def succeeded(self, key: Key) -> None:
        self._failures.pop(key, None)

    def pending(self, key: Key) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def _pop_due(self, now: float) -> Item | None:
        while self._heap:
            due, token, key = self._heap[0]
            entry = self._entries.get(key)
            if entry is None or entry.token != token:
                heapq.heappop(self._heap)  # superseded by an earlier enqueue of the same key
                continue
            if due > now:
                return None
            heapq.heappop(self._heap)
            del self._entries[key]
            return Item(key, entry.body)
        return None

    def _next_due(self) -> float | None:
        while self._heap:
            due, token, key = self._heap[0]
            entry = self._entries.get(key)
            if entry is None or entry.token != token:
                heapq.heappop(self._heap)
                continue
            return due
        return None

    async def get(self, *, timeout: float) -> Item | None:  # noqa: ASYNC109 - a poll interval, not a deadline
        """The next due item, or None when nothing becomes due within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            item = self._pop_due(now)
            if item is not None:
                return item
            next_due = self._next_due()
            wait = deadline - now if next_due is None else min(next_due, deadline) - now
            if wait <= 0:
                return None
            self._wakeup.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()
            except TimeoutError:
                if time.monotonic() >= deadline:
                    return self._pop_due(time.monotonic())
