"""Keeping Python's cyclic garbage collector out of the engine's bursts of tree building.

A render reads every function's output into a fresh tree of 100,000 and more dicts and lists, and a
resource-merge reads three packages; the collector, triggered every 700 new containers, then walks all live
trees again and again (a quarter of a render's time in `hack/bench/bench_engine.py`). The engine's trees hold
no reference cycles (maps, lists and scalars; ruamel.yaml's comment objects point only downwards), so
reference counting frees them and the walks find nothing. `collector_paused()` switches the collector off
for a stretch of synchronous code and back on after it, and anything cyclic made meanwhile is collected as
usual afterwards. Render pauses it only between awaits, so no other coroutine runs while it is off; an
upgrade runs in a worker thread, and the event loop then goes on without cyclic collection for that fraction
of a second (the collector's switch is process-wide), which costs at most the memory of what cyclic garbage
it makes meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off (left off when it already was)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
