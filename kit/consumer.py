"""At-least-once event consumption: decode, apply once per ``ce_id``, retry, or dead-letter.

Every subscriber built here acknowledges a record only after its effect committed or it was
dead-lettered, so a crash replays it and the ``processed`` record makes the replay a no-op.
Failures are sorted three ways:

* the record is unreadable or refused by the domain (:class:`Rejected`): dead-letter now;
* the database or broker is unreachable: wait with capped backoff, however long it takes,
  since every later record would fail the same way (the partition waits, nothing is lost);
* anything else: a few retries with backoff, then dead-letter with the error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from contracts.catalogue import EVENT_TYPES
from contracts.envelope import CloudEvent, EnvelopeError, describe_validation_error
from kit.deadletter import DeadLetters
from kit.metrics import EVENTS_CONSUMED
from kit.mongo import Document, Session, in_transaction

log = logging.getLogger(__name__)

PROCESSED = "processed"
MAX_FAILURE_TEXT = 500
UNAVAILABLE = (ConnectionFailure, KafkaConnectionError, KafkaTimeoutError, ConnectionError)


class Rejected(Exception):
    """The event can never be applied (unknown reference, invalid data…); ``reason`` is a code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay_s: float = 0.1
    max_delay_s: float = 30.0


# The effect of one event, run inside the transaction that records its ce_id.
Effect = Callable[[CloudEvent, Session], Awaitable[None]]


class IdempotentConsumer:
    """Applies each event's effect at most once, recording its ``ce_id`` in the same transaction."""

    def __init__(
        self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document], name: str
    ) -> None:
        self._client = client
        self._processed = db[PROCESSED]
        self.name = name

    async def apply(self, event: CloudEvent, effect: Effect) -> bool:
        """Run ``effect`` unless this consumer already did for ``event.id``; True when applied."""
        marker = f"{self.name}/{event.id}"

        async def work(session: Session) -> bool:
            # Read first: a duplicate-key error inside a transaction would abort it. Two
            # concurrent deliveries both pass this read, then one hits a write conflict and is
            # retried by with_transaction, finding the marker the second time.
            if await self._processed.find_one({"_id": marker}, session=session):
                return False
            await self._processed.insert_one(
                {"_id": marker, "type": event.type, "at": datetime.now(UTC)}, session=session
            )
            await effect(event, session)
            return True

        return await in_transaction(self._client, work)


async def _tolerant_parser(
    record: ConsumerRecord[bytes, bytes],
    parse: Callable[[ConsumerRecord[bytes, bytes]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """The framework decodes every header as UTF-8 and fails on anything else, before any
    handler could dead-letter the record; it gets a readable copy, we keep the original."""
    readable = dataclasses.replace(
        record,
        headers=[(name, value.decode(errors="replace").encode()) for name, value in record.headers],
    )
    message = await parse(readable)
    message.raw_message = record
    return message


async def _raw_body(message: StreamMessage[object]) -> bytes:
    """Leave decoding to us: the framework's JSON decoder would fail before any handler runs."""
    return message.body


def subscribe(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    handle: Callable[[CloudEvent], Awaitable[object]],
    dead_letters: DeadLetters,
    retry: RetryPolicy = RetryPolicy(),
    fetch_max_wait_ms: int = 10,
) -> None:
    """Register an at-least-once subscriber that hands each readable event to ``handle``."""

    async def on_record(message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)
        outcome, reason, detail = await _process(record.value, record.headers, handle, retry)
        if outcome == "dead_lettered":
            await _until_sent(lambda: dead_letters.send(record, reason, detail), retry)
        EVENTS_CONSUMED.labels(record.topic, _event_type_label(record.headers), outcome).inc()
        await message.ack()

    broker.subscriber(
        *topics,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        parser=_tolerant_parser,
        decoder=_raw_body,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )(on_record)


async def _process(
    value: bytes | None,
    headers: object,
    handle: Callable[[CloudEvent], Awaitable[object]],
    retry: RetryPolicy,
) -> tuple[str, str, str]:
    """Returns (outcome, dead-letter reason, detail)."""
    try:
        event = CloudEvent.from_kafka(value, headers)  # type: ignore[arg-type]
    except EnvelopeError as error:
        return "dead_lettered", error.reason, error.detail
    delay = retry.first_delay_s
    failures = 0
    while True:
        try:
            await handle(event)
            return "applied", "", ""
        except (Rejected, EnvelopeError) as error:
            return "dead_lettered", error.reason, error.detail
        except UNAVAILABLE as error:
            log.warning("infrastructure unavailable (%s); retrying in %.1f s", error, delay)
        except Exception as error:
            failures += 1
            what = describe_failure(error)
            if failures >= retry.attempts:
                log.error(
                    "event %s failed %d times (%s); dead-lettering",
                    event.id,
                    failures,
                    what,
                    exc_info=not isinstance(error, ValidationError),
                )
                return "dead_lettered", "processing_failed", what
            log.warning("event %s failed (%s); retry %d", event.id, what, failures)
        await asyncio.sleep(delay)
        delay = min(delay * 2, retry.max_delay_s)


def describe_failure(error: Exception) -> str:
    """An error as logs and dead letters may show it: a validation error names fields only,
    since its own text repeats the input (an intake request may carry personal data)."""
    if isinstance(error, ValidationError):
        return f"ValidationError: {describe_validation_error(error)}"
    return f"{type(error).__name__}: {error}"[:MAX_FAILURE_TEXT]


async def _until_sent(send: Callable[[], Awaitable[None]], retry: RetryPolicy) -> None:
    delay = retry.first_delay_s
    while True:
        try:
            await send()
            return
        except Exception as error:
            log.warning("dead-letter publish failed (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry.max_delay_s)


def _event_type_label(headers: object) -> str:
    """The ce_type header when it is a known type; partner input must not mint metric labels."""
    for key, value in headers or ():  # type: ignore[attr-defined]
        if key == "ce_type":
            name = bytes(value).decode(errors="replace")
            return name if name in EVENT_TYPES else "unknown"
    return "unknown"
