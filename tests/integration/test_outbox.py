"""The outbox against real MongoDB and the real broker: atomic with state, never loses events."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections import Counter
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from contracts.topics import REGISTRATION_EVENTS
from dn.infra import tansu_binary
from dn.platform import free_port
from kit import consumer, outbox
from kit.broker import KafkaTransport
from kit.consumer import batch_spans
from kit.mongo import Document, Session, in_transaction
from kit.topics import ensure_topics
from tests.conftest import TestInfra
from tests.integration.conftest import enrolment
from tests.support import eventually, header, read_topic, recording_spans

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
    assert stored["unplaced"] is True, "the relay has not taken it yet"
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

    transports = [KafkaTransport(infra.kafka_bootstrap), KafkaTransport(infra.kafka_bootstrap)]
    try:
        first = outbox.OutboxRelay(db, transports[0], batch_size=5)
        assert await first.publish_pending() == 5  # then the relay "crashes"

        second = outbox.OutboxRelay(db, transports[1], batch_size=5)
        running = asyncio.create_task(second.run())
        await eventually(
            lambda: outbox.log_heads(db),
            lambda heads: heads.unsent == 0,
            what="outbox drained",
        )
        running.cancel()
    finally:
        for transport in transports:
            await transport.close()

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


async def test_relay_stops_when_cancelled_as_a_notify_wakes_it(
    mongo: AsyncMongoClient[Document], infra: TestInfra
) -> None:
    """A service's shutdown cancels the relay and waits for it: the cancel must win even when
    a transaction's notify wakes the relay in the same turn (asyncio.wait_for swallowed it on
    Python 3.11 and the relay ran on, holding the shutdown for ever)."""
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]
    await outbox.ensure_indexes(db)
    transport = KafkaTransport(infra.kafka_bootstrap)
    try:
        relay = outbox.OutboxRelay(db, transport, poll_interval_s=30, check_interval_s=300)
        running = asyncio.create_task(relay.run())
        await asyncio.sleep(1)  # nothing to publish: the relay waits for a notify
        assert not running.done()
        relay.notify()
        running.cancel()
        await asyncio.wait([running], timeout=5)
        assert running.cancelled(), "the relay went on after its cancel"
    finally:
        await transport.close()


@contextlib.contextmanager
def broker_of_its_own(port: int) -> Iterator[str]:
    """An embedded broker for one test (the shared one must not be restarted)."""
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


async def enqueue_many(mongo: AsyncMongoClient[Document], db: Any, count: int) -> list[str]:
    async def change(session: Session) -> list[str]:
        return [
            await outbox.enqueue(db, session, enrolment("asso-reseed"), "dn/test")
            for _ in range(count)
        ]

    return await in_transaction(mongo, change)


async def test_a_log_marked_record_by_record_goes_on_from_its_first_unsent_record(
    mongo: AsyncMongoClient[Document], infra: TestInfra
) -> None:
    """A log written when each record was marked ``sent_at`` (before the partitions' sent
    marks): the relay publishes what was not sent, placed or not, and nothing sent before."""
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]
    await outbox.ensure_indexes(db)
    earlier = await enqueue_many(mongo, db, 6)
    transport = KafkaTransport(infra.kafka_bootstrap)
    try:
        assert await outbox.OutboxRelay(db, transport).publish_pending() == 6
        # Written back as the former relay left it: the last two placed but not sent, two
        # more never placed, and no sent marks.
        await db[outbox.META].delete_many({"_id": {"$regex": "^sent:"}})
        placed = await db[outbox.COLLECTION].find().sort("sequence", 1).to_list()
        for index, record in enumerate(placed):
            sent_at = None if index >= 4 else record["created_at"]
            await db[outbox.COLLECTION].update_one(
                {"_id": record["_id"]}, {"$set": {"sent_at": sent_at}}
            )
        later = await enqueue_many(mongo, db, 2)
        await db[outbox.COLLECTION].update_many(
            {"_id": {"$in": later}}, {"$set": {"sent_at": None}, "$unset": {"unplaced": ""}}
        )

        relay = outbox.OutboxRelay(db, transport)
        assert await relay.publish_pending() == 4
        assert await relay.publish_pending() == 0
        assert (await outbox.log_heads(db)).unsent == 0
    finally:
        await transport.close()
    republished = {str(record["_id"]) for record in placed[4:]}
    expected = {ce_id: 2 if ce_id in republished else 1 for ce_id in [*earlier, *later]}

    def times(seen: list[Any]) -> dict[str, int]:
        counted = Counter(header(record, "ce_id") for record in seen)
        return {ce_id: counted[ce_id] for ce_id in expected}

    records = await read_topic(
        infra.kafka_bootstrap,
        REGISTRATION_EVENTS,
        until=lambda seen: all(n >= expected[c] for c, n in times(seen).items()),
    )
    assert times(records) == expected, "published again: the two placed but not sent only"


def positions_by_partition(records: list[Any]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for record in records:
        found.setdefault(record.partition, []).append(int(header(record, "dn_position")))
    return found


async def test_relay_publishes_its_whole_log_again_when_the_broker_comes_back_empty(
    mongo: AsyncMongoClient[Document],
) -> None:
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]
    await outbox.ensure_indexes(db)
    before = await enqueue_many(mongo, db, 60)
    port = free_port()

    bootstrap = f"127.0.0.1:{port}"
    transport = KafkaTransport(bootstrap, 3)
    relay = outbox.OutboxRelay(db, transport, batch_size=25)
    try:
        with broker_of_its_own(port):
            await ensure_topics(bootstrap, 3, 1)
            assert not relay.reseed.checked
            while await relay.publish_pending():
                pass
            # A new log has nothing the broker could have lost: asked, nothing to re-seed.
            assert relay.reseed.checked
            assert relay.reseed.started is None
            first = await read_topic(bootstrap, REGISTRATION_EVENTS, lambda seen: len(seen) >= 60)
            # Dense positions from 1 in each partition, in publishing order.
            for positions in positions_by_partition(first).values():
                assert positions == list(range(1, len(positions) + 1))

        after = await enqueue_many(mongo, db, 5)
        with broker_of_its_own(port):  # the same address, nothing in it
            await ensure_topics(bootstrap, 3, 1)
            # No check first: the publish itself lands at offsets the broker had given already.
            assert await relay.publish_pending() == 5
            assert relay.reseed.started is not None, "the loss was noticed"
            # A partition none of the five landed in is found empty by the relay's next check.
            await relay.check_broker()
            while await relay.publish_pending():
                pass
            assert relay.reseed.started is None
            # Every partition's whole log, the five new events included.
            assert relay.reseed.events == 65
            wanted = set(before) | set(after)
            records = await read_topic(
                bootstrap,
                REGISTRATION_EVENTS,
                until=lambda seen: wanted <= {header(r, "ce_id") for r in seen},
            )
    finally:
        await transport.close()
    assert {header(r, "ce_id") for r in records} == wanted
    log_id = await outbox.log_id_of(db)
    assert {header(r, "dn_log") for r in records} == {log_id}
    for partition, positions in positions_by_partition(records).items():
        # The five new events landed first; then the partition's whole log, in order.
        head = max(positions)
        assert positions[-head:] == list(range(1, head + 1)), partition
    heads = await outbox.log_heads(db)
    assert heads.events == 65
    assert heads.unsent == 0
    assert sum(heads.positions.values()) == 65


class FailingOnce:
    """The outbox collection, whose next ``bulk_write`` fails as if MongoDB went away."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.fail_next = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def bulk_write(self, *args: Any, **kwargs: Any) -> Any:
        if self.fail_next:
            self.fail_next = False
            raise AutoReconnect("MongoDB went away")
        return await self._collection.bulk_write(*args, **kwargs)


async def test_positions_given_while_mongodb_went_away_are_given_again_without_a_hole(
    mongo: AsyncMongoClient[Document], infra: TestInfra
) -> None:
    """Found by the outage test under load: the relay kept in memory the positions of a
    placement MongoDB never stored, gave the next records the positions after them, and every
    subscriber waited on the hole (skipping all that followed)."""
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]
    await outbox.ensure_indexes(db)
    await enqueue_many(mongo, db, 3)
    transport = KafkaTransport(infra.kafka_bootstrap)
    try:
        relay = outbox.OutboxRelay(db, transport)
        assert await relay.publish_pending() == 3
        await enqueue_many(mongo, db, 4)
        failing = FailingOnce(relay._outbox)
        relay._outbox = failing  # type: ignore[assignment]
        failing.fail_next = True
        with pytest.raises(AutoReconnect):
            await relay.publish_pending()
        assert await relay.publish_pending() == 4
    finally:
        await transport.close()
    placed = await db[outbox.COLLECTION].find({}, {"partition": 1, "position": 1}).to_list()
    by_partition: dict[int, list[int]] = {}
    for record in placed:
        by_partition.setdefault(record["partition"], []).append(record["position"])
    assert by_partition, "the records were placed"
    for positions in by_partition.values():
        assert sorted(positions) == list(range(1, len(positions) + 1)), by_partition


async def test_a_batch_is_published_and_consumed_with_a_span_per_request_not_per_event(
    mongo: AsyncMongoClient[Document], infra: TestInfra
) -> None:
    """Two requests' events in one relay batch: one publish span each, in its request's trace;
    a consumer's batch of them gets a span per request too, the newest last (a span per event
    cost more than applying it)."""
    db = mongo[f"test_outbox_{uuid4().hex[:8]}"]
    await outbox.ensure_indexes(db)
    with recording_spans(outbox, consumer) as (spans, tracer):
        requests: dict[str, list[str]] = {}
        for name, count in (("first request", 3), ("second request", 2)):
            with tracer.start_as_current_span(name):

                async def change(session: Session, count: int = count) -> list[str]:
                    events = [enrolment("asso-spans") for _ in range(count)]
                    return await outbox.enqueue_many(db, session, events, "dn/test")

                requests[name] = await in_transaction(mongo, change)
        transport = KafkaTransport(infra.kafka_bootstrap)
        try:
            assert await outbox.OutboxRelay(db, transport).publish_pending() == 5
        finally:
            await transport.close()

        finished = {span.name: span for span in spans.get_finished_spans()}
        publishes = [s for s in spans.get_finished_spans() if s.name.endswith(" publish")]
        assert len(publishes) == 2, [s.name for s in spans.get_finished_spans()]
        for name, ce_ids in requests.items():
            request = finished[name].context
            [publish] = [s for s in publishes if s.parent and s.parent.span_id == request.span_id]
            assert publish.attributes is not None
            assert publish.attributes["messaging.batch.message_count"] == len(ce_ids)
            assert publish.name == f"{REGISTRATION_EVENTS} publish"

        wanted = {ce_id for ce_ids in requests.values() for ce_id in ce_ids}
        records = [
            r
            for r in await read_topic(
                infra.kafka_bootstrap,
                REGISTRATION_EVENTS,
                until=lambda seen: wanted <= {header(r, "ce_id") for r in seen},
            )
            if header(r, "ce_id") in wanted
        ]
        publish_of = {format(s.context.span_id, "016x"): s for s in publishes}
        request_of = {ce_id: name for name, ce_ids in requests.items() for ce_id in ce_ids}
        for record in records:
            # traceparent: version-trace id-span id-flags; the span is its request's publish
            publish = publish_of[str(header(record, "traceparent")).split("-")[2]]
            assert publish.parent is not None
            request = finished[request_of[str(header(record, "ce_id"))]]
            assert publish.parent.span_id == request.context.span_id

        second_request = set(requests["second request"])
        in_order = sorted(records, key=lambda r: header(r, "ce_id") in second_request)
        batch = batch_spans(in_order)
        for span in batch:
            span.end()
        first, second = (finished[name].context for name in requests)
        assert [span.get_span_context().trace_id for span in batch] == [
            first.trace_id,
            second.trace_id,
        ], "a span per request, in its trace, the newest last"
        # Other tests' services consume in this process too: these spans, by their ids.
        ids = {span.get_span_context().span_id for span in batch}
        consumed = [s for s in spans.get_finished_spans() if s.context.span_id in ids]
        assert {s.name for s in consumed} == {f"{REGISTRATION_EVENTS} process"}
        counts = sorted(s.attributes["messaging.batch.message_count"] for s in consumed)
        assert counts == [2, 3]
