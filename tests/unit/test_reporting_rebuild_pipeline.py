"""How a rebuild overlaps its reading with its writing, and the collector settings it works
under: batches written in order, one at a time, a failed write never passed over."""

from __future__ import annotations

import asyncio
import gc

import pytest

from kit.heap import BATCH_THRESHOLDS, batch_collection
from services.reporting.rebuild import Decoded, _OneInFlight


def batch(name: str) -> Decoded:
    return [(name, None)]  # type: ignore[list-item]  # the writer below only names batches


async def test_batches_are_written_in_order_one_at_a_time_while_the_next_is_prepared() -> None:
    written: list[str] = []
    in_flight = 0
    most_in_flight = 0

    async def write(decoded: Decoded) -> None:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.01)  # the transaction's round trips
        written.append(decoded[0][0])  # type: ignore[arg-type]
        in_flight -= 1

    writing = _OneInFlight(write)
    prepared_while_writing = 0
    for name in ("a", "b", "c"):
        await writing.start(batch(name))
        await asyncio.sleep(0)  # the write begins
        prepared_while_writing += in_flight  # the caller goes on while it runs
    await writing.finish()

    assert written == ["a", "b", "c"]
    assert most_in_flight == 1
    assert prepared_while_writing == 3


async def test_a_failed_write_is_raised_before_the_next_batch_is_written() -> None:
    written: list[str] = []

    async def write(decoded: Decoded) -> None:
        name = str(decoded[0][0])
        if name == "bad":
            raise RuntimeError("transaction aborted")
        written.append(name)

    writing = _OneInFlight(write)
    await writing.start(batch("good"))
    await writing.start(batch("bad"))
    with pytest.raises(RuntimeError, match="transaction aborted"):
        await writing.start(batch("after"))
    assert written == ["good"]
    await writing.finish()  # nothing left running
    assert written == ["good"]


async def test_cancel_stops_the_running_write() -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def write(decoded: Decoded) -> None:
        started.set()
        await asyncio.sleep(60)
        finished.append("never")

    writing = _OneInFlight(write)
    await writing.start(batch("slow"))
    await started.wait()
    await writing.cancel()
    assert finished == []
    assert writing.running is None


def test_batch_collection_freezes_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with batch_collection():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what existed before the work is out of collections
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_batch_collection_restores_the_collector_when_the_work_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(ValueError, match="replay failed"), batch_collection():
        raise ValueError("replay failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_batch_collection_leaves_a_settled_process_frozen() -> None:
    before = gc.get_threshold()
    gc.freeze()  # as kit.heap.settle_after_start_up does in a service process
    try:
        with batch_collection():
            assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
