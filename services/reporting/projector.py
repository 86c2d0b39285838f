"""Applies a batch of canonical events to a projection version in one transaction.

Per batch: the events already processed are skipped (by ``ce_id``), the facts of every person
and every session the batch touches are read once, each event moves them in memory, and the
summed counter changes, the new facts and the processed ids are written together. Since every
counter is a function of the facts, the counters moved by a batch equal the sum of the
per-event transitions: batching changes the cost, not the result.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.impact_changes import NAMES
from contracts.registration import BeneficiariesMergedV1, BeneficiaryErasedV1
from contracts.training import AssociationUpskilledV1
from kit.mongo import Session
from services.reporting import domain
from services.reporting.domain import BeneficiaryFacts, Bucket, SessionFacts
from services.reporting.store import ReportingStore

# A batch changing more people than this computes its counter changes off the event loop
# (a live batch of a few events takes a millisecond or two in it; a catch-up batch of 500, tens).
OFF_LOOP_PEOPLE = 64


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    scopes: set[str] = field(default_factory=set)
    latest_event_time: datetime | None = None


# Reads stored facts by id: absent when never seen; for an erased person, their re-keyed facts
# while the erasure's link lasts (facts already in flight still count), then None.
LoadFacts = Callable[[list[str]], Awaitable[dict[str, BeneficiaryFacts | None]]]


class WorkingSet:
    """The facts a batch reads and changes, with what they were before it. Knows nothing of
    MongoDB: ``load`` reads stored facts, so tests run the same code over a dictionary."""

    def __init__(self, load: LoadFacts) -> None:
        self.load = load
        self.before: dict[str, BeneficiaryFacts | None] = {}
        self.now: dict[str, BeneficiaryFacts | None] = {}
        self.erased: set[str] = set()  # erased by this batch

    async def preload(self, beneficiary_ids: list[str]) -> None:
        missing = [key for key in dict.fromkeys(beneficiary_ids) if key not in self.before]
        if not missing:
            return
        found = await self.load(missing)
        for key in missing:
            stored = found[key] if key in found else BeneficiaryFacts(key)
            self.before[key] = stored
            self.now[key] = stored

    async def facts(self, beneficiary_id: str) -> BeneficiaryFacts | None:
        """The person's facts as they now stand; None once their erasure's link has gone."""
        if beneficiary_id not in self.before:
            await self.preload([beneficiary_id])
        return self.now[beneficiary_id]

    async def apply(self, beneficiary_id: str, data: EventData) -> None:
        facts = await self.facts(beneficiary_id)
        if facts is None:
            return  # erased long ago: nothing links this late fact to their figures any more
        if isinstance(data, BeneficiaryErasedV1):
            # Counters stay as they are; the store re-keys the facts (see save_facts).
            self.erased.add(beneficiary_id)
            return
        changed = domain.apply(facts, data)
        self.now[beneficiary_id] = changed
        if changed.merged_into is not None and (
            changed != facts or isinstance(data, BeneficiariesMergedV1)
        ):
            # What the merged record did (now or later) counts for the kept one.
            kept = await self.facts(changed.merged_into)
            if kept is not None:
                self.now[changed.merged_into] = domain.absorb(kept, changed)

    def deltas(self) -> domain.Deltas:
        total: Counter[tuple[Bucket, str]] = Counter()
        for key, before in self.before.items():
            after = self.now[key]
            if after is None or before is None or after == before:
                continue
            total.update(domain.transition(before, after))
        return {key: change for key, change in total.items() if change}

    def changed(self) -> list[tuple[str, BeneficiaryFacts]]:
        """(person, facts) to store: what changed, and everyone this batch erased."""
        return [
            (key, facts)
            for key, facts in self.now.items()
            if facts is not None and (facts != self.before[key] or key in self.erased)
        ]


# Reads stored session facts by id: absent when never seen.
LoadSessions = Callable[[list[str]], Awaitable[dict[str, SessionFacts]]]


class SessionSet:
    """The session facts a batch reads and changes (schedules, anonymous headcounts), with what
    they were before it; like :class:`WorkingSet`, ``load`` is the only I/O."""

    def __init__(self, load: LoadSessions) -> None:
        self.load = load
        self.before: dict[str, SessionFacts] = {}
        self.now: dict[str, SessionFacts] = {}

    async def preload(self, session_ids: list[str]) -> None:
        missing = [key for key in dict.fromkeys(session_ids) if key not in self.before]
        if not missing:
            return
        found = await self.load(missing)
        for key in missing:
            self.before[key] = self.now[key] = found.get(key) or SessionFacts(key)

    async def apply(self, session_id: str, data: EventData) -> None:
        if session_id not in self.before:
            await self.preload([session_id])
        self.now[session_id] = domain.apply_to_session(self.now[session_id], data)

    def deltas(self) -> domain.Deltas:
        total: Counter[tuple[Bucket, str]] = Counter()
        for key, before in self.before.items():
            if self.now[key] != before:
                total.update(domain.session_transition(before, self.now[key]))
        return {key: change for key, change in total.items() if change}

    def changed(self) -> list[SessionFacts]:
        return [facts for key, facts in self.now.items() if facts != self.before[key]]


async def project(
    store: ReportingStore,
    session: Session,
    events: list[tuple[CloudEvent, EventData]],
) -> BatchResult:
    """Apply ``events`` (in delivery order) to ``store``'s version, in the caller's transaction."""
    result = BatchResult()
    ids = [str(event.id) for event, _ in events]
    seen = await store.already_processed(session, ids)
    fresh: list[tuple[CloudEvent, EventData]] = []
    fresh_ids: list[str] = []
    for event_id, (event, data) in zip(ids, events, strict=True):
        if event_id in seen:
            result.duplicates += 1
            continue
        seen.add(event_id)
        fresh.append((event, data))
        fresh_ids.append(event_id)
    if not fresh:
        return result

    people = [domain.beneficiary_of(data) for _, data in fresh]
    working = WorkingSet(partial(store.load_facts, session))
    await working.preload([key for key in people if key is not None])
    sessions = SessionSet(partial(store.load_sessions, session))
    await sessions.preload(
        [key for _, data in fresh if (key := domain.session_of(data)) is not None]
    )
    upskilled = await _upskilled(store, session, fresh)
    for key, (event, data) in zip(people, fresh, strict=True):
        if key is not None:
            await working.apply(key, data)
        session_id = domain.session_of(data)
        if session_id is not None:
            await sessions.apply(session_id, data)
        result.applied += 1
        if result.latest_event_time is None or event.time > result.latest_event_time:
            result.latest_event_time = event.time

    if len(working.before) > OFF_LOOP_PEOPLE:
        # Moves hundreds of counters per person: in a worker thread, the event loop keeps
        # answering /impact and the change stream meanwhile (the GIL is handed back every 5 ms).
        deltas = await asyncio.to_thread(working.deltas)
    else:
        deltas = working.deltas()
    for bucket, change in sessions.deltas().items():
        deltas[bucket] = deltas.get(bucket, 0) + change
    for association_id, at in upskilled.items():
        announced = domain.association_upskilled(association_id, at.date().isoformat())
        for bucket, change in announced.items():
            deltas[bucket] = deltas.get(bucket, 0) + change
    await store.save_facts(session, working.changed(), working.erased)
    await store.save_sessions(session, sessions.changed())
    await store.mark_upskilled(session, upskilled)
    names = domain.names_in(data for _, data in fresh)
    await store.save_names(session, names)
    await store.move_counters(session, deltas)
    await store.mark_processed(
        session,
        [(event_id, event.type) for event_id, (event, _) in zip(fresh_ids, fresh, strict=True)],
    )
    if result.latest_event_time is not None:
        await store.record_freshness(session, result.latest_event_time)
    result.scopes = {scope for ((scope, _, _), _) in deltas}
    if names:
        result.scopes.add(NAMES)  # the gateway reads the names again (contracts.impact_changes)
    return result


async def _upskilled(
    store: ReportingStore, session: Session, fresh: list[tuple[CloudEvent, EventData]]
) -> dict[str, datetime]:
    """Associations this batch counts as upskilled for the first time (once each)."""
    announced: dict[str, datetime] = {}
    for _, data in fresh:
        if isinstance(data, AssociationUpskilledV1):
            earlier = announced.get(data.association_id)
            if earlier is None or data.upskilled_at < earlier:
                announced[data.association_id] = data.upskilled_at
    if not announced:
        return {}
    counted = await store.upskilled_associations(session, list(announced))
    return {key: at for key, at in announced.items() if key not in counted}
