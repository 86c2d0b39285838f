"""Dead letters: a record that cannot be processed goes to ``dn.deadletter`` with a reason.

The original key, value and headers are kept byte for byte (a partner's malformed header is
evidence), so this uses its own aiokafka producer rather than the broker's str-only headers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import MessageSizeTooLargeError

from contracts.topics import DEAD_LETTER
from kit.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 2000
# A record as large as a producer may send (1 MiB by default) plus the dn_* headers.
MAX_DEAD_LETTER_BYTES = 2 * 1024 * 1024


class DeadLetters:
    def __init__(self, bootstrap: str, consumer: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", max_request_size=MAX_DEAD_LETTER_BYTES
        )
        self._consumer = consumer

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, record: ConsumerRecord[bytes, bytes], reason: str, detail: str) -> None:
        """Publish ``record`` to the dead-letter topic and wait for the broker's ack.

        Retrying cannot make a record smaller: one the broker refuses as too large is
        dead-lettered without its value (its size in ``dn_value_omitted``), rather than
        holding up its partition for ever."""
        headers = dead_letter_headers(record, reason, detail, self._consumer)
        try:
            await self._producer.send_and_wait(
                DEAD_LETTER, value=record.value, key=record.key, headers=headers
            )
        except MessageSizeTooLargeError:
            size = len(record.value or b"")
            log.warning("dead letter of %s bytes too large; sent without its value", size)
            omitted = [*headers, ("dn_value_omitted", str(size).encode())]
            await self._producer.send_and_wait(
                DEAD_LETTER, value=None, key=record.key or b"", headers=omitted
            )
        DEAD_LETTERS.labels(record.topic, reason).inc()


def dead_letter_headers(
    record: ConsumerRecord[bytes, bytes], reason: str, detail: str, consumer: str
) -> list[tuple[str, bytes]]:
    """The record's own headers (but any dn_*) and ours. The detail may quote the partner's
    input, which need not be Unicode text (half a surrogate pair): it is escaped, never a
    reason to fail, since a dead letter that cannot be sent stalls its partition."""
    return [
        *[(name, value) for name, value in (record.headers or ()) if not name.startswith("dn_")],
        ("dn_error", reason.encode()),
        ("dn_error_detail", detail[:MAX_DETAIL_CHARS].encode(errors="backslashreplace")),
        ("dn_source_topic", record.topic.encode()),
        ("dn_source_partition", str(record.partition).encode()),
        ("dn_source_offset", str(record.offset).encode()),
        ("dn_consumer", consumer.encode()),
        ("dn_failed_at", datetime.now(UTC).isoformat().encode()),
    ]
