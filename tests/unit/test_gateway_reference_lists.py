"""The districts and associations every gateway request shares (gateway/reference.py): one
fetch for concurrent askers, fetched again once stale or cleared, a failure never kept."""

from __future__ import annotations

import asyncio

import pytest

from gateway.reference import ReferenceLists
from tests.support import ManualClock


class Registration:
    """Answers the lists, counting the fetches; fails while ``down``."""

    def __init__(self) -> None:
        self.fetches: list[str] = []
        self.down = False
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, kind: str) -> list[dict[str, str]]:
        self.fetches.append(kind)
        await self.release.wait()
        if self.down:
            raise ConnectionError("registration is away")
        return [{"id": f"{kind}-{len(self.fetches)}", "name": "Bastide"}]


async def test_concurrent_askers_share_one_fetch_until_it_is_stale() -> None:
    registration, clock = Registration(), ManualClock(100.0)
    lists = ReferenceLists(registration, ttl_s=30, clock=clock)
    registration.release.clear()

    asking = [asyncio.ensure_future(lists.get("districts")) for _ in range(5)]
    await asyncio.sleep(0)
    registration.release.set()
    answers = await asyncio.gather(*asking)

    assert registration.fetches == ["districts"]
    assert all(answer == [{"id": "districts-1", "name": "Bastide"}] for answer in answers)
    clock.now += 29
    assert (await lists.get("districts"))[0]["id"] == "districts-1"
    clock.now += 2
    assert (await lists.get("districts"))[0]["id"] == "districts-2"
    assert (await lists.get("associations"))[0]["id"] == "associations-3"


async def test_a_cleared_list_is_fetched_again_at_once() -> None:
    registration = Registration()
    lists = ReferenceLists(registration, clock=ManualClock(100.0))
    await lists.get("associations")

    lists.clear()

    assert (await lists.get("associations"))[0]["id"] == "associations-2"


async def test_a_failed_fetch_is_not_kept() -> None:
    registration = Registration()
    lists = ReferenceLists(registration, clock=ManualClock(100.0))
    registration.down = True
    with pytest.raises(ConnectionError):
        await lists.get("districts")

    registration.down = False

    assert (await lists.get("districts"))[0]["id"] == "districts-2"


async def test_a_cancelled_asker_does_not_cancel_the_others_fetch() -> None:
    registration = Registration()
    lists = ReferenceLists(registration, clock=ManualClock(100.0))
    registration.release.clear()
    leaving = asyncio.ensure_future(lists.get("districts"))
    staying = asyncio.ensure_future(lists.get("districts"))
    await asyncio.sleep(0)

    leaving.cancel()
    registration.release.set()

    assert (await staying)[0]["id"] == "districts-1"
    assert registration.fetches == ["districts"]


async def test_an_unknown_list_is_refused() -> None:
    with pytest.raises(ValueError, match="not a reference list"):
        await ReferenceLists(Registration()).get("modules")
