"""At-least-once event consumption: decode, apply once per ``ce_id``, retry, or dead-letter.

Subscribers take records in batches (one offset commit per batch). Every one built here
acknowledges a batch only after its effects committed or its refusals were dead-lettered, so
a crash replays it and the ``processed`` record makes the replay a no-op. Partner intake has
its own batches on top of these (kit.intake: parking, the delivery log).
Failures are sorted three ways:

* the record is unreadable or refused by the domain (:class:`Rejected`): dead-letter now;
* the database or broker is unreachable: wait with capped backoff, however long it takes,
  since every later record would fail the same way (the partition waits, nothing is lost);
* anything else: a few retries with backoff, then dead-letter with the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import propagate, trace
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from contracts.catalogue import EVENT_TYPES
from contracts.envelope import CloudEvent, EnvelopeError, describe_validation_error
from kit.deadletter import DeadLetters
from kit.log_positions import BrokerResets, LogPositions
from kit.metrics import CONSUMER_LAG, EVENTS_CONSUMED
from kit.mongo import Document, Session, in_transaction, insert_in, sharing

log = logging.getLogger(__name__)
D = TypeVar("D")
R = TypeVar("R")
T = TypeVar("T")

PROCESSED = "processed"
_tracer = trace.get_tracer(__name__)
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
        self.client = client
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
            # The effect first: one that refuses the event (or finds it must wait, kit.parking)
            # raises before writing anything, and no marker may say it was applied.
            await effect(event, session)
            # Deferred to the end of a shared batch: a redelivery within the batch passed the
            # read above too, and fails the batch (applied one by one) when the markers are written.
            await insert_in(
                self._processed,
                [{"_id": marker, "type": event.type, "at": datetime.now(UTC)}],
                session,
            )
            return True

        return await in_transaction(self.client, work)

    async def fresh(
        self, items: Sequence[tuple[CloudEvent, D]], session: Session
    ) -> list[tuple[CloudEvent, D]]:
        """The items whose event this consumer has not applied yet, each event once (one
        query; a batch may hold a redelivery of an event earlier in it)."""
        seen = await self.applied_among([event for event, _ in items], session)
        found = []
        for event, data in items:
            if event.id not in seen:
                seen.add(event.id)
                found.append((event, data))
        return found

    async def applied_among(self, events: Sequence[CloudEvent], session: Session) -> set[UUID]:
        """The ids of these events this consumer has already applied (one query)."""
        markers = [f"{self.name}/{event.id}" for event in events]
        cursor = self._processed.find({"_id": {"$in": markers}}, {"_id": 1}, session=session)
        return {UUID(doc["_id"].rpartition("/")[2]) async for doc in cursor}

    async def mark_applied(self, events: Sequence[CloudEvent], session: Session) -> None:
        """Record these events as applied, in the transaction of their effects (one write)."""
        if events:
            at = datetime.now(UTC)
            await insert_in(
                self._processed,
                [{"_id": f"{self.name}/{e.id}", "type": e.type, "at": at} for e in events],
                session,
            )


async def in_runs(
    items: Sequence[tuple[CloudEvent, D]],
    together: Callable[[D], bool],
    run: Callable[[list[tuple[CloudEvent, D]]], Awaitable[list[R]]],
    alone: Callable[[CloudEvent, D], Awaitable[R]],
) -> list[R]:
    """Each item's result, in order: every stretch of consecutive items ``together`` accepts
    handed to ``run`` at once (a batched use case), the others to ``alone``."""
    results: list[R] = []
    stretch: list[tuple[CloudEvent, D]] = []
    for event, data in items:
        if together(data):
            stretch.append((event, data))
            continue
        if stretch:
            results += await run(stretch)
            stretch = []
        results.append(await alone(event, data))
    if stretch:
        results += await run(stretch)
    return results


async def apply_batch(
    client: AsyncMongoClient[Document],
    events: Sequence[CloudEvent],
    decode: Callable[[CloudEvent], D],
    together: Callable[[D], bool],
    run: Callable[[Session, list[tuple[CloudEvent, D]]], Awaitable[None]],
    alone: Callable[[CloudEvent], Awaitable[object]],
) -> None:
    """A batch of events in one transaction (kit.mongo.sharing): each stretch of consecutive
    events ``together`` accepts handed to ``run`` at once, the others to ``alone`` (whose own
    transactions join this one)."""

    async def work(session: Session) -> None:
        async def stretch(items: list[tuple[CloudEvent, D]]) -> list[None]:
            await run(session, items)
            return [None] * len(items)

        async def one(event: CloudEvent, _: D) -> None:
            await alone(event)

        async with sharing(session):
            await in_runs([(event, decode(event)) for event in events], together, stretch, one)

    await in_transaction(client, work)


async def _raw_body(message: StreamMessage[object]) -> bytes:
    """Leave decoding to us: the framework's JSON decoder would fail before any handler runs."""
    return message.body


def describe_failure(error: Exception) -> str:
    """An error as logs and dead letters may show it: a validation error names fields only,
    since its own text repeats the input (an intake request may carry personal data)."""
    if isinstance(error, ValidationError):
        return f"ValidationError: {describe_validation_error(error)}"
    return f"{type(error).__name__}: {error}"[:MAX_FAILURE_TEXT]


async def until_sent(send: Callable[[], Awaitable[None]], retry: RetryPolicy) -> None:
    delay = retry.first_delay_s
    while True:
        try:
            await send()
            return
        except Exception as error:
            log.warning("dead-letter publish failed (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry.max_delay_s)


def observe_lag(
    consumer: object, group_id: str, records: Sequence[ConsumerRecord[Any, Any]]
) -> None:
    """Set ``dn_consumer_lag`` for each partition in ``records`` from the consumer's last known
    high-water mark. Never below zero: the embedded broker reports a partition's end a little
    low. A partition revoked meanwhile (rebalance) is skipped; its new owner reports it."""
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:  # FastStream's test broker has no real consumer
        return
    last: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        last[key] = max(last.get(key, -1), record.offset)
    for (topic, partition), offset in last.items():
        try:
            end = highwater(TopicPartition(topic, partition))
        except (AssertionError, KeyError):
            continue
        if end is not None:
            CONSUMER_LAG.labels(group_id, topic, str(partition)).set(max(0, end - offset - 1))


def record_type_label(headers: object) -> str:
    """The ce_type header when it is a known type; partner input must not mint metric labels."""
    for key, value in headers or ():  # type: ignore[attr-defined]
        if key == "ce_type":
            name = bytes(value).decode(errors="replace")
            return name if name in EVENT_TYPES else "unknown"
    return "unknown"


# -- batches ------------------------------------------------------------------------------------

# A batch handler applies readable events together; it raises only when the batch as a whole
# could not be applied (then each event is retried alone, so one bad event cannot hold the rest).
BatchHandler = Callable[[list[CloudEvent]], Awaitable[object]]


async def _tolerant_batch_parser(
    records: tuple[ConsumerRecord[bytes, bytes], ...],
    parse: Callable[[tuple[ConsumerRecord[bytes, bytes], ...]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parser makes a message of every record of a batch (its headers read as
    strict UTF-8: a partner's bad bytes would fail the whole batch), a body and headers no
    handler here reads: they take the raw records (:func:`subscribe_records`). It gets the
    first record only, its headers made readable, for the message's ids; the message carries
    every raw record. (Parsing them all was ~7% of a consumer's CPU.)"""
    if not records:
        return await parse(records)
    first = records[0]
    readable = dataclasses.replace(
        first, headers=[(k, v.decode(errors="replace").encode()) for k, v in first.headers]
    )
    message = await parse((readable,))
    message.raw_message = records
    return message


@dataclass(frozen=True)
class Fetching:
    """How a subscriber takes its records: batches of up to ``max_records``, waiting up to
    ``fetch_max_wait_ms`` for them. ``positions``: the log positions it has passed (canonical
    events already applied are skipped after a broker lost its log), ``resets`` the broker
    restarts it watches for. ``linger_ms``: a batch short of ``max_records`` is followed by a
    pause until that long has passed since it was taken, so records arriving at a trickle are
    taken together (one transaction and one offset commit for many) by a subscriber whose
    readers do not watch it live."""

    max_records: int = 500
    fetch_max_wait_ms: int = 10
    linger_ms: int = 0
    positions: LogPositions | None = None
    resets: BrokerResets | None = None


def subscribe_batch(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    handle: BatchHandler,
    dead_letters: DeadLetters,
    retry: RetryPolicy = RetryPolicy(),
    fetching: Fetching = Fetching(),
) -> None:
    """Register an at-least-once subscriber that hands readable events to ``handle`` in batches
    (``fetching``); the batch is acknowledged once applied or dead-lettered."""

    async def take(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        await process_batch(list(records), handle, dead_letters, retry)

    subscribe_records(broker, *topics, group_id=group_id, take=take, fetching=fetching)


# Takes a batch of records as the broker gave them (those passed by position left out); returns
# once each is applied, parked or dead-lettered: the batch's offsets are then committed at once.
RecordsTaker = Callable[[Sequence[ConsumerRecord[bytes, bytes]]], Awaitable[None]]


def subscribe_records(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    take: RecordsTaker,
    fetching: Fetching = Fetching(),
) -> None:
    """Register an at-least-once subscriber handing batches of raw records to ``take``
    (``fetching``), one offset commit per batch."""
    positions = fetching.positions or LogPositions(None, group_id)
    resets, max_records = fetching.resets, fetching.max_records
    fetch_max_wait_ms, linger_s = fetching.fetch_max_wait_ms, fetching.linger_ms / 1000

    async def on_batch(message: KafkaMessage) -> None:
        taken_at = time.monotonic()
        records = message.raw_message
        assert isinstance(records, tuple)
        if await positions.after_reset(message.consumer, resets):
            return  # read again from the start, these records with the rest
        admitted = await positions.admit(message.consumer, records)
        if admitted:
            await take(admitted)
        await message.ack()
        observe_lag(
            message.consumer,
            group_id,
            [r for r in records if (r.topic, r.partition) not in positions.rewound],
        )
        await positions.save()
        if linger_s and len(records) < max_records:
            await asyncio.sleep(linger_s - (time.monotonic() - taken_at))

    broker.subscriber(
        *topics,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=max_records,
        # FastStream waits this long for records, then as long again after an empty wait:
        # its 200 ms default held records that arrived meanwhile for up to 200 ms more.
        batch_timeout_ms=fetch_max_wait_ms,
        parser=_tolerant_batch_parser,
        decoder=_raw_body,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )(on_batch)


async def process_batch(
    records: tuple[ConsumerRecord[bytes, bytes], ...] | list[ConsumerRecord[bytes, bytes]],
    handle: BatchHandler,
    dead_letters: DeadLetters,
    retry: RetryPolicy,
) -> None:
    """Apply a batch: unreadable records are dead-lettered, the rest applied together, or one by
    one when the batch fails, so each failing event is retried and dead-lettered on its own.
    The batch gets a span per request it carries (see :func:`batch_spans`)."""
    readable: list[tuple[ConsumerRecord[bytes, bytes], CloudEvent]] = []
    for record in records:
        try:
            readable.append((record, CloudEvent.from_kafka(record.value, record.headers)))
        except EnvelopeError as error:
            await until_sent(partial(dead_letters.send, record, error.reason, error.detail), retry)
            EVENTS_CONSUMED.labels(record.topic, "unknown", "dead_lettered").inc()
    if not readable:
        return
    with batch_work([record for record, _ in readable]):
        outcome, _, _ = await _process_events([e for _, e in readable], handle, retry)
        if outcome == "applied":
            for record, event in readable:
                EVENTS_CONSUMED.labels(record.topic, known_type(event.type), "applied").inc()
            return
    for record, event in readable:
        # Split after a failure: each event alone, in its own trace, so the one that fails
        # shows where it came from.
        with trace.use_span(event_span(record, event), end_on_exit=True):
            outcome, reason, detail = await _process_events([event], handle, retry)
        if outcome == "dead_lettered":
            await until_sent(partial(dead_letters.send, record, reason, detail), retry)
        EVENTS_CONSUMED.labels(record.topic, known_type(event.type), outcome).inc()


async def _process_events(
    events: list[CloudEvent], handle: BatchHandler, retry: RetryPolicy
) -> tuple[str, str, str]:
    """Apply readable events: (outcome, dead-letter reason, detail). A batch of several is
    tried once (on failure the caller splits it); a single event gets the retry policy."""
    if len(events) > 1:
        try:
            await until_available(lambda: handle(events), retry)
        except Exception as error:
            what = describe_failure(error)
            log.warning("batch of %d failed (%s); applying one by one", len(events), what)
            return "split", "", ""
        return "applied", "", ""
    try:
        await retried(lambda: handle(events), retry, f"event {events[0].id}", REFUSALS)
    except REFUSALS as refused:
        return "dead_lettered", refused.reason, refused.detail
    return "applied", "", ""


# What a handler raises to refuse an event for good: never retried.
REFUSALS = (Rejected, EnvelopeError)


async def until_available(call: Callable[[], Awaitable[T]], retry: RetryPolicy) -> T:
    """``call``'s answer, waiting however long the database or broker is away (every later
    event would fail alike); any other failure is raised."""
    delay = retry.first_delay_s
    while True:
        try:
            return await call()
        except UNAVAILABLE as error:
            log.warning("infrastructure unavailable (%s); retrying in %.1f s", error, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, retry.max_delay_s)


async def retried(
    call: Callable[[], Awaitable[T]],
    retry: RetryPolicy,
    subject: str,
    final: tuple[type[Exception], ...],
) -> T:
    """``call``'s answer: the database or broker away, waited for (:func:`until_available`);
    an exception of ``final`` raised as it is; any other failure retried with backoff, and
    after ``retry.attempts`` raised as :class:`Rejected` ``processing_failed``."""
    delay = retry.first_delay_s
    failures = 0
    while True:
        try:
            return await until_available(call, retry)
        except final:
            raise
        except Exception as error:
            failures += 1
            what = describe_failure(error)
            if failures >= retry.attempts:
                log.error(
                    "%s failed %d times (%s); dead-lettering",
                    subject,
                    failures,
                    what,
                    exc_info=not isinstance(error, ValidationError),
                )
                raise Rejected("processing_failed", what) from error
            log.warning("%s failed (%s); retry %d", subject, what, failures)
        await asyncio.sleep(delay)
        delay = min(delay * 2, retry.max_delay_s)


# The headers a span's context travels in (traceparent, tracestate, baggage): only these are
# decoded for a record's span.
_TRACE_HEADERS = frozenset(propagate.get_global_textmap().fields)
_TRACEPARENT = "traceparent"


def _carrier_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {
        k: bytes(v).decode(errors="replace") for k, v in record.headers or () if k in _TRACE_HEADERS
    }


def event_span(record: ConsumerRecord[bytes, bytes], event: CloudEvent) -> trace.Span:
    """A span for one event, in the trace of the request that caused it."""
    return _tracer.start_span(
        f"{record.topic} process",
        context=propagate.extract(_carrier_of(record)),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.message.offset": record.offset,
            "messaging.message.id": str(event.id),
            "cloudevents.event_type": known_type(event.type),
        },
    )


def batch_spans(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[trace.Span]:
    """The spans of a batch of records: one per request the batch carries, in that request's
    trace (records one transaction made share one context, so a batch of hundreds of events has
    a few), not one per event, which cost more than applying it. The last is the newest
    request's: the batch's work is traced under it (:func:`batch_work`)."""
    carriers: dict[bytes, ConsumerRecord[bytes, bytes]] = {}
    counts: Counter[bytes] = Counter()
    for record in records:
        traceparent = next((bytes(v) for k, v in record.headers or () if k == _TRACEPARENT), b"")
        carriers.pop(traceparent, None)  # moved to the end: ordered by last appearance
        carriers[traceparent] = record
        counts[traceparent] += 1
    return [
        _tracer.start_span(
            f"{record.topic} process",
            context=propagate.extract(_carrier_of(record)) if traceparent else None,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation": "process",
                "messaging.destination.name": record.topic,
                "messaging.batch.message_count": counts[traceparent],
            },
        )
        for traceparent, record in carriers.items()
    ]


@contextlib.contextmanager
def batch_work(records: Sequence[ConsumerRecord[bytes, bytes]]) -> Iterator[None]:
    """The batch's spans (:func:`batch_spans`) for the block, its work under the newest
    request's; all ended after it."""
    spans = batch_spans(records)
    try:
        if spans:
            with trace.use_span(spans[-1], end_on_exit=False):
                yield
        else:
            yield
    finally:
        for span in spans:
            span.end()


def known_type(event_type: str) -> str:
    return event_type if event_type in EVENT_TYPES else "unknown"
