"""The real end of partitions on the real broker: records produced in many-record batches, a
partition holding one record, and an empty one."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from kit.kafka_ends import true_end_offsets
from tests.conftest import TestInfra

pytestmark = pytest.mark.integration


async def send_in_batches(bootstrap: str, topic: str, partition: int, count: int) -> None:
    """Many sends, then their acks gathered: the producer packs them into multi-record batches."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=16384
    )
    await producer.start()
    try:
        sent = [
            await producer.send(topic, value=f"record {n}".encode(), partition=partition)
            for n in range(count)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def test_true_end_offsets_count_every_record_of_batched_and_empty_partitions(
    infra: TestInfra,
) -> None:
    topic = f"test.ends.{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    await send_in_batches(infra.kafka_bootstrap, topic, 0, 1000)
    await send_in_batches(infra.kafka_bootstrap, topic, 1, 1)
    batched, single, empty = (TopicPartition(topic, n) for n in range(3))

    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        listed = await consumer.end_offsets([batched, single, empty])
        ends = await true_end_offsets(consumer, [batched, single, empty])
        # Read everything back: the true ends are where the records stop.
        consumer.assign([batched, single])
        await consumer.seek_to_beginning(batched, single)
        offsets: dict[TopicPartition, list[int]] = {batched: [], single: []}
        while len(offsets[batched]) < 1000 or not offsets[single]:
            for partition, records in (await consumer.getmany(timeout_ms=500)).items():
                offsets[partition] += [record.offset for record in records]
    finally:
        await consumer.stop()

    assert ends == {batched: 1000, single: 1, empty: 0}
    assert offsets == {batched: list(range(1000)), single: [0]}
    # The listed end is a lower bound: the embedded broker's is the newest batch's start + 1.
    assert 1 <= listed[batched] <= 1000
    assert (listed[single], listed[empty]) == (1, 0)


async def test_asking_about_a_missing_topic_does_not_create_it(infra: TestInfra) -> None:
    """The embedded broker creates a topic any client asks about, with 4 partitions of its own
    choosing; the platform's clients ask without that (kit.topics): a topic the broker lost
    is created again by ensure_topics, with the platform's partition count."""
    topic = f"test.missing.{uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 3)
        consumer.assign([partition])
        consumer.seek(partition, 5)
        assert await consumer.getmany(partition, timeout_ms=1000) == {}
        assert topic not in await consumer.topics()
    finally:
        await consumer.stop()
