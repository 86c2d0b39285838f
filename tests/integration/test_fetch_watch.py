"""A consumer group whose committed offset lies beyond its partition's end (what a broker that
restarted empty receives from a batch in flight) on the real broker: the embedded broker
answers its fetches with nothing, forever, until kit.fetch_watch sends it to the start."""

from __future__ import annotations

from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY

from kit.fetch_watch import rewind_past_the_end
from tests.conftest import TestInfra
from tests.support import produce

pytestmark = pytest.mark.integration


async def read(consumer: AIOKafkaConsumer, partition: TopicPartition, rounds: int) -> list[bytes]:
    values: list[bytes] = []
    for _ in range(rounds):
        batches = await consumer.getmany(partition, timeout_ms=300)
        values += [r.value or b"" for r in batches.get(partition, [])]
    return values


async def test_a_group_left_beyond_the_end_reads_from_the_start_and_a_caught_up_one_stays(
    infra: TestInfra,
) -> None:
    topic, group = f"test.watch.{uuid4().hex[:8]}", f"test-watch-{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    partition = TopicPartition(topic, 0)
    await produce(infra.kafka_bootstrap, topic, [(None, f"r{n}".encode(), []) for n in range(3)])

    stale = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await stale.start()
    stale.assign([partition])
    await stale.commit({partition: OffsetAndMetadata(500, "")})  # the broker holds 3
    await stale.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([partition])
        assert await read(consumer, partition, 3) == []  # stuck: nothing, and no error
        assert await consumer.position(partition) == 500
        assert consumer.highwater(partition) == 3

        rewound = {"topic": topic}
        assert REGISTRY.get_sample_value("dn_fetch_positions_rewound_total", rewound) is None
        assert await rewind_past_the_end(consumer) == [partition]
        assert REGISTRY.get_sample_value("dn_fetch_positions_rewound_total", rewound) == 1
        assert await read(consumer, partition, 3) == [b"r0", b"r1", b"r2"]

        # Caught up (position = end), and after one more record: left where it is.
        assert await rewind_past_the_end(consumer) == []
        await produce(infra.kafka_bootstrap, topic, [(None, b"r3", [])])
        assert await read(consumer, partition, 3) == [b"r3"]
        assert await rewind_past_the_end(consumer) == []
    finally:
        await consumer.stop()
