"""Transactional outbox: events are stored with the state change, then published by a relay.

A service calls :func:`enqueue` inside the transaction that changes its state, so an event
exists exactly when the change committed. The :class:`OutboxRelay` publishes pending events
in creation order with acks=all and only then marks them sent; after a crash it resumes from
what is unmarked, so an event may be published twice but never lost (consumers dedupe on
``ce_id``). The request's trace context travels in the record and is restored on publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts.event import EventData
from kit.consumer import UNAVAILABLE
from kit.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from kit.mongo import Document, Session

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

COLLECTION = "outbox"
SENT_RETENTION = timedelta(days=7)

# (topic, key, value, headers) -> awaits the broker's acknowledgement
Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    outbox = db[COLLECTION]
    await outbox.create_index([("sent_at", ASCENDING), ("seq", ASCENDING)])
    await outbox.create_index(
        "sent_at", name="sent_at_ttl", expireAfterSeconds=int(SENT_RETENTION.total_seconds())
    )


async def enqueue(
    db: AsyncDatabase[Document], session: Session, event: EventData, source: str
) -> str:
    """Store ``event`` for publishing, in the caller's transaction; returns its ``ce_id``."""
    envelope = event.to_event(source)
    value, headers = envelope.to_kafka()
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    await db[COLLECTION].insert_one(
        {
            "_id": str(envelope.id),
            "topic": event.topic,
            "key": event.subject(),
            "type": envelope.type,
            "value": value,
            "headers": headers,
            "trace": carrier,
            "created_at": datetime.now(UTC),
            # Publishing order; created_at alone ties within a millisecond.
            "seq": _next_seq(),
            "sent_at": None,
        },
        session=session,
    )
    return str(envelope.id)


_last_seq = 0


def _next_seq() -> int:
    """Nanosecond clock, strictly increasing within the process."""
    global _last_seq
    _last_seq = max(time.time_ns(), _last_seq + 1)
    return _last_seq


def _brief(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:200]


class OutboxRelay:
    """Publishes a service's pending outbox events; woken by :meth:`notify` or by polling."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        publish: Publish,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 10.0,
        publish_timeout_s: float = 10.0,
    ) -> None:
        self._outbox = db[COLLECTION]
        self._publish = publish
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._publish_timeout_s = publish_timeout_s
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Tell the relay a transaction just committed events, to skip the poll delay."""
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
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
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            if published < self._batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)

    async def publish_pending(self) -> int:
        """Publish one batch of unsent events in order; returns how many were published."""
        unsent = await self._outbox.count_documents({"sent_at": None})
        # Counted before publishing, so the gauge (and `dn status`) rises while the broker is away.
        OUTBOX_BACKLOG.set(unsent)
        if not unsent:
            return 0
        pending = (
            await self._outbox.find({"sent_at": None})
            .sort("seq", ASCENDING)
            .limit(self._batch_size)
            .to_list()
        )
        for record in pending:
            await self._publish_one(record)
        if pending:
            # A crash before this line republishes the batch: duplicates, never loss.
            await self._outbox.update_many(
                {"_id": {"$in": [record["_id"] for record in pending]}},
                {"$set": {"sent_at": datetime.now(UTC)}},
            )
        OUTBOX_BACKLOG.set(max(0, unsent - len(pending)))
        return len(pending)

    async def _publish_one(self, record: dict[str, Any]) -> None:
        context = propagate.extract(record.get("trace") or {})
        with tracer.start_as_current_span(
            "outbox relay", context=context, kind=SpanKind.INTERNAL
        ) as span:
            span.set_attribute("messaging.destination.name", record["topic"])
            span.set_attribute("cloudevents.event_type", record["type"])
            # Bounded: with the broker away a send would wait for it as long as the client's own
            # timeout, with no word in the logs; the batch is tried again after a backoff instead.
            try:
                async with asyncio.timeout(self._publish_timeout_s):
                    await self._publish(
                        record["topic"],
                        record["key"].encode(),
                        record["value"],
                        dict(record["headers"]),
                    )
            except TimeoutError as error:
                raise TimeoutError(
                    f"no acknowledgement from the broker within {self._publish_timeout_s:.0f} s"
                ) from error
        EVENTS_PUBLISHED.labels(record["topic"], record["type"]).inc()
