"""The outbox against real MongoDB and the real broker: atomic with state, never loses events."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts.topics import REGISTRATION_EVENTS
from kit import outbox
from kit.broker import KafkaTransport, build_broker
from kit.mongo import Document, Session, in_transaction
from tests.conftest import TestInfra
from tests.integration.conftest import enrolment
from tests.support import eventually, header, read_topic

pytestmark = pytest.mark.integration


async def test_aborted_transaction_leaves_no_outbox_event(
    mongo: AsyncMongoClient[Document],
) -> None:
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]
    await outbox.ensure_indexes(db)
    enqueued: list[str] = []

    async def failing_change(session: Session) -> None:
        await db["beneficiaries"].insert_one({"_id": "someone"}, session=session)
        enqueued.append(await outbox.enqueue(db, session, enrolment("asso-a"), "dn/test"))
        raise RuntimeError("the rest of the state change failed")

    with pytest.raises(RuntimeError):
        await in_transaction(mongo, failing_change)

    assert len(enqueued) == 1, "the event was written inside the transaction"
    assert await db[outbox.COLLECTION].count_documents({}) == 0
    assert await db["beneficiaries"].count_documents({}) == 0


async def test_committed_transaction_stores_state_and_event_together(
    mongo: AsyncMongoClient[Document],
) -> None:
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]

    async def change(session: Session) -> str:
        await db["beneficiaries"].insert_one({"_id": "someone"}, session=session)
        return await outbox.enqueue(db, session, enrolment("asso-a"), "dn/test")

    ce_id = await in_transaction(mongo, change)

    stored = await db[outbox.COLLECTION].find_one({"_id": ce_id})
    assert stored is not None
    assert stored["sent_at"] is None
    assert stored["topic"] == REGISTRATION_EVENTS
    assert stored["headers"]["ce_type"] == "dn.registration.beneficiary_enrolled.v1"


async def test_relay_publishes_every_committed_event_across_a_restart(
    mongo: AsyncMongoClient[Document], infra: TestInfra
) -> None:
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]
    await outbox.ensure_indexes(db)
    ce_ids = []
    for _ in range(12):

        async def change(session: Session) -> str:
            return await outbox.enqueue(db, session, enrolment("asso-relay"), "dn/test")

        ce_ids.append(await in_transaction(mongo, change))

    broker = build_broker(infra.kafka_bootstrap, client_id="test-relay")
    await broker.connect()
    try:
        first = outbox.OutboxRelay(db, KafkaTransport(broker, infra.kafka_bootstrap), batch_size=5)
        assert await first.publish_pending() == 5  # then the relay "crashes"

        second = outbox.OutboxRelay(db, KafkaTransport(broker, infra.kafka_bootstrap), batch_size=5)
        running = asyncio.create_task(second.run())
        await eventually(
            lambda: db[outbox.COLLECTION].count_documents({"sent_at": None}),
            lambda unsent: unsent == 0,
            what="outbox drained",
        )
        running.cancel()
    finally:
        await broker.stop()

    wanted = set(ce_ids)
    records = await read_topic(
        infra.kafka_bootstrap,
        REGISTRATION_EVENTS,
        until=lambda seen: wanted <= {header(r, "ce_id") for r in seen},
    )
    published = [r for r in records if header(r, "ce_id") in wanted]
    assert {header(r, "ce_id") for r in published} == wanted
    for record in published:
        assert record.key is not None
        assert header(record, "ce_subject") == record.key.decode(), "keyed by beneficiary"
        assert header(record, "content-type") == "application/json"
