"""The per-repository work queue: dedupe, due times, latest body, backoff."""

from __future__ import annotations

import asyncio

from porch_operator.handlers.workqueue import Key, WorkQueue

A, B = Key("PackageRevision", "a"), Key("PackageRevision", "b")


async def test_items_come_out_in_due_order_and_deduplicated() -> None:
    queue = WorkQueue()
    queue.enqueue(B, {"v": 1}, delay=0.05)
    queue.enqueue(A, {"v": 1})
    queue.enqueue(A, {"v": 2})
    assert len(queue) == 2
    first = await queue.get(timeout=1)
    assert first is not None and first.key == A and first.body == {"v": 2}
    second = await queue.get(timeout=1)
    assert second is not None and second.key == B
    assert await queue.get(timeout=0.05) is None


async def test_an_earlier_enqueue_moves_a_delayed_item_forward() -> None:
    queue = WorkQueue()
    queue.enqueue(A, delay=60)
    queue.enqueue(A, {"v": 3})
    item = await queue.get(timeout=1)
    assert item is not None and item.body == {"v": 3}
    assert len(queue) == 0


async def test_a_later_enqueue_keeps_the_earlier_due_time_but_takes_the_new_body() -> None:
    queue = WorkQueue()
    queue.enqueue(A, {"v": 1})
    queue.enqueue(A, {"v": 2}, delay=60)
    item = await queue.get(timeout=1)
    assert item is not None and item.body == {"v": 2}


async def test_an_enqueue_without_a_body_drops_the_stored_one() -> None:
    queue = WorkQueue()
    queue.enqueue(A, {"v": 1})
    queue.enqueue(A)
    item = await queue.get(timeout=1)
    assert item is not None and item.body is None


async def test_get_wakes_up_when_work_arrives() -> None:
    queue = WorkQueue()
    waiter = asyncio.create_task(queue.get(timeout=5))
    await asyncio.sleep(0.01)
    queue.enqueue(B)
    item = await asyncio.wait_for(waiter, 1)
    assert item is not None and item.key == B


async def test_retry_backs_off_exponentially_and_success_resets() -> None:
    queue = WorkQueue(base_backoff=0.01, max_backoff=0.04)
    assert [queue.retry(A) for _ in range(4)] == [0.01, 0.02, 0.04, 0.04]
    queue.succeeded(A)
    assert queue.retry(A) == 0.01
