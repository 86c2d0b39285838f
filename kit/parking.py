"""Partner requests that arrive before what they name: parked, then applied when it arrives.

A partner cannot order its records across our intake topics (an attendance may come before the
session it names, a placement before the enrolment reaches orientation). Such a request is
*parked* in the service's database (``parked_requests``, its ``ce_id`` as key, so a redelivery
parks it once) with the references it names (``session:<id>``, ``beneficiary:<id>`` …), and
applied as soon as every one of them is known, in the order the requests were received.

Order is kept per record: a request naming exactly what an earlier waiting request names (the
same session and person, the same referral…) waits behind it, even when all it names is known:
a correction of a parked attendance must not be applied first and then overwritten. A request
about another record passes (one attendance naming a mistyped person holds up no other
attendance of its session). Still unresolved after ``DN_PARKED_MAX_WAIT_S`` (7 days), a request
is dead-lettered with ``unknown_<thing>`` and how long it waited; beyond
``DN_PARKED_PER_PARTNER`` waiting requests a partner's new ones are refused at once with
``too_many_waiting``, so one partner cannot fill the parking.

The decisions (:func:`plan_release`) are pure; :class:`Parking` keeps the parked requests in the
database and a summary of them in memory (the hot path asks it for every request).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import ConsumerRecord
from bson import ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kit.metrics import INTAKE_PARKED
from kit.mongo import Document, Session

PARKED = "parked_requests"
DUPLICATE_KEY = 11000

# What a request names, as "<thing>:<id>": "session:8c1f…", "beneficiary:…", "referral:…".
Ref = str


def ref(thing: str, identifier: object) -> Ref:
    return f"{thing}:{identifier}"


def thing_of(reference: Ref) -> str:
    return reference.partition(":")[0]


class Waiting(Exception):
    """The request names something this service does not know yet: park it, do not refuse it."""

    def __init__(self, refs: Sequence[Ref], detail: str) -> None:
        super().__init__(detail)
        self.refs = list(refs)
        self.detail = detail

    @property
    def reason(self) -> str:
        """The dead-letter reason should it never arrive: ``unknown_<thing>``."""
        return f"unknown_{thing_of(self.refs[0])}" if self.refs else "unknown_reference"


@dataclass(frozen=True)
class Parked:
    """What the hot path needs to know of one parked request (its bytes stay in the database)."""

    id: str
    partner: str
    refs: tuple[Ref, ...]
    creates: tuple[Ref, ...]
    parked_at: datetime
    order: ObjectId


@dataclass
class ReleasePlan:
    """What one pass over the parked requests does, in the order they were received."""

    release: list[Parked] = field(default_factory=list)
    expire: list[tuple[Parked, list[Ref]]] = field(default_factory=list)


def plan_release(
    parked: Iterable[Parked], known: set[Ref], now: datetime, max_wait: timedelta
) -> ReleasePlan:
    """Which parked requests can be applied now and which have waited too long.

    Walked in the order received: a request is released when all it names is known (or made by
    a request released before it) and no earlier request still waiting names the same record;
    it expires when something it names is still unknown after ``max_wait``. An expired request
    no longer holds back the ones behind it. What a released request makes can release one
    received *before* it (a referral's resolution sent ahead of the referral): the walk is
    repeated over those still waiting until nothing more goes, so the two are applied in the
    same pass, the referral first."""
    plan = ReleasePlan()
    available = set(known)
    waiting = sorted(parked, key=lambda p: p.order)
    while waiting:
        held: set[frozenset[Ref]] = set()
        still: list[Parked] = []
        released = len(plan.release)
        for request in waiting:
            missing = [r for r in request.refs if r not in available]
            record = frozenset(request.refs)
            if missing and now - request.parked_at >= max_wait:
                plan.expire.append((request, missing))
            elif missing or record in held:
                held.add(record)
                still.append(request)
            else:
                plan.release.append(request)
                available.update(request.creates)
        if len(plan.release) == released:
            break
        waiting = still
    return plan


def describe_wait(waited: timedelta) -> str:
    seconds = int(waited.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


class Parking:
    """One service's parked partner requests: in its database, summarised in memory."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        service: str,
        max_wait: timedelta,
        per_partner: int,
    ) -> None:
        self._requests = db[PARKED]
        self.service = service
        self.max_wait = max_wait
        self.per_partner = per_partner
        self._parked: dict[str, Parked] = {}
        self._refs: Counter[Ref] = Counter()
        self._records: Counter[frozenset[Ref]] = Counter()
        self._per_partner: Counter[str] = Counter()

    async def ensure_indexes(self) -> None:
        await self._requests.create_index([("order", ASCENDING)])
        await self._requests.create_index("refs")

    async def load(self) -> None:
        """Read the summary from the database (at start, and now and then: another replica may
        have parked or released some)."""
        cursor = self._requests.find({}, {"value": 0, "headers": 0, "key": 0})
        parked = {doc["_id"]: _summary(doc) async for doc in cursor}
        self._parked = {}
        self._refs.clear()
        self._records.clear()
        self._per_partner.clear()
        for request in parked.values():
            self._remember(request)
        self._observe()

    # -- what the hot path asks -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._parked)

    def holds(self, request_id: str) -> bool:
        return request_id in self._parked

    def waits_behind(self, refs: Iterable[Ref]) -> bool:
        """Whether a parked request names exactly these things (the same record): a new request
        about it waits behind that one."""
        return self._records[frozenset(refs)] > 0

    def named(self, refs: Iterable[Ref]) -> bool:
        """Whether any parked request names any of ``refs`` (then their arrival may release
        some)."""
        return any(self._refs[r] > 0 for r in refs)

    def full(self, partner: str, about_to_park: int = 0) -> bool:
        """Whether ``partner`` may park no more (with ``about_to_park`` more from this batch)."""
        return self._per_partner[partner] + about_to_park >= self.per_partner

    def summaries(self) -> list[Parked]:
        return list(self._parked.values())

    def waiting_per_partner(self) -> dict[str, int]:
        return {partner: n for partner, n in self._per_partner.items() if n}

    def oldest(self) -> datetime | None:
        return min((p.parked_at for p in self._parked.values()), default=None)

    # -- changes ------------------------------------------------------------------------------

    async def park(self, requests: Sequence[tuple[Parked, ConsumerRecord[bytes, bytes]]]) -> None:
        """Store requests (one write for the lot); one already parked is left as it was."""
        if not requests:
            return
        documents = [_document(summary, record) for summary, record in requests]
        try:
            await self._requests.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
                raise
        for summary, _ in requests:
            if summary.id not in self._parked:
                self._remember(summary)
        self._observe()

    async def records(self, ids: Sequence[str]) -> dict[str, ConsumerRecord[bytes, bytes]]:
        """The original records of parked requests, to apply or dead-letter them."""
        cursor = self._requests.find({"_id": {"$in": list(ids)}})
        return {doc["_id"]: _record(doc) async for doc in cursor}

    async def remove(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        await self._requests.delete_many({"_id": {"$in": list(ids)}})
        for request_id in ids:
            self._forget(request_id)
        self._observe()

    async def drop_about(self, reference: Ref, session: Session | None = None) -> int:
        """Drop every parked request naming ``reference`` (a person's erasure); how many."""
        result = await self._requests.delete_many({"refs": reference}, session=session)
        for request in [p for p in self._parked.values() if reference in p.refs]:
            self._forget(request.id)
        self._observe()
        return result.deleted_count

    def _remember(self, request: Parked) -> None:
        self._parked[request.id] = request
        self._refs.update(set(request.refs))
        self._records[frozenset(request.refs)] += 1
        self._per_partner[request.partner] += 1

    def _forget(self, request_id: str) -> None:
        request = self._parked.pop(request_id, None)
        if request is None:
            return
        for reference in set(request.refs):
            _decrement(self._refs, reference)
        _decrement(self._records, frozenset(request.refs))
        _decrement(self._per_partner, request.partner)

    def _observe(self) -> None:
        INTAKE_PARKED.labels(self.service).set(len(self._parked))


def _decrement(counts: Counter[Any], key: Any) -> None:
    """One less of ``key``, gone at zero (a Counter's own arithmetic rebuilds it whole)."""
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def new_parked(
    request_id: str, partner: str, refs: Sequence[Ref], creates: Sequence[Ref], now: datetime
) -> Parked:
    return Parked(request_id, partner, tuple(refs), tuple(creates), now, ObjectId())


def _document(summary: Parked, record: ConsumerRecord[bytes, bytes]) -> Document:
    return {
        "_id": summary.id,
        "partner": summary.partner,
        "refs": list(summary.refs),
        "creates": list(summary.creates),
        "parked_at": summary.parked_at,
        "order": summary.order,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key,
        "value": record.value,
        "headers": [[name, bytes(value)] for name, value in record.headers or ()],
    }


def _summary(doc: Document) -> Parked:
    parked_at: datetime = doc["parked_at"]
    if parked_at.tzinfo is None:
        parked_at = parked_at.replace(tzinfo=UTC)
    return Parked(
        doc["_id"],
        doc["partner"],
        tuple(doc["refs"]),
        tuple(doc.get("creates", ())),
        parked_at,
        doc["order"],
    )


def _record(doc: Document) -> ConsumerRecord[bytes, bytes]:
    value: Any = doc.get("value")
    key: Any = doc.get("key")
    headers = [(name, bytes(raw)) for name, raw in doc.get("headers", [])]
    return ConsumerRecord(
        topic=doc["topic"],
        partition=doc["partition"],
        offset=doc["offset"],
        timestamp=doc.get("timestamp") or 0,
        timestamp_type=0,
        key=bytes(key) if key is not None else None,
        value=bytes(value) if value is not None else None,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=headers,
    )
