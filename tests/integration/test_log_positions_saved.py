"""Saved log positions on the real MongoDB never pass what was handled (kit.log_positions)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from kit.log_positions import COLLECTION, LogPositions
from kit.mongo import Document
from tests.unit.test_log_positions import TOPIC, Consumer, record

pytestmark = pytest.mark.integration


async def test_a_delayed_save_never_stores_the_positions_of_a_batch_still_in_hand(
    mongo: AsyncMongoClient[Document],
) -> None:
    """Found by a short chaos run: the delayed save ran while the next batch was being
    applied and stored its positions; the process was killed before that batch committed, and
    after the restart its records, at or below the saved position, were skipped as applied
    (reporting lost about 500 attendance records)."""
    db = mongo[f"test_positions_{uuid4().hex[:8]}"]
    positions = LogPositions(db, "group")
    consumer = Consumer()

    async def saved() -> int:
        found = await db[COLLECTION].find_one({"_id": f"group|{TOPIC}|0"})
        return -1 if found is None else int(found["position"])

    await positions.admit(consumer, [record(n, n - 1) for n in range(1, 4)])
    await positions.save()  # handled: the first save is at once
    assert await saved() == 3
    await positions.admit(consumer, [record(n, n - 1) for n in range(4, 6)])
    await positions.save()  # handled, within the second: saved a second later
    await positions.admit(consumer, [record(n, n - 1) for n in range(6, 11)])  # in hand
    await asyncio.sleep(1.3)
    assert await saved() == 5, "the delayed save stores what was handled, not the batch in hand"
    await positions.save(force=True)  # that batch handled now
    assert await saved() == 10
    await mongo.drop_database(db.name)
