"""Dead letters: a record that cannot be processed goes to ``dn.deadletter`` with a reason.

The original key, value and headers are kept byte for byte (a partner's malformed header is
evidence), so this uses its own aiokafka producer rather than the broker's str-only headers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord

from contracts.topics import DEAD_LETTER
from kit.metrics import DEAD_LETTERS

MAX_DETAIL_CHARS = 2000


class DeadLetters:
    def __init__(self, bootstrap: str, consumer: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self._consumer = consumer

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, record: ConsumerRecord[bytes, bytes], reason: str, detail: str) -> None:
        """Publish ``record`` to the dead-letter topic and wait for the broker's ack."""
        headers = [
            *[
                (name, value)
                for name, value in (record.headers or ())
                if not name.startswith("dn_")
            ],
            ("dn_error", reason.encode()),
            ("dn_error_detail", detail[:MAX_DETAIL_CHARS].encode()),
            ("dn_source_topic", record.topic.encode()),
            ("dn_source_partition", str(record.partition).encode()),
            ("dn_source_offset", str(record.offset).encode()),
            ("dn_consumer", self._consumer.encode()),
            ("dn_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._producer.send_and_wait(
            DEAD_LETTER, value=record.value, key=record.key, headers=headers
        )
        DEAD_LETTERS.labels(record.topic, reason).inc()
