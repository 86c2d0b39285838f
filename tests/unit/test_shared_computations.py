"""Shared computations (kit.shared, under reporting's ``/impact`` answers and the gateway's
shared answers): one computation for concurrent identical requests, a new one when the key
changes or the answer is older than the bound, and failures never kept."""

from __future__ import annotations

import asyncio

import pytest

from kit.shared import SharedComputations
from tests.support import ManualClock


class Computation:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> bytes:
        self.calls += 1
        await self.release.wait()
        return f"answer {self.calls}".encode()


async def test_concurrent_requests_for_one_key_share_one_computation() -> None:
    cache, compute = SharedComputations[bytes](), Computation()
    waiting = [asyncio.create_task(cache.get("k", compute)) for _ in range(50)]
    await asyncio.sleep(0)
    compute.release.set()
    answers = await asyncio.gather(*waiting)
    assert compute.calls == 1
    assert set(answers) == {b"answer 1"}


async def test_a_new_key_or_an_old_answer_is_computed_again() -> None:
    clock = ManualClock(100.0)
    cache, compute = SharedComputations[bytes](ttl_s=1.0, clock=clock), Computation()
    compute.release.set()
    assert await cache.get(("v1", 1), compute) == b"answer 1"
    assert await cache.get(("v1", 1), compute) == b"answer 1", "same key, within the bound"
    assert await cache.get(("v1", 2), compute) == b"answer 2", "a commit moved the sequence"
    clock.now += 1.5
    assert await cache.get(("v1", 2), compute) == b"answer 3", "older than the bound"


async def test_a_failure_is_not_kept_and_the_next_caller_retries() -> None:
    cache = SharedComputations[bytes]()
    calls = 0

    async def flaky() -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database away")
        return b"figures"

    with pytest.raises(RuntimeError):
        await cache.get("k", flaky)
    assert await cache.get("k", flaky) == b"figures"


async def test_a_caller_giving_up_does_not_cancel_the_others_answer() -> None:
    cache, compute = SharedComputations[bytes](), Computation()
    impatient = asyncio.create_task(cache.get("k", compute))
    patient = asyncio.create_task(cache.get("k", compute))
    await asyncio.sleep(0)
    impatient.cancel()
    compute.release.set()
    assert await patient == b"answer 1"
    assert compute.calls == 1
