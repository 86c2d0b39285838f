"""The access log every service keeps of people's records: who read or changed which kind of
record about whom, when, in which service and through which route — ids only, never content.

Each service writes its own entries into its own database (collection ``audit_log``) and
answers them on ``GET /audit`` (coordinators, ``kit.service``); the gateway's ``auditLog``
merges the services' answers newest first, and each service's right-of-access export lists
the person's entries. Routes get an :class:`Audit` bound to their caller and route template
(``kit.service.audit_of``); Kafka intake writes with the partner as actor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from kit.auth import Principal
from kit.mongo import Document, Session, insert_in, shared_session

COLLECTION = "audit_log"
# The most entries one question answers (GET /audit, an export).
MAX_ENTRIES = 1000


class RecordKind(StrEnum):
    """What kind of record about a person was read or changed."""

    BENEFICIARY = "beneficiary"  # registration's record: personal data and dimensions
    CONSENT = "consent"
    ATTENDANCE = "attendance"
    ASSESSMENT = "assessment"  # a skill assessment
    PROGRESS = "progress"  # training's totals: sessions, hours, trained, assessments
    WORKSHOP = "workshop"  # taking part in a career-discovery workshop
    INTEREST = "interest"
    REFERRAL = "referral"
    PLACEMENT = "placement"
    FOLLOW_UP = "follow_up"
    ALL_RECORDS = "all_records"  # everything a service holds on the person (an export)


class Action(StrEnum):
    """What was done; registration also names its own changes (enrol, rectify, erase …)."""

    READ = "read"
    LIST = "list"  # shown in a page of a list
    EXPORT = "export"
    RECORD = "record"  # a new record
    CHANGE = "change"  # an existing record changed (a resolution, new interests)
    ERASE = "erase"


class AuditEntry(BaseModel):
    """One entry, as stored and as ``GET /audit`` answers it (the gateway reads this model)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    service: str
    actor: str  # a token's subject, a partner's CloudEvents source, or a job's name
    role: str
    action: str
    record: RecordKind = RecordKind.BENEFICIARY  # entries written before kinds existed
    beneficiary_id: str | None
    route: str


@dataclass(frozen=True)
class Actor:
    subject: str
    role: str

    @staticmethod
    def of(who: Principal) -> Actor:
        return Actor(who.subject, who.role.value)

    @staticmethod
    def partner(source: str) -> Actor:
        """A partner system sending requests to an intake topic (its CloudEvents source)."""
        return Actor(source, "partner")

    @staticmethod
    def job(name: str) -> Actor:
        """The platform itself, e.g. the retention job."""
        return Actor(name, "system")


class AuditLog:
    """One service's access log."""

    def __init__(self, db: AsyncDatabase[Document], service: str) -> None:
        self.service = service
        self.entries_collection = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.entries_collection.create_index(
            [("beneficiary_id", ASCENDING), ("at", DESCENDING)]
        )
        await self.entries_collection.create_index([("actor", ASCENDING), ("at", DESCENDING)])
        await self.entries_collection.create_index([("at", DESCENDING)])

    async def write(
        self,
        actor: Actor,
        action: str,
        record: RecordKind,
        beneficiary_ids: Iterable[str | None],
        route: str,
        session: Session | None = None,
    ) -> None:
        """One entry per person (once each, in order); ``session`` writes it with a change."""
        await self.write_many([(actor, action, record, beneficiary_ids)], route, session)

    async def write_many(
        self,
        accesses: Iterable[tuple[Actor, str, RecordKind, Iterable[str | None]]],
        route: str,
        session: Session | None = None,
    ) -> None:
        """Several accesses (actor, action, record, people) in one write, as :meth:`write`
        would each: a batch of partner requests is logged together."""
        at = datetime.now(UTC)
        entries = [
            AuditEntry(
                at=at,
                service=self.service,
                actor=actor.subject,
                role=actor.role,
                action=action,
                record=record,
                beneficiary_id=beneficiary_id,
                route=route,
            ).model_dump()
            | {"record": record.value}
            for actor, action, record, beneficiary_ids in accesses
            for beneficiary_id in dict.fromkeys(beneficiary_ids)
        ]
        if entries:
            # Without a session, a batch's shared transaction if there is one (kit.mongo), where
            # the entries are written with the rest of the batch's.
            await insert_in(self.entries_collection, entries, session or shared_session())

    async def entries(
        self, beneficiary_id: str | None, actor: str | None, limit: int = MAX_ENTRIES
    ) -> list[AuditEntry]:
        """Newest first, for one person, one actor, both or everyone."""
        query = {k: v for k, v in (("beneficiary_id", beneficiary_id), ("actor", actor)) if v}
        cursor = self.entries_collection.find(query, {"_id": 0}).sort("at", DESCENDING)
        return [
            AuditEntry.model_validate({"service": self.service, **document})
            async for document in cursor.limit(min(limit, MAX_ENTRIES))
        ]

    def bound(self, actor: Actor, route: str) -> Audit:
        return Audit(self, actor, route)


@dataclass(frozen=True)
class Audit:
    """The access log bound to one request's caller and route: ``await audit(action, kind,
    ids)`` after the read or change succeeded."""

    log: AuditLog
    actor: Actor
    route: str

    async def __call__(
        self, action: str, record: RecordKind, beneficiary_ids: Iterable[str | None]
    ) -> None:
        await self.log.write(self.actor, action, record, beneficiary_ids, self.route)


def newest_first(answers: Iterable[Iterable[AuditEntry]], limit: int) -> list[AuditEntry]:
    """Several services' entries merged into one list, newest first, at most ``limit``."""
    merged = [entry for answer in answers for entry in answer]
    return sorted(merged, key=lambda entry: entry.at, reverse=True)[:limit]


def as_json(entries: Iterable[AuditEntry]) -> list[dict[str, object]]:
    """Entries as an export shows them (times in ISO 8601)."""
    return [entry.model_dump(mode="json") for entry in entries]
