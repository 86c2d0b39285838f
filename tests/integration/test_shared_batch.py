"""A batch's shared transaction on the real MongoDB: the inserts its requests defer (outbox
records, processed ids, access-log entries) are written once at its end, with the transaction,
or not at all."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import BulkWriteError

from contracts.envelope import CloudEvent
from kit.consumer import IdempotentConsumer
from kit.mongo import Document, Session, in_transaction, insert_in, sharing
from tests.conftest import TestInfra
from tests.integration.conftest import enrolment

pytestmark = pytest.mark.integration


class Inserts(monitoring.CommandListener):
    """The insert commands a client sends, by collection."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert":
            self.seen.append(str(event.command["insert"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def counted(infra: TestInfra) -> tuple[AsyncMongoClient[Document], Inserts]:
    inserts = Inserts()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infra.mongodb_url, tz_aware=True, event_listeners=[inserts]
    )
    return client, inserts


def event() -> CloudEvent:
    return enrolment(f"asso-{uuid4().hex[:8]}").to_event("dn/test")


async def test_a_batch_writes_its_deferred_inserts_once_per_collection_in_order(
    counted: tuple[AsyncMongoClient[Document], Inserts],
) -> None:
    client, inserts = counted
    db = client[f"dn_test_{uuid4().hex[:8]}"]
    ids = [uuid4().hex for _ in range(300)]

    async def work(session: Session) -> None:
        async with sharing(session):
            for n, identifier in enumerate(ids):
                await insert_in(db.records, [{"_id": identifier, "n": n}], session)
                await insert_in(db.marks, [{"_id": identifier}], session)
            assert await db.records.count_documents({}, session=session) == 0  # not yet
            assert inserts.seen == []

    await in_transaction(client, work)

    assert sorted(inserts.seen) == ["marks", "records"]  # two inserts for 600 documents
    assert [d["_id"] async for d in db.records.find().sort("n", 1)] == ids
    assert await db.marks.count_documents({}) == len(ids)
    await client.drop_database(db.name)
    await client.close()


async def test_a_batch_that_fails_writes_nothing_it_deferred(
    mongo: AsyncMongoClient[Document],
) -> None:
    db = mongo[f"dn_test_{uuid4().hex[:8]}"]

    async def work(session: Session) -> None:
        async with sharing(session):
            await insert_in(db.records, [{"_id": "kept?"}], session)
            raise RuntimeError("a request of the batch fails")

    with pytest.raises(RuntimeError):
        await in_transaction(mongo, work)
    assert await db.records.count_documents({}) == 0
    # Outside a batch the same call writes at once.
    await in_transaction(mongo, lambda session: insert_in(db.records, [{"_id": "now"}], session))
    assert await db.records.count_documents({}) == 1
    await mongo.drop_database(db.name)


async def test_an_event_twice_in_one_batch_fails_the_batch_and_alone_applies_once(
    mongo: AsyncMongoClient[Document],
) -> None:
    """The processed id is written at the batch's end: a redelivery inside the batch passes
    the read, and the batch fails when both markers are written (kit.consumer then applies
    the events one by one: the second changes nothing)."""
    db = mongo[f"dn_test_{uuid4().hex[:8]}"]
    consumer = IdempotentConsumer(mongo, db, "test")
    applied: list[str] = []
    again = event()

    async def effect(seen: CloudEvent, session: Session) -> None:
        applied.append(str(seen.id))
        await db.effects.insert_one({"event": str(seen.id)}, session=session)

    async def batch(session: Session) -> None:
        async with sharing(session):
            for delivered in (again, event(), again):
                await consumer.apply(delivered, effect)

    with pytest.raises(BulkWriteError) as failed:
        await in_transaction(mongo, batch)
    assert [e["code"] for e in failed.value.details["writeErrors"]] == [11000]  # duplicate _id
    assert await db.effects.count_documents({}) == 0  # the batch left nothing

    assert await consumer.apply(again, effect) is True
    assert await consumer.apply(again, effect) is False
    assert await db.effects.count_documents({"event": str(again.id)}) == 1
    await mongo.drop_database(db.name)
