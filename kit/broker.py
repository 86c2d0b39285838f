"""The FastStream Kafka broker every service uses, and the outbox relay's way to the broker."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, OffsetOutOfRangeError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from kit.topics import ensure_topics

log = logging.getLogger(__name__)
# Subscribed consumers learn of a topic created again (a broker that restarted empty) at the
# next metadata refresh: seconds here, not aiokafka's five minutes.
METADATA_MAX_AGE_MS = 3000


def build_broker(bootstrap: str, client_id: str) -> KafkaBroker:
    # The telemetry middleware injects traceparent on publish and parents the consume span on
    # it; AIOKafkaInstrumentor must not also run on this path or each hop is traced twice.
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        acks="all",
        middlewares=[KafkaTelemetryMiddleware()],
        log_level=logging.DEBUG,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )


class KafkaTransport:
    """The outbox relay's way to the broker: a producer of its own (acks=all) and a plain
    consumer to read partitions back.

    Not the service's FastStream broker: its publish path (middlewares, a span of its own, a
    message object per record) cost ~100 µs of CPU per event on top of aiokafka's ~11 µs, and
    the relay already traces each record (kit.outbox) and carries the trace in its headers."""

    def __init__(
        self,
        bootstrap: str,
        partitions: int = 6,
        replication: int = 1,
        client_id: str = "dn-outbox-relay",
    ) -> None:
        self._bootstrap = bootstrap
        self._new_partitions = partitions
        self._replication = replication
        self._client_id = client_id
        self._reader: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def _consumer(self) -> AIOKafkaConsumer:
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                # Out of range must be an answer ("not there"), not a silent jump elsewhere.
                auto_offset_reset="none",
                request_timeout_ms=5000,
                fetch_max_wait_ms=100,
            )
            await reader.start()
            self._reader = reader
        return self._reader

    async def _sender(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                metadata_max_age_ms=METADATA_MAX_AGE_MS,
            )
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        for client in (self._reader, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        self._reader = None
        self._producer = None

    async def partition_count(self, topic: str) -> int:
        reader = await self._consumer()
        if topic not in await reader.topics():
            await ensure_topics(self._bootstrap, self._new_partitions, self._replication)
            await reader.topics()
        found = reader.partitions_for_topic(topic)
        if not found:
            raise KafkaError(f"topic {topic} has no partitions")
        return len(found)

    async def send(
        self, topic: str, partition: int, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[int]:
        producer = await self._sender()
        pending = await producer.send(
            topic,
            value,
            key=key,
            partition=partition,
            headers=[(name, text.encode()) for name, text in headers.items()],
        )

        async def offset() -> int:
            metadata = await pending
            return int(metadata.offset)

        return offset()

    async def holds(
        self, topic: str, partition: int, offset: int, ce_id: str | None
    ) -> bool | None:
        try:
            reader = await self._consumer()
            if topic not in await reader.topics():
                return False
            tp = TopicPartition(topic, partition)
            # The embedded broker answers a low end offset (its last batch's start + 1), but
            # never 0 for a partition holding records.
            if (await reader.end_offsets([tp]))[tp] == 0:
                return False
            if ce_id is None:
                return True
            reader.assign([tp])
            reader.seek(tp, offset)
            fetched = await reader.getmany(tp, timeout_ms=2000, max_records=1)
        except OffsetOutOfRangeError:
            return False
        except (TimeoutError, KafkaError, OSError) as error:
            log.debug("cannot ask the broker about %s[%d]: %s", topic, partition, error)
            return None
        records = fetched.get(tp, [])
        if not records:
            return None
        found = dict(records[0].headers).get("ce_id", b"").decode(errors="replace")
        return bool(records[0].offset == offset and found == ce_id)
