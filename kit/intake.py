"""Partner intake: requests taken from an intake topic in batches, applied, parked or refused.

Each batch is read once: envelopes and data decoded, what the requests name looked up with one
query per kind of thing (:meth:`IntakeRules.known`), then each request applied in the order
received. A request naming something not known yet, or the same record as an earlier waiting
request, is parked (kit.parking) instead of refused; parked requests are applied as soon as
what they name arrives (this service's own transactions and its other subscribers wake the
release), in the order received. Refusals of the batch go to ``dn.deadletter`` together, and the
batch's outcomes reach the delivery log in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import ConsumerRecord
from opentelemetry import trace
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from contracts.catalogue import decode
from contracts.envelope import CloudEvent, EnvelopeError
from contracts.event import EventData
from contracts.scope import references_of
from kit.consumer import (
    UNAVAILABLE,
    Rejected,
    RetryPolicy,
    batch_work,
    describe_failure,
    event_span,
    known_type,
    record_type_label,
    retried,
    until_available,
    until_sent,
)
from kit.deadletter import DeadLetters
from kit.deliveries import Deliveries, Tally
from kit.metrics import EVENTS_CONSUMED
from kit.mongo import Document, Session, in_transaction, sharing
from kit.parking import (
    Parked,
    Parking,
    Ref,
    Waiting,
    describe_wait,
    new_parked,
    plan_release,
    ref,
)

log = logging.getLogger(__name__)
# Without news, the parking is looked at this often (expiry; things written by other means).
RELEASE_TICK_S = 1.0
# Another replica of the service may have parked requests: its summary is read again this often.
RELOAD_S = 30.0
# What a service said it knows is remembered, up to this many things (then forgotten at once).
KNOWN_REMEMBERED = 200_000
# Released requests are applied this many to a transaction.
RELEASE_BATCH = 500
# Woken by every commit under load, the release still looks at most this often.
MIN_PASS_INTERVAL_S = 0.05
UNREADABLE_PARTNER = "(unreadable)"
PARTNER_HEADER = "dn_partner"  # the gateway's HTTP intake: whom the partner's token spoke for


class IntakeRules(Protocol):
    """What a service tells the intake about its partner requests (its domain stays its own)."""

    @property
    def accepted(self) -> dict[str, type[EventData]]:
        """The request types of this intake topic, by ``ce_type``."""

    def creates(self, data: EventData) -> list[Ref]:
        """What the request brings into being (a session, a referral…), once applied."""

    async def known(self, refs: set[Ref]) -> set[Ref]:
        """Which of ``refs`` this service knows now: one query per kind of thing."""

    async def apply(self, event: CloudEvent, data: EventData) -> bool:
        """Apply one request once per ``ce_id``: True, or False when it was applied before (a
        redelivery, counted nowhere); raise :class:`Rejected` to refuse it or :class:`Waiting`
        when it names something unknown after all, before writing anything (a batch shares
        one transaction: kit.mongo.sharing).

        A service may also offer ``apply_many(session, [(event, data)…])`` returning each
        request's outcome in order, to decide a batch with fewer reads and writes."""


@dataclass
class Request:
    record: ConsumerRecord[bytes, bytes]
    event: CloudEvent
    data: EventData
    refs: list[Ref]
    creates: list[Ref]

    @property
    def id(self) -> str:
        return str(self.event.id)

    @property
    def partner(self) -> str:
        return self.event.source

    @property
    def association_id(self) -> str | None:
        return _association_of(self.record)


@dataclass
class Refusal:
    record: ConsumerRecord[bytes, bytes]
    partner: str
    reason: str
    detail: str


class Intake:
    """One service's intake: batches from the broker, the parking, the delivery log."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        rules: IntakeRules,
        parking: Parking,
        deliveries: Deliveries,
        dead_letters: DeadLetters,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.client = client
        self.rules = rules
        self.parking = parking
        self.deliveries = deliveries
        self.dead_letters = dead_letters
        self.retry = retry
        # The consumer's batches and the release never interleave: order is theirs to keep.
        self._lock = asyncio.Lock()
        self._news = asyncio.Event()
        self._dirty = False  # something committed since the last look at the parking
        self._known: set[Ref] = set()  # what the rules said they know (see _look_up)

    def wake(self) -> None:
        """Something may have arrived (a transaction committed): look at the parking soon."""
        if len(self.parking):
            self._dirty = True
            self._news.set()

    # -- the consumer's batches -----------------------------------------------------------------

    async def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply, park or refuse a batch of partner records, in the order received."""
        async with self._lock:
            if self._dirty:
                await self._release()  # what waited was received before this batch
            tallies: dict[str, Tally] = defaultdict(Tally)
            refusals: list[Refusal] = []
            requests = self._readable(records, refusals)
            named = {r for request in requests for r in request.refs}
            known = await self._look_up(named)
            # Decide first (in memory), then apply the lot in one transaction.
            to_apply: list[Request] = []
            waiting: list[tuple[Request, list[Ref]]] = []
            parked_records: set[frozenset[Ref]] = set()  # of requests parked in this batch
            for request in requests:
                if self.parking.holds(request.id):
                    continue  # a redelivery of a request already waiting
                record = frozenset(request.refs)
                behind = self.parking.waits_behind(record) or record in parked_records
                missing = [r for r in request.refs if r not in known]
                if behind or missing:
                    waiting.append((request, missing))
                    parked_records.add(record)
                else:
                    to_apply.append(request)
                    known.update(request.creates)  # for the requests after it in the batch
            for request, outcome in zip(to_apply, await self._apply_all(to_apply), strict=True):
                if isinstance(outcome, Waiting):  # what the look-up saw has gone meanwhile
                    waiting.append((request, outcome.refs))
                    self._known.difference_update(outcome.refs)  # asked again next time
                else:
                    self._count(request, outcome, tallies, refusals)
                    if outcome is True:  # committed: what it made is known from now on
                        self._known.update(request.creates)
            to_park: list[tuple[Parked, ConsumerRecord[bytes, bytes]]] = []
            now = datetime.now(UTC)
            parking_now: Counter[str] = Counter()
            for request, missing in waiting:
                if self.parking.full(request.partner, parking_now[request.partner]):
                    refusals.append(_too_many(request, self.parking.per_partner))
                    continue
                summary = new_parked(
                    request.id, request.partner, request.refs or missing, request.creates, now
                )
                to_park.append((summary, request.record))
                parking_now[request.partner] += 1
                tallies[request.partner].waiting += 1  # seen now, counted while it waits
                EVENTS_CONSUMED.labels(
                    request.record.topic, known_type(request.event.type), "parked"
                ).inc()
            await self.parking.park(to_park)
            await self._refuse(refusals, tallies)
            await self.deliveries.record(tallies)
            if self.parking.named(known):  # the batch made what some requests wait for
                await self._release()

    async def _look_up(self, refs: set[Ref]) -> set[Ref]:
        """Which of ``refs`` the service knows, asking its rules only about those it has not
        said it knows before: a thing once known stays known (no session, person, referral or
        placement record is ever deleted; an erased person's stays, anonymised). Most of a
        batch names people and sessions earlier batches named. Should a record be gone after
        all, its use case finds so and the request waits (see :meth:`take`)."""
        if not refs:
            return set()
        asked = refs - self._known
        found = await self.rules.known(asked) if asked else set()
        if len(self._known) + len(found) > KNOWN_REMEMBERED:
            self._known.clear()
        self._known |= found
        return (refs - asked) | found

    def _readable(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], refusals: list[Refusal]
    ) -> list[Request]:
        requests: list[Request] = []
        for record in records:
            try:
                event = CloudEvent.from_kafka(record.value, record.headers)
            except EnvelopeError as error:
                refusals.append(Refusal(record, _partner_of(record), error.reason, error.detail))
                continue
            try:
                data = decode(event, self.rules.accepted)
            except EnvelopeError as error:
                refusals.append(Refusal(record, event.source, error.reason, error.detail))
                continue
            refs = named_refs(data)
            requests.append(Request(record, event, data, refs, self.rules.creates(data)))
        return requests

    async def _apply_all(self, requests: list[Request]) -> list[Waiting | Rejected | bool]:
        """Apply requests in order in one transaction: what each did (applied, applied before,
        refused, waiting). Rules raise refusals before writing, so one refused request leaves
        the others' effects whole; any other failure splits the batch in halves, down to the
        one request that fails, which gets the retry policy alone."""
        if len(requests) <= 1:
            return [await self._apply(request) for request in requests]
        try:
            return await until_available(lambda: self._apply_together(requests), self.retry)
        except Exception as error:
            log.warning(
                "a batch of %d requests failed (%s); applying it in halves",
                len(requests),
                describe_failure(error),
            )
            half = len(requests) // 2
            first = await self._apply_all(requests[:half])
            return [*first, *await self._apply_all(requests[half:])]

    async def _apply_together(self, requests: list[Request]) -> list[Waiting | Rejected | bool]:
        outcomes: list[Waiting | Rejected | bool] = []

        apply_many = getattr(self.rules, "apply_many", None)

        async def work(session: Session) -> None:
            outcomes.clear()  # a transaction retried after a transient error starts again
            async with sharing(session):
                with batch_work([r.record for r in requests]):
                    if apply_many is not None:
                        pairs = [(r.event, r.data) for r in requests]
                        outcomes.extend(await apply_many(session, pairs))
                        return
                    for request in requests:
                        try:
                            outcomes.append(await self.rules.apply(request.event, request.data))
                        except (Waiting, Rejected) as outcome:
                            outcomes.append(outcome)

        await in_transaction(self.client, work)
        return outcomes

    async def _apply(self, request: Request) -> Waiting | Rejected | bool:
        """Apply one request with the retry policy (kit.consumer.retried): True once applied,
        False if it was before, or why not."""
        span = event_span(request.record, request.event)
        try:
            with trace.use_span(span, end_on_exit=False):
                return await retried(
                    lambda: self.rules.apply(request.event, request.data),
                    self.retry,
                    f"request {request.id}",
                    (Waiting, Rejected),
                )
        except (Waiting, Rejected) as outcome:
            return outcome
        finally:
            span.end()

    def _count(
        self,
        request: Request,
        outcome: Rejected | bool,
        tallies: dict[str, Tally],
        refusals: list[Refusal],
    ) -> None:
        if outcome is False:  # a redelivery of a request applied before
            return
        if outcome is True:
            tallies[request.partner].accepted += 1
            tallies[request.partner].association_id = request.association_id
            EVENTS_CONSUMED.labels(
                request.record.topic, known_type(request.event.type), "applied"
            ).inc()
            return
        refusals.append(Refusal(request.record, request.partner, outcome.reason, outcome.detail))

    async def _refuse(self, refusals: list[Refusal], tallies: dict[str, Tally]) -> None:
        """Dead-letter a batch's refusals together (each waits for the broker's ack), and count
        them against their partners."""
        for refusal in refusals:
            tally = tallies[refusal.partner]
            tally.refused(refusal.reason, refusal.detail)
            tally.association_id = _association_of(refusal.record) or tally.association_id
        if not refusals:
            return

        async def send(refusal: Refusal) -> None:
            await until_sent(
                lambda: self.dead_letters.send(refusal.record, refusal.reason, refusal.detail),
                self.retry,
            )
            EVENTS_CONSUMED.labels(
                refusal.record.topic, record_type_label(refusal.record.headers), "dead_lettered"
            ).inc()

        await asyncio.gather(*(send(refusal) for refusal in refusals))

    # -- the parking ---------------------------------------------------------------------------

    async def release(self) -> int:
        """Apply what can be now, expire what waited too long; how many left the parking."""
        async with self._lock:
            return await self._release()

    async def _release(self) -> int:
        self._dirty = False
        if not len(self.parking):
            return 0
        summaries = self.parking.summaries()
        waited = {r for summary in summaries for r in summary.refs}
        known = await self._look_up(waited)
        now = datetime.now(UTC)
        plan = plan_release(summaries, known, now, self.parking.max_wait)
        if not plan.release and not plan.expire:
            return 0
        records = await self.parking.records(
            [p.id for p in plan.release] + [p.id for p, _ in plan.expire]
        )
        done: list[str] = []
        tallies: dict[str, Tally] = defaultdict(Tally)
        refusals: list[Refusal] = []
        releasing: list[Request] = []
        for summary in plan.release:
            record = records.get(summary.id)
            request = None if record is None else self._request_of(record)
            if request is None:  # released meanwhile by another replica (or unreadable)
                done.append(summary.id)
            else:
                releasing.append(request)
        for start in range(0, len(releasing), RELEASE_BATCH):
            chunk = releasing[start : start + RELEASE_BATCH]
            for request, outcome in zip(chunk, await self._apply_all(chunk), strict=True):
                if isinstance(outcome, Waiting):  # gone again meanwhile: it waits on
                    self._known.difference_update(outcome.refs)
                    continue
                self._count(request, outcome, tallies, refusals)
                done.append(request.id)
        for summary, missing in plan.expire:
            record = records.get(summary.id)
            done.append(summary.id)
            if record is None:
                continue
            waited_for = now - summary.parked_at
            thing, _, identifier = missing[0].partition(":")
            refusal = Refusal(
                record,
                summary.partner,
                f"unknown_{thing}",
                f"{thing} {identifier} never reached {self.parking.service}: the request waited "
                f"{describe_wait(waited_for)} for it "
                f"(at most {describe_wait(self.parking.max_wait)})",
            )
            refusals.append(refusal)
        await self._refuse(refusals, tallies)
        await self.deliveries.record(tallies)
        await self.parking.remove(done)
        return len(done)

    def _request_of(self, record: ConsumerRecord[bytes, bytes]) -> Request | None:
        try:
            event = CloudEvent.from_kafka(record.value, record.headers)
            data = decode(event, self.rules.accepted)
        except EnvelopeError:  # parked only once readable: not expected
            log.exception("a parked request is no longer readable; dropped")
            return None
        return Request(record, event, data, named_refs(data), self.rules.creates(data))

    async def run(self) -> None:
        """Release parked requests when woken, and at least every second while some wait."""
        last_load = asyncio.get_running_loop().time()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RELEASE_TICK_S):
                    await self._news.wait()
            self._news.clear()
            try:
                if asyncio.get_running_loop().time() - last_load > RELOAD_S:
                    async with self._lock:
                        await self.parking.load()
                    last_load = asyncio.get_running_loop().time()
                if len(self.parking):
                    await self.release()
                await asyncio.sleep(MIN_PASS_INTERVAL_S)
            except UNAVAILABLE as error:
                log.warning("parked requests not looked at (%s); trying again", error)
            except Exception:
                log.exception("releasing parked requests failed; trying again")


async def known_ids(
    refs: set[Ref], collections: Mapping[str, AsyncCollection[Document]]
) -> set[Ref]:
    """Which of ``refs`` have a document (by ``_id``) in their thing's collection: one query per
    kind of thing named. A thing with no collection here is never known."""
    by_thing: dict[str, list[str]] = defaultdict(list)
    for reference in refs:
        thing, _, identifier = reference.partition(":")
        if thing in collections:
            by_thing[thing].append(identifier)
    found: set[Ref] = set()
    for thing, ids in by_thing.items():
        cursor = collections[thing].find({"_id": {"$in": ids}}, {"_id": 1})
        found.update([f"{thing}:{doc['_id']}" async for doc in cursor])
    return found


def named_refs(data: EventData) -> list[Ref]:
    """What a request names and must exist before it can be applied (contracts.scope, the
    table the gateway's scope check reads too)."""
    return [ref(reference.kind.value, reference.id) for reference in references_of(data)]


def _too_many(request: Request, limit: int) -> Refusal:
    return Refusal(
        request.record,
        request.partner,
        "too_many_waiting",
        f"partner {request.partner!r} already has {limit} requests waiting for what they name; "
        "this one is refused: send it again once the enrolments, sessions or referrals they "
        "wait for have been sent",
    )


def _association_of(record: ConsumerRecord[bytes, bytes]) -> str | None:
    """The association the partner's token spoke for (set by the gateway's HTTP intake)."""
    for name, value in record.headers or ():
        if name == PARTNER_HEADER:
            return bytes(value).decode(errors="replace")[:100]
    return None


def _partner_of(record: ConsumerRecord[bytes, bytes]) -> str:
    for name, value in record.headers or ():
        if name == "ce_source":
            return bytes(value).decode(errors="replace")[:200] or UNREADABLE_PARTNER
    return UNREADABLE_PARTNER
