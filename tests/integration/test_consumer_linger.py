"""A subscriber that lingers takes records arriving at a trickle together: one transaction and
one offset commit for many (kit.consumer.subscribe_records ``linger_ms``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from kit.broker import build_broker
from kit.consumer import Fetching, RecordsTaker, subscribe_records
from tests.conftest import TestInfra
from tests.support import eventually

pytestmark = pytest.mark.integration

TRICKLE = 20  # records, one every 10 ms


async def test_records_trickling_in_are_taken_in_a_few_batches_by_a_lingering_subscriber(
    infra: TestInfra,
) -> None:
    topic = f"test.linger.{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    batches: dict[str, list[int]] = {"lingering": [], "eager": []}

    def taker(name: str) -> RecordsTaker:
        async def take(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
            batches[name].append(len(records))

        return take

    broker = build_broker(infra.kafka_bootstrap, client_id="test-linger")
    for name, linger_ms in (("lingering", 200), ("eager", 0)):
        subscribe_records(
            broker,
            topic,
            group_id=f"test-linger-{name}-{uuid4().hex[:6]}",
            take=taker(name),
            fetching=Fetching(linger_ms=linger_ms),
        )
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await broker.start()
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"probe")  # both groups joined once both take it

        async def taken() -> dict[str, int]:
            return {name: sum(sizes) for name, sizes in batches.items()}

        await eventually(taken, lambda n: min(n.values()) == 1, 60, "both groups assigned")
        for name in batches:
            batches[name].clear()
        for n in range(TRICKLE):
            await producer.send_and_wait(topic, f"record {n}".encode())
            await asyncio.sleep(0.01)
        await eventually(taken, lambda n: min(n.values()) == TRICKLE, 30, "every record taken")
    finally:
        await producer.stop()
        await broker.stop()

    assert sum(batches["lingering"]) == sum(batches["eager"]) == TRICKLE  # nothing lost
    assert len(batches["lingering"]) <= 4, batches  # ~0.3 s of records, a batch per 0.2 s
    assert len(batches["lingering"]) < len(batches["eager"]), batches
