"""The cyclic garbage collector's settings while a process moves batches of short-lived objects.

CPython runs a young collection every 700 net allocations of container objects, and a full one
once enough objects have survived two young ones. A batch of thousands of decoded events lives
just long enough (its transaction) to survive, so during a rebuild full collections came every
~0.4 s, each walking every object the process had made since it started: 6.4 s of a 22 s
rebuild of 200,000 events. Freezing what exists when the work starts (modules, classes,
clients: never garbage) takes it out of every collection, and a larger young generation lets
a batch die before it is promoted; the rebuild then spends ~1 s collecting.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young collections every 10,000 net allocations (CPython's default: 700); an older one after
# 20 of the younger (default: 10).
BATCH_THRESHOLDS = (10_000, 20, 20)


@contextmanager
def batch_collection(thresholds: tuple[int, int, int] = BATCH_THRESHOLDS) -> Iterator[None]:
    """Collect for batch work inside the block; the previous settings come back after it (a
    process that had frozen its start-up objects itself keeps them frozen)."""
    previous = gc.get_threshold()
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        if not frozen_before:
            gc.unfreeze()


def settle_after_start_up(thresholds: tuple[int, int, int] = BATCH_THRESHOLDS) -> None:
    """For a service process, once its modules are imported and its app built: what exists then
    lives as long as the process, so it is frozen out of every collection, and batches of
    events and requests get the wider young generation for good."""
    gc.freeze()
    gc.set_threshold(*thresholds)
