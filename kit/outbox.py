"""Each service's event log (the transactional outbox, kept for good) and the relay publishing it.

A service calls :func:`enqueue` inside the transaction that changes its state, so an event
exists exactly when the change committed. The records are never deleted: they are the
service's own history, and the broker is only how the other services read it (an embedded
broker keeps nothing across a restart; a new cluster starts empty).

The :class:`OutboxRelay` gives each record, when it first takes it, its place in the log: a
service-wide ``sequence`` and, within the partition of the service's topic that its key maps
to, a dense ``position`` (1, 2, 3 …), both carried in headers. It then publishes in that order
with acks=all, gathering the acks of a batch, and moves each partition's *sent mark* (the last
position acknowledged, one document per partition in ``outbox_meta``) past the batch: a record
is written once and placed once, never marked one by one. After a crash it resumes after the
marks: an event may be published twice, never lost, never reordered within its partition
(consumers dedupe on ``ce_id`` and skip positions they have passed).

When the broker holds less than the log (its partition is empty, or a publish lands at an
offset lower than one already acknowledged), the relay moves that partition's mark back to 0:
the normal loop re-publishes its records in position order, with the same ``ce_id``, key and
headers, before anything newer. The request's trace context travels in the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka.partitioner import murmur2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from contracts.event import EventData
from kit.consumer import UNAVAILABLE
from kit.log_positions import LOG_HEADER, POSITION_HEADER, BrokerResets
from kit.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_REPUBLISHED
from kit.mongo import Document, Session, insert_in

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

COLLECTION = "outbox"
META = "outbox_meta"


class Transport(Protocol):
    """What the relay needs of the broker."""

    async def partition_count(self, topic: str) -> int:
        """Partitions of ``topic``, creating the platform's topics when it is missing."""
        ...

    async def send(
        self, topic: str, partition: int, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[int]:
        """Hand one record to the producer; the awaitable gives its offset once acknowledged."""
        ...

    async def holds(
        self, topic: str, partition: int, offset: int, ce_id: str | None
    ) -> bool | None:
        """Whether the broker still holds the partition up to ``offset`` (checking that the
        record there is ``ce_id`` when given, else only that the partition is not empty);
        None when it cannot tell now."""
        ...


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    outbox = db[COLLECTION]
    # Records used to expire a week after publishing; the log is now kept for good.
    with contextlib.suppress(OperationFailure):
        await outbox.drop_index("sent_at_ttl")
    # Records were once marked sent one by one; the marks are per partition now (outbox_meta).
    for retired in ("sent_at_1_seq_1", "sent_at_1_position_1"):
        with contextlib.suppress(OperationFailure):
            await outbox.drop_index(retired)
    # The records not placed yet, in the order they were taken (only those are in the index).
    await outbox.create_index(
        [("unplaced", ASCENDING), ("seq", ASCENDING)],
        name="unplaced",
        partialFilterExpression={"unplaced": {"$exists": True}},
    )
    # Two relays of one service (a process restarted while the old one still runs) cannot
    # both give a position away: the second write fails and that relay reloads its heads.
    await outbox.create_index(
        [("topic", ASCENDING), ("partition", ASCENDING), ("position", ASCENDING)],
        name="log_position",
        unique=True,
        partialFilterExpression={"position": {"$exists": True}},
    )
    await outbox.create_index("sequence", sparse=True)


async def enqueue(
    db: AsyncDatabase[Document], session: Session, event: EventData, source: str
) -> str:
    """Store ``event`` for publishing, in the caller's transaction; returns its ``ce_id``."""
    [ce_id] = await enqueue_many(db, session, [event], source)
    return ce_id


async def enqueue_many(
    db: AsyncDatabase[Document], session: Session, events: Sequence[EventData], source: str
) -> list[str]:
    """Store ``events`` for publishing, in this order, in the caller's transaction (one write);
    their ``ce_id``s."""
    if not events:
        return []
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    documents: list[Document] = []
    for event in events:
        envelope = event.to_event(source)
        value, headers = envelope.to_kafka()
        documents.append(
            {
                "_id": str(envelope.id),
                "topic": event.topic,
                "key": event.subject(),
                "type": envelope.type,
                "value": value,
                "headers": headers,
                "trace": carrier,
                "created_at": datetime.now(UTC),
                # The order the relay takes records in; created_at alone ties within a ms.
                "seq": _next_seq(),
                "unplaced": True,  # until the relay gives it its place in the log
            }
        )
    await insert_in(db[COLLECTION], documents, session)
    return [str(document["_id"]) for document in documents]


_last_seq = 0


def _next_seq() -> int:
    """Nanosecond clock, strictly increasing within the process."""
    global _last_seq
    _last_seq = max(time.time_ns(), _last_seq + 1)
    return _last_seq


def _brief(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:200]


@dataclass
class Reseed:
    """What the relay re-published because the broker had lost it."""

    events: int = 0
    seconds: float = 0.0
    pending: int = 0  # still to re-publish
    started: float | None = None  # monotonic, while a re-seed is under way
    last_batch: float | None = None  # monotonic, when its last batch was acknowledged
    # The relay has asked the broker, since this process started, whether it holds what was
    # published, and had an answer for every partition: a re-seed it needs is under way.
    checked: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "pending": self.pending,
            "running": self.started is not None,
            "checked": self.checked,
        }


@dataclass(frozen=True)
class LogHeads:
    """How far a service's log goes: the last position given in each partition of its topic."""

    log_id: str
    topic: str | None
    positions: dict[int, int]
    events: int
    unsent: int

    def as_json(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "topic": self.topic,
            "events": self.events,
            "unsent": self.unsent,
            "partitions": {str(p): n for p, n in sorted(self.positions.items())},
        }


async def log_id_of(db: AsyncDatabase[Document]) -> str:
    """The log's identity, made once with it: positions count from 1 again in a new log."""
    meta = db[META]
    await meta.update_one(
        {"_id": "log"}, {"$setOnInsert": {"log_id": uuid.uuid4().hex}}, upsert=True
    )
    found = await meta.find_one({"_id": "log"})
    assert found is not None
    return str(found["log_id"])


@dataclass(frozen=True)
class SentMark:
    """How far a partition of the log is published: the last position acknowledged, and the
    broker's offset and ``ce_id`` of that record (what the relay asks the broker about)."""

    position: int
    offset: int | None = None
    ce_id: str | None = None


def _mark_id(topic: str, partition: int) -> str:
    return f"sent:{topic}:{partition}"


async def sent_marks(db: AsyncDatabase[Document]) -> dict[tuple[str, int], SentMark]:
    """Each partition's sent mark (none yet: nothing of it published)."""
    marks = {}
    async for doc in db[META].find({"_id": {"$regex": "^sent:"}}):
        marks[(str(doc["topic"]), int(doc["partition"]))] = SentMark(
            int(doc["position"]), doc.get("offset"), doc.get("ce_id")
        )
    return marks


def _behind(heads: dict[tuple[str, int], int], sent: dict[tuple[str, int], int]) -> int:
    """Records placed but not acknowledged: over partitions, the head less the sent mark."""
    return sum(max(0, head - sent.get(key, 0)) for key, head in heads.items())


async def _heads_of(db: AsyncDatabase[Document]) -> dict[tuple[str, int], int]:
    heads: dict[tuple[str, int], int] = {}
    async for row in await db[COLLECTION].aggregate(
        [
            {"$match": {"position": {"$exists": True}}},
            {"$group": {"_id": {"t": "$topic", "p": "$partition"}, "head": {"$max": "$position"}}},
        ]
    ):
        heads[(str(row["_id"]["t"]), int(row["_id"]["p"]))] = int(row["head"])
    return heads


async def log_heads(db: AsyncDatabase[Document]) -> LogHeads:
    """The last position given per partition, how many events the log holds and how many
    are not published yet."""
    outbox = db[COLLECTION]
    heads = await _heads_of(db)
    marks = await sent_marks(db)
    unplaced = await outbox.count_documents({"unplaced": True})
    behind = _behind(heads, {key: mark.position for key, mark in marks.items()})
    return LogHeads(
        log_id=await log_id_of(db),
        topic=next((topic for topic, _ in heads), None),
        positions={partition: head for (_, partition), head in heads.items()},
        events=await outbox.count_documents({}),
        unsent=unplaced + behind,
    )


class OutboxRelay:
    """Publishes a service's log in order; woken by :meth:`notify` or by polling, and watching
    the broker for a loss it must repair."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        transport: Transport,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        check_interval_s: float = 2.0,
        check_timeout_s: float = 3.0,
        max_backoff_s: float = 10.0,
        publish_timeout_s: float = 10.0,
        resets: BrokerResets | None = None,
    ) -> None:
        self._db = db
        self._outbox = db[COLLECTION]
        self._transport = transport
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._check_interval_s = check_interval_s
        self._check_timeout_s = check_timeout_s
        self._max_backoff_s = max_backoff_s
        self._publish_timeout_s = publish_timeout_s
        self._wake = asyncio.Event()
        self._loaded = False
        self._log_id = ""
        self._partitions: dict[str, int] = {}
        self._heads: dict[tuple[str, int], int] = {}  # the last position given
        self._sent: dict[tuple[str, int], int] = {}  # the last position acknowledged
        self._sequence = 0
        # Per partition, the acknowledged record with the highest offset since the broker last
        # lost it: (offset, ce_id). Only this relay writes the topic, so an offset at or below
        # it, or an empty partition, means the broker started again without the log.
        self._acked: dict[tuple[str, int], tuple[int, str]] = {}
        self._checked_at = 0.0
        self.reseed = Reseed()
        self._resets = resets

    def notify(self) -> None:
        """Tell the relay a transaction just committed events, to skip the poll delay."""
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                # Cleared before reading: a notify arriving while it publishes wakes the next turn.
                self._wake.clear()
                if time.monotonic() - self._checked_at > self._check_interval_s:
                    await self.check_broker()
                published = await self.publish_pending()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except (*UNAVAILABLE, TimeoutError) as error:
                # Expected while MongoDB or the broker is away: one line per try, no traceback.
                log.warning("outbox relay waits (%s); retrying in %.1f s", _brief(error), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            except Exception:
                log.exception("outbox relay failed; retrying in %.1f s", backoff)
                self._loaded = False  # e.g. another relay took a position: read the heads again
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            if published < self._batch_size:
                # Not asyncio.wait_for: on Python 3.11 it returns the result, swallowing a
                # cancel that arrives as the wait ends (a notify at the stop), and this loop
                # then ran for ever while the service's shutdown waited for it.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval_s):
                        await self._wake.wait()

    async def _load(self) -> None:
        """Read where the log stands, and check once, record by record, that the broker still
        holds the last one published in each partition."""
        if self._loaded:
            return
        self._log_id = await log_id_of(self._db)
        self._heads = await _heads_of(self._db)
        last = await self._outbox.find_one(
            {"sequence": {"$exists": True}}, sort=[("sequence", -1)], projection={"sequence": 1}
        )
        self._sequence = int(last["sequence"]) if last else 0
        marks = await sent_marks(self._db)
        if not marks and self._heads:
            marks = await self._marks_from_records()
        self._sent = {key: mark.position for key, mark in marks.items()}
        self._acked = {
            key: (mark.offset, mark.ce_id)
            for key, mark in marks.items()
            if mark.offset is not None and mark.ce_id is not None
        }
        self._loaded = True
        await self._ask_every_partition(by_record=True, why="it restarted without it")
        self._checked_at = time.monotonic()

    async def check_broker(self) -> int:
        """Ask the broker whether it still holds each partition of the log; returns how many
        events are to be published again (0 when it does, or cannot be asked now)."""
        await self._load()
        self._checked_at = time.monotonic()
        return await self._ask_every_partition(by_record=False, why="its partition is empty")

    async def _ask_every_partition(self, *, by_record: bool, why: str) -> int:
        """Ask the broker about the last record acknowledged in each partition (that very record
        with ``by_record``, else only whether the partition is empty), forget the sent mark of
        each it lost; returns how many events are to be published again. Once it answered for
        every partition, any re-seed needed is under way (``reseed.checked``)."""
        lost = 0
        answered = True
        for (topic, partition), (offset, ce_id) in list(self._acked.items()):
            holds = await self._ask(topic, partition, offset, ce_id if by_record else None)
            answered = answered and holds is not None
            if holds is False:
                lost += await self._forget_sent(topic, partition, why)
        self.reseed.checked = self.reseed.checked or answered
        return lost

    async def _ask(self, topic: str, partition: int, offset: int, ce_id: str | None) -> bool | None:
        # Bounded: with the broker away the question would wait out the client's timeouts and
        # hold up the publishing that resumes as soon as it is back.
        try:
            async with asyncio.timeout(self._check_timeout_s):
                return await self._transport.holds(topic, partition, offset, ce_id)
        except TimeoutError:
            return None

    async def _marks_from_records(self) -> dict[tuple[str, int], SentMark]:
        """A log written when each record was marked sent (``sent_at``): its partitions' sent
        marks, from the first record not sent; records never placed are marked unplaced (and
        those published before log positions existed are placed and published again)."""
        await self._outbox.update_many(
            {"position": {"$exists": False}, "unplaced": {"$exists": False}},
            {"$set": {"unplaced": True}},
        )
        marks: dict[tuple[str, int], SentMark] = {}
        for (topic, partition), head in self._heads.items():
            where = {"topic": topic, "partition": partition}
            first_unsent = await self._outbox.find_one(
                {**where, "position": {"$exists": True}, "sent_at": None},
                sort=[("position", ASCENDING)],
                projection={"position": 1},
            )
            sent = int(first_unsent["position"]) - 1 if first_unsent else head
            last = await self._outbox.find_one(
                {**where, "position": {"$lte": sent}, "offset": {"$exists": True}},
                sort=[("position", -1)],
                projection={"offset": 1},
            )
            marks[(topic, partition)] = SentMark(
                sent, *((int(last["offset"]), str(last["_id"])) if last else ())
            )
        await self._save_marks(marks, moving_back=True)
        return marks

    async def _save_marks(
        self, marks: dict[tuple[str, int], SentMark], moving_back: bool = False
    ) -> None:
        """Store partitions' sent marks (one write); a mark only moves forward unless
        ``moving_back`` (the broker lost the partition)."""
        updates = []
        for (topic, partition), mark in marks.items():
            fields: dict[str, Any] = {"topic": topic, "partition": partition}
            if mark.offset is not None:
                fields |= {"offset": mark.offset, "ce_id": mark.ce_id}
            change: dict[str, Any] = {"$set": fields}
            if moving_back:
                change["$set"] = fields | {"position": mark.position}
                if mark.offset is None:
                    change["$unset"] = {"offset": "", "ce_id": ""}
            else:
                change["$max"] = {"position": mark.position}
            updates.append(UpdateOne({"_id": _mark_id(topic, partition)}, change, upsert=True))
        if updates:
            await self._db[META].bulk_write(updates, ordered=False)

    async def _forget_sent(self, topic: str, partition: int, why: str) -> int:
        """Move a partition's sent mark back to 0, so its records are published again in
        position order."""
        self._partitions.pop(topic, None)  # asked again: the topic may have to be created
        again = self._sent.get((topic, partition), 0)
        await self._save_marks({(topic, partition): SentMark(0)}, moving_back=True)
        self._sent[(topic, partition)] = 0
        self._acked.pop((topic, partition), None)
        if again:
            if self.reseed.started is None:
                self.reseed.started = time.monotonic()
                self.reseed.last_batch = None
                if self._resets is not None:
                    self._resets.reset()  # this process's subscribers read from the start
            self.reseed.pending += again
            log.warning(
                "outbox: the broker lost %s[%d] (%s): re-publishing %d events",
                topic,
                partition,
                why,
                again,
            )
        return again

    async def publish_pending(self) -> int:
        """Publish one batch of the log in order; returns how many events were published."""
        await self._load()
        # Records already placed first (published again after a crash or a loss, lowest
        # position first), then new ones in the order they were taken.
        placed = await self._placed_unsent()
        room = self._batch_size - len(placed)
        fresh = (
            await self._outbox.find({"unplaced": True}).sort("seq", ASCENDING).limit(room).to_list()
            if room > 0
            else []
        )
        # Counted only when more wait than a batch takes: the count was a query per wake-up.
        unplaced = (
            len(fresh)
            if len(fresh) < room
            else await self._outbox.count_documents({"unplaced": True})
        )
        unsent = unplaced + _behind(self._heads, self._sent)
        # Counted before publishing, so the gauge (and `dn status`) rises while the broker is away.
        OUTBOX_BACKLOG.set(unsent)
        if not unsent:
            self._reseed_done()
            return 0
        batch = placed + await self._place(fresh)
        if not batch:
            return 0
        offsets = await self._publish(batch)
        lost = self._note_acks(batch, offsets)
        marks: dict[tuple[str, int], SentMark] = {}
        for record, offset in zip(batch, offsets, strict=True):
            # Within a partition the batch runs on from its mark, in position order.
            key = (record["topic"], record["partition"])
            marks[key] = SentMark(record["position"], offset, str(record["_id"]))
        await self._save_marks(marks)
        for key, mark in marks.items():
            self._sent[key] = max(self._sent.get(key, 0), mark.position)
        reseeding = self.reseed.started is not None  # this batch was part of a re-seed
        for topic, partition in lost:
            # The broker started again empty since our last publish: this batch landed first;
            # the partition's whole log goes again after it (consumers skip what they have).
            await self._forget_sent(topic, partition, "an acknowledged offset went backwards")
        if reseeding:
            self.reseed.events += len(batch)
            self.reseed.pending = max(0, unsent - len(batch))
            self.reseed.last_batch = time.monotonic()
            OUTBOX_REPUBLISHED.inc(len(batch))
        for record in batch:
            EVENTS_PUBLISHED.labels(record["topic"], record["type"]).inc()
        OUTBOX_BACKLOG.set(max(0, unsent - len(batch)))
        return len(batch)

    async def _placed_unsent(self) -> list[Document]:
        """Up to a batch of the records placed after their partition's sent mark: per
        partition, the next ones in position order; over partitions, in the order placed."""
        found: list[Document] = []
        for (topic, partition), head in self._heads.items():
            sent = self._sent.get((topic, partition), 0)
            if head > sent:
                found += (
                    await self._outbox.find(
                        {"topic": topic, "partition": partition, "position": {"$gt": sent}}
                    )
                    .sort("position", ASCENDING)
                    .limit(self._batch_size)
                    .to_list()
                )
        found.sort(key=lambda record: record.get("sequence", 0))
        return found[: self._batch_size]

    def _reseed_done(self) -> None:
        if self.reseed.started is not None:
            # Until the last batch was acknowledged, not until the idle poll noticed the end.
            ended = self.reseed.last_batch or time.monotonic()
            self.reseed.seconds += max(0.0, ended - self.reseed.started)
            self.reseed.started = None
            self.reseed.pending = 0
            log.info(
                "outbox: re-published %d events in %.1f s", self.reseed.events, self.reseed.seconds
            )

    async def _place(self, records: list[Document]) -> list[Document]:
        """Give each record its partition, position and sequence, stored before publishing so
        a crash publishes it again with the same ones."""
        if not records:
            return []
        updates = []
        for record in records:
            topic = record["topic"]
            if topic not in self._partitions:
                self._partitions[topic] = await self._transport.partition_count(topic)
            partition = partition_of(record["key"].encode(), self._partitions[topic])
            position = self._heads.get((topic, partition), 0) + 1
            self._heads[(topic, partition)] = position
            self._sequence += 1
            placed = {"partition": partition, "position": position, "sequence": self._sequence}
            record.update(placed)
            updates.append(
                UpdateOne(
                    {"_id": record["_id"], "position": {"$exists": False}},
                    {"$set": placed, "$unset": {"unplaced": ""}},
                )
            )
        # Ordered: a position another relay took stops here, and this relay reloads (see run).
        try:
            await self._outbox.bulk_write(updates, ordered=True)
        except BaseException:
            # The positions given above may not all be stored (MongoDB went away mid-write):
            # read the heads again from what is, or the next ones would leave a hole in the
            # log that every subscriber waits on for ever.
            self._loaded = False
            raise
        return records

    async def _publish(self, batch: list[Document]) -> list[int]:
        """Send the whole batch, then gather its acknowledgements; returns the offsets."""
        by_request: dict[str, list[Document]] = {}
        for record in batch:
            by_request.setdefault(_traceparent(record), []).append(record)
        spans = {key: _publish_span(records) for key, records in by_request.items()}
        acks: list[Awaitable[int]] = []
        try:
            async with asyncio.timeout(self._publish_timeout_s):
                for record in batch:
                    if record["topic"] not in self._partitions:  # the topic may need creating
                        self._partitions[record["topic"]] = await self._transport.partition_count(
                            record["topic"]
                        )
                    span, context_headers = spans[_traceparent(record)]
                    headers = {**record["headers"], **context_headers}
                    headers[LOG_HEADER] = self._log_id
                    headers[POSITION_HEADER] = str(record["position"])
                    with trace.use_span(span, end_on_exit=False):
                        acks.append(
                            await self._transport.send(
                                record["topic"],
                                record["partition"],
                                record["key"].encode(),
                                record["value"],
                                headers,
                            )
                        )
                return list(await asyncio.gather(*acks))
        except TimeoutError as error:
            raise TimeoutError(
                f"no acknowledgement from the broker within {self._publish_timeout_s:.0f} s"
            ) from error
        finally:
            for span, _ in spans.values():
                span.end()

    def _note_acks(self, batch: list[Document], offsets: list[int]) -> set[tuple[str, int]]:
        """Remember the newest acknowledged record per partition; returns the partitions whose
        offsets went backwards (the broker lost them)."""
        lost = set()
        for record, offset in zip(batch, offsets, strict=True):
            key = (record["topic"], record["partition"])
            known = self._acked.get(key)
            if known is not None and offset <= known[0] and key not in lost:
                lost.add(key)
                del self._acked[key]
            if key not in self._acked or offset > self._acked[key][0]:
                self._acked[key] = (offset, str(record["_id"]))
        return lost


def _traceparent(record: Document) -> str:
    return str((record.get("trace") or {}).get("traceparent", ""))


def _publish_span(records: list[Document]) -> tuple[trace.Span, dict[str, str]]:
    """The publish span of the records one request made (a transaction's records share its
    context), and the headers carrying it, so each consumer's span descends from it: one span
    per request in a batch, not one per record."""
    topics = " ".join(sorted({record["topic"] for record in records}))
    span = tracer.start_span(
        f"{topics} publish",
        context=propagate.extract(records[0].get("trace") or {}),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation": "publish",
            "messaging.destination.name": topics,
            "messaging.batch.message_count": len(records),
        },
    )
    headers: dict[str, str] = {}
    propagate.inject(headers, context=trace.set_span_in_context(span))
    return span, headers


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client)."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions
