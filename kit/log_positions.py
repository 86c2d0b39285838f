"""Where a subscriber stands in each service's log, partition by partition (tracking records).

Every canonical event carries its log's identity and its position in its partition (see
``kit.outbox``): 1, 2, 3 … with no hole, whatever the broker's offsets. A subscriber reads a
partition in that order, so the last position it handled says everything about what it has
seen, and the next one is known in advance:

* a position at or below it was handled already (a relay re-publishing after a crash, or the
  broker re-seeded after it lost its topics): skipped without touching the database;
* the next one is applied;
* one further ahead is a gap: the consumer jumped over records (it crashed between its offset
  commit and saving its position, or its fetch position survived a broker that restarted
  empty). It reads again from just after the last record it handled, then, if the gap is still
  there, from the partition's start; records still ahead after that are skipped, since the
  relay publishes again whatever the broker lost.

Positions are saved after the records are handled (at most once a second, like an offset
commit), so the saved one never passes what was applied; after a crash the effects' own
``ce_id`` records catch the few repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kit.metrics import EVENTS_SKIPPED
from kit.mongo import Document

log = logging.getLogger(__name__)

LOG_HEADER = "dn_log"
POSITION_HEADER = "dn_position"
COLLECTION = "log_positions"
SAVE_EVERY_S = 1.0


def log_mark(headers: Sequence[tuple[str, bytes]] | None) -> tuple[str, int] | None:
    """(log id, position) of a canonical event; None for a record without them (a partner's)."""
    log_id = position = None
    for name, value in headers or ():
        if name == LOG_HEADER:
            log_id = bytes(value).decode(errors="replace")
        elif name == POSITION_HEADER:
            try:
                position = int(bytes(value))
            except ValueError:
                return None
    if log_id is None or position is None:
        return None
    return log_id, position


Partition = tuple[str, int]


class BrokerResets:
    """How many times this process found the broker restarted empty (its relay notices: see
    ``kit.outbox``). A subscriber still holds fetch positions from before, which on the new
    broker point past records it never read, partner records included (they carry no log
    position to show the gap): each subscriber reads its partitions again from the start once
    per reset (what it applied is skipped by position or by ``ce_id``)."""

    def __init__(self) -> None:
        self.count = 0

    def reset(self) -> None:
        self.count += 1


class LogPositions:
    """One subscriber's positions (its consumer group's), in memory and saved to MongoDB."""

    def __init__(self, db: AsyncDatabase[Document] | None, group_id: str) -> None:
        self._collection = db[COLLECTION] if db is not None else None
        self._group = group_id
        # (log id, position, offset it was read at) of the last record handled per partition
        self._last: dict[Partition, tuple[str, int, int]] = {}
        # Partitions being read again after a gap: "offset" (from just after the last record
        # handled), then "start" (from the partition's beginning).
        self._rereading: dict[Partition, str] = {}
        # Admitted by the batch in hand, not yet handled: never saved before it is (a crash
        # would otherwise skip records whose effects never committed).
        self._admitted: set[Partition] = set()
        # The positions handled and not yet saved (what a delayed save writes).
        self._handled: dict[Partition, tuple[str, int, int]] = {}
        self._dirty: set[Partition] = set()
        self._loaded = False
        self._saved_at = 0.0
        self.resets_seen = 0  # BrokerResets.count when this subscriber last re-read from the start
        self._flush: asyncio.Task[None] | None = None
        # Partitions the last call to admit moved the consumer back in (their lag is unknown
        # until records are read again).
        self.rewound: set[Partition] = set()

    def last(self, topic: str, partition: int) -> tuple[str, int] | None:
        found = self._last.get((topic, partition))
        return (found[0], found[1]) if found else None

    async def _load(self) -> None:
        if self._loaded:
            return
        if self._collection is not None:
            async for saved in self._collection.find({"group": self._group}):
                key = (str(saved["topic"]), int(saved["partition"]))
                self._last[key] = (
                    str(saved["log_id"]),
                    int(saved["position"]),
                    int(saved.get("offset", -1)),
                )
        self._loaded = True

    async def after_reset(self, consumer: Any, resets: BrokerResets | None) -> bool:
        """When the broker restarted empty since this subscriber last looked, move it to the
        start of every partition it reads (the records in hand are read again there); True
        when it was moved."""
        if resets is None or resets.count == self.resets_seen:
            return False
        self.resets_seen = resets.count
        assigned = consumer.assignment() if hasattr(consumer, "assignment") else set()
        if assigned:
            log.warning("the broker restarted empty: reading %d partitions again", len(assigned))
            await consumer.seek_to_beginning(*assigned)
        return bool(assigned)

    async def admit(
        self, consumer: Any, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The records to handle, in order; the rest are skipped (see the module's text). The
        positions move as if every admitted record were handled: call :meth:`save` after."""
        await self._load()
        admitted = []
        rewound: set[Partition] = set()
        self.rewound = rewound
        for record in records:
            key = (record.topic, record.partition)
            if key in rewound:
                continue
            mark = log_mark(record.headers)
            if mark is None:
                admitted.append(record)
                continue
            log_id, position = mark
            known = self._last.get(key)
            if known is None or known[0] != log_id or position == known[1] + 1:
                # The next one, or first sight of this log (a new subscriber, a new log).
                admitted.append(record)
                self._last[key] = (log_id, position, record.offset)
                self._admitted.add(key)
                self._rereading.pop(key, None)
            elif position <= known[1]:
                EVENTS_SKIPPED.labels(record.topic, "applied").inc()
            else:
                EVENTS_SKIPPED.labels(record.topic, "gap").inc()
                if await self._reread(consumer, record, known, position):
                    rewound.add(key)
        return admitted

    async def _reread(
        self,
        consumer: Any,
        record: ConsumerRecord[bytes, bytes],
        known: tuple[str, int, int],
        position: int,
    ) -> bool:
        """After a gap: seek back (first just after the last record handled, then to the
        start); True when the consumer was moved. Once both were tried, the records ahead are
        skipped: the missing ones are still to come from the relay."""
        key = (record.topic, record.partition)
        stage = self._rereading.get(key)
        if not hasattr(consumer, "seek") or stage == "start":
            return False
        partition = TopicPartition(*key)
        if stage is None and 0 <= known[2] < record.offset:
            # A crash between the offset commit and saving positions: what follows the last
            # record handled is what is missing.
            self._rereading[key] = "offset"
            consumer.seek(partition, known[2] + 1)
        else:
            log.warning(
                "%s[%d]: position %d follows %d; reading the partition again from its start",
                record.topic,
                record.partition,
                position,
                known[1],
            )
            self._rereading[key] = "start"
            await consumer.seek_to_beginning(partition)
        return True

    async def save(self, *, force: bool = False) -> None:
        """Call once the admitted records are handled (their effects committed): store the
        positions that moved, at once with ``force``, else at most once a second (what moved
        since is stored a second later, even if no record follows)."""
        for key in self._admitted:
            self._handled[key] = self._last[key]
            self._dirty.add(key)
        self._admitted.clear()
        if self._collection is None or not self._dirty:
            return
        wait = SAVE_EVERY_S - (time.monotonic() - self._saved_at)
        if not force and wait > 0:
            if self._flush is None or self._flush.done():
                self._flush = asyncio.create_task(self._save_later(wait))
            return
        await self._write()

    async def _write(self) -> None:
        """Store the handled positions not stored yet (never those of a batch in hand)."""
        if self._collection is None or not self._dirty:
            return
        moved, self._dirty = self._dirty, set()
        self._saved_at = time.monotonic()
        updates = []
        for topic, partition in moved:
            log_id, position, offset = self._handled[(topic, partition)]
            saved = {
                "group": self._group,
                "topic": topic,
                "partition": partition,
                "log_id": log_id,
                "position": position,
                "offset": offset,
            }
            updates.append(
                UpdateOne(
                    {"_id": f"{self._group}|{topic}|{partition}"}, {"$set": saved}, upsert=True
                )
            )
        await self._collection.bulk_write(updates, ordered=False)

    async def _save_later(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        try:
            # Only what was handled: a batch admitted meanwhile may still be in hand.
            await self._write()
        except Exception as error:  # the next record saves them; only a skip is lost meanwhile
            log.warning("log positions not saved: %s", error)

    async def close(self) -> None:
        """Store what moved (a clean stop); the delayed save is no longer needed."""
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        await self.save(force=True)


async def positions_of(db: AsyncDatabase[Document]) -> list[dict[str, Any]]:
    """Every subscriber's saved positions in this database (for ``GET /log``)."""
    return [
        {k: saved[k] for k in ("group", "topic", "partition", "log_id", "position")}
        async for saved in db[COLLECTION]
        .find({})
        .sort([("group", 1), ("topic", 1), ("partition", 1)])
    ]
