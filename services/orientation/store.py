"""Orientation's MongoDB collections: people (facts from registration), workshops, interests,
referrals, placements, follow-ups, applied partner requests; and the outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.event import EventData
from contracts.orientation import PartnerKind, PlacementKind
from contracts.scope import ReferenceKind, ScopeQuestion
from kit import outbox
from kit.mongo import Document, Session, insert_in
from kit.paging import Page, Position, read_page
from services.orientation.domain import (
    Person,
    PersonStatus,
    Placement,
    ReferenceData,
    Referral,
    ReferralStatus,
    Workshop,
)

REFERENCE_FILE = Path(__file__).with_name("reference_data.json")
ERASED_PREFIX = "erased-"


async def load_reference(path: Path = REFERENCE_FILE) -> ReferenceData:
    return ReferenceData.from_json(
        json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    )


class OrientationStore:
    def __init__(self, db: AsyncDatabase[Document], source: str) -> None:
        self.db = db
        self.source = source
        self.people: AsyncCollection[Document] = db["people"]
        self.workshops: AsyncCollection[Document] = db["workshops"]
        self.interests: AsyncCollection[Document] = db["interests"]
        self.referrals: AsyncCollection[Document] = db["referrals"]
        self.placements: AsyncCollection[Document] = db["placements"]
        self.follow_ups: AsyncCollection[Document] = db["follow_ups"]
        self.follow_ups_announced: AsyncCollection[Document] = db["follow_ups_announced"]
        self.applied_requests: AsyncCollection[Document] = db["applied_requests"]

    async def ensure_indexes(self) -> None:
        await self.workshops.create_index("participants")
        for collection in (self.referrals, self.placements, self.follow_ups):
            await collection.create_index("beneficiary_id")
        await self.placements.create_index([("beneficiary_id", ASCENDING), ("starts_on", 1)])
        await self.placements.create_index("association_id")

    async def emit(self, session: Session, event: EventData) -> None:
        await outbox.enqueue(self.db, session, event, self.source)

    # -- people (facts from registration) ------------------------------------------------------

    async def person(self, beneficiary_id: str, session: Session | None = None) -> Person | None:
        """The person as orientation knows them; a merged record leads to the one kept."""
        document = await self.people.find_one({"_id": beneficiary_id}, session=session)
        if document is not None and "merged_into" in document:
            document = await self.people.find_one({"_id": document["merged_into"]}, session=session)
        if document is None or "association_id" not in document:
            return None  # unknown, or erased
        return _person(document)

    async def people_among(
        self, ids: list[str], session: Session | None = None
    ) -> dict[str, Person]:
        cursor = self.people.find(
            {"_id": {"$in": ids}, "association_id": {"$exists": True}}, session=session
        )
        return {doc["_id"]: _person(doc) async for doc in cursor}

    async def owners_of(self, question: ScopeQuestion) -> dict[ReferenceKind, dict[str, str]]:
        """The association of each named person, referral and placement orientation knows (the
        gateway's scope check of a partner's request): a merged person's is the kept record's,
        erased people and their records are not known."""
        found: dict[ReferenceKind, dict[str, str]] = {}
        people = question.ids(ReferenceKind.BENEFICIARY)
        if people:
            found[ReferenceKind.BENEFICIARY] = await self._people_owners(people)
        for kind, collection in (
            (ReferenceKind.REFERRAL, self.referrals),
            (ReferenceKind.PLACEMENT, self.placements),
        ):
            ids = question.ids(kind)
            if ids:
                cursor = collection.find(
                    {"_id": {"$in": ids}, "erased": {"$ne": True}}, {"association_id": 1}
                )
                found[kind] = {doc["_id"]: doc["association_id"] async for doc in cursor}
        return found

    async def _people_owners(self, ids: list[str]) -> dict[str, str]:
        """Each known person's association; a merged record leads to the one kept (as
        :meth:`person` does)."""
        owners: dict[str, str] = {}
        kept_of: dict[str, str] = {}
        async for doc in self.people.find({"_id": {"$in": ids}}):
            if "merged_into" in doc:
                kept_of[doc["_id"]] = doc["merged_into"]
            elif "association_id" in doc:
                owners[doc["_id"]] = doc["association_id"]
        if kept_of:
            cursor = self.people.find(
                {"_id": {"$in": sorted(set(kept_of.values()))}, "association_id": {"$exists": 1}},
                {"association_id": 1},
            )
            kept = {doc["_id"]: doc["association_id"] async for doc in cursor}
            owners |= {named: kept[k] for named, k in kept_of.items() if k in kept}
        return owners

    async def is_erased(self, session: Session, beneficiary_id: str) -> bool:
        document = await self.people.find_one({"_id": beneficiary_id}, session=session)
        return document is not None and bool(document.get("erased"))

    async def enrol(
        self, session: Session, beneficiary_id: str, association_id: str, shares: bool
    ) -> None:
        await self.enrol_many(session, [(beneficiary_id, association_id, shares)])

    async def enrol_many(
        self, session: Session, enrolments: Sequence[tuple[str, str, bool]]
    ) -> None:
        """(beneficiary, association, shares with partners) for many people, in one write;
        someone erased stays erased."""
        if not enrolments:
            return
        ids = [beneficiary_id for beneficiary_id, _, _ in enrolments]
        erased = {
            doc["_id"]
            async for doc in self.people.find(
                {"_id": {"$in": ids}, "erased": True}, {"_id": 1}, session=session
            )
        }
        writes = [
            UpdateOne(
                {"_id": beneficiary_id},
                {
                    "$set": {"association_id": association, "status": PersonStatus.ACTIVE.value},
                    # A consent change is never older than the enrolment; kept if it came first.
                    "$setOnInsert": {"shares_with_partners": shares},
                },
                upsert=True,
            )
            for beneficiary_id, association, shares in enrolments
            if beneficiary_id not in erased
        ]
        if writes:
            await self.people.bulk_write(writes, ordered=True, session=session)

    async def update_person(self, session: Session, beneficiary_id: str, **facts: Any) -> None:
        await self.people.update_one(
            {"_id": beneficiary_id, "association_id": {"$exists": True}},
            {"$set": facts},
            session=session,
        )

    async def erase(self, session: Session, beneficiary_id: str) -> None:
        """Forget the person: their facts and the free text go; what they did stays, re-keyed
        to a random pseudonym nothing links to them, so figures do not move."""
        pseudonym = f"{ERASED_PREFIX}{uuid4()}"
        person = {"beneficiary_id": beneficiary_id}
        renamed = {"$set": {"beneficiary_id": pseudonym, "erased": True}}
        await self.placements.update_many(
            person,
            {**renamed, "$unset": {"employer": "", "partner_reference": ""}},
            session=session,
        )
        await self.referrals.update_many(person, renamed, session=session)
        await self.follow_ups.update_many(person, renamed, session=session)
        await self.workshops.update_many(
            {"participants": beneficiary_id},
            {"$set": {"participants.$": pseudonym}},
            session=session,
        )
        interests = await self.interests.find_one({"_id": beneficiary_id}, session=session)
        if interests is not None:
            await self.interests.delete_one({"_id": beneficiary_id}, session=session)
            await self.interests.insert_one(
                {**interests, "_id": pseudonym, "erased": True}, session=session
            )
        await self.people.replace_one(
            {"_id": beneficiary_id}, {"erased": True}, upsert=True, session=session
        )

    async def merge(self, session: Session, kept_id: str, merged_id: str) -> None:
        """Move everything recorded about ``merged_id`` to ``kept_id``."""
        kept = await self.person(kept_id, session)
        moved: dict[str, Any] = {"beneficiary_id": kept_id}
        if kept is not None:
            moved["association_id"] = kept.association_id
        for collection in (self.placements, self.referrals):
            await collection.update_many(
                {"beneficiary_id": merged_id}, {"$set": moved}, session=session
            )
        await self.follow_ups.update_many(
            {"beneficiary_id": merged_id}, {"$set": {"beneficiary_id": kept_id}}, session=session
        )
        await self.workshops.update_many(
            {"participants": {"$all": [merged_id, kept_id]}},
            {"$pull": {"participants": merged_id}},
            session=session,
        )
        await self.workshops.update_many(
            {"participants": merged_id}, {"$set": {"participants.$": kept_id}}, session=session
        )
        duplicate = await self.interests.find_one({"_id": merged_id}, session=session)
        if duplicate is not None:
            await self.interests.delete_one({"_id": merged_id}, session=session)
            await self.interests.update_one(
                {"_id": kept_id},
                {
                    "$addToSet": {"job_families": {"$each": duplicate["job_families"]}},
                    "$setOnInsert": {"recorded_at": duplicate["recorded_at"]},
                },
                upsert=True,
                session=session,
            )
        await self.people.replace_one(
            {"_id": merged_id}, {"merged_into": kept_id}, upsert=True, session=session
        )

    # -- workshops, interests, referrals -------------------------------------------------------

    async def add_workshop(self, session: Session, workshop: Workshop) -> None:
        document = asdict(workshop)
        document["_id"] = str(document.pop("id"))
        document["job_families"] = list(workshop.job_families)
        document["participants"] = list(workshop.participants)
        await self.workshops.insert_one(document, session=session)

    async def save_interests(
        self, session: Session, beneficiary_id: str, job_families: list[str], at: datetime
    ) -> None:
        await self.interests.replace_one(
            {"_id": beneficiary_id},
            {"job_families": job_families, "recorded_at": at},
            upsert=True,
            session=session,
        )

    async def save_referral(
        self, session: Session, referral: Referral, association_id: str
    ) -> None:
        document = {
            **{k: v for k, v in asdict(referral).items() if k != "id"},
            "partner_kind": referral.partner_kind.value,
            "status": referral.status.value,
            "association_id": association_id,
        }
        await self.referrals.replace_one(
            {"_id": str(referral.id)}, document, upsert=True, session=session
        )

    async def referral(
        self, referral_id: str, session: Session | None = None
    ) -> tuple[Referral, str] | None:
        """The referral and the association of its person, or None (absent or erased)."""
        document = await self.referrals.find_one(
            {"_id": referral_id, "erased": {"$ne": True}}, session=session
        )
        if document is None:
            return None
        return _referral(document), document["association_id"]

    # -- placements and follow-ups -------------------------------------------------------------

    async def add_placement(
        self, session: Session, placement: Placement, association_id: str
    ) -> None:
        await self.placements.insert_one(
            {
                "_id": str(placement.id),
                "beneficiary_id": placement.beneficiary_id,
                "association_id": association_id,
                "kind": placement.kind.value,
                "starts_on": placement.starts_on.isoformat(),
                "digital_sector": placement.digital_sector,
                "employer": placement.employer,
                "partner_reference": placement.partner_reference,
                "recorded_at": placement.recorded_at,
            },
            session=session,
        )

    async def placement(
        self, placement_id: str, session: Session | None = None
    ) -> tuple[Placement, str] | None:
        """The placement and the association of its person, or None (absent or erased)."""
        document = await self.placements.find_one(
            {"_id": placement_id, "erased": {"$ne": True}}, session=session
        )
        return (_placement(document), document["association_id"]) if document else None

    async def same_placement(
        self, session: Session, beneficiary_id: str, kind: PlacementKind, starts_on: date
    ) -> str | None:
        document = await self.placements.find_one(
            {"beneficiary_id": beneficiary_id, "kind": kind.value, "starts_on": str(starts_on)},
            {"_id": 1},
            session=session,
        )
        return str(document["_id"]) if document else None

    async def followed_placements(self, association_id: str | None = None) -> list[Placement]:
        """Every placement of a person not erased (optionally of one association)."""
        query: dict[str, Any] = {"erased": {"$ne": True}}
        if association_id is not None:
            query["association_id"] = association_id
        return [_placement(doc) async for doc in self.placements.find(query)]

    async def recorded_follow_ups(self) -> set[tuple[str, int]]:
        cursor = self.follow_ups.find({}, {"placement_id": 1, "months": 1})
        return {(doc["placement_id"], doc["months"]) async for doc in cursor}

    async def follow_up_recorded(self, session: Session, placement_id: str, months: int) -> bool:
        found = await self.follow_ups.find_one(
            {"_id": f"{placement_id}:{months}"}, {"_id": 1}, session=session
        )
        return found is not None

    async def add_follow_up(
        self,
        session: Session,
        placement: Placement,
        months: int,
        still_in_post: bool,
        at: datetime,
    ) -> None:
        await self.follow_ups.insert_one(
            {
                "_id": f"{placement.id}:{months}",
                "placement_id": str(placement.id),
                "beneficiary_id": placement.beneficiary_id,
                "months": months,
                "still_in_post": still_in_post,
                "recorded_at": at,
            },
            session=session,
        )

    async def mark_announced(self, session: Session, placement_id: str, months: int) -> bool:
        """Record that a follow-up's due event was emitted; False when it already was."""
        marker = f"{placement_id}:{months}"
        if await self.follow_ups_announced.find_one({"_id": marker}, session=session):
            return False
        await self.follow_ups_announced.insert_one(
            {"_id": marker, "at": datetime.now(UTC)}, session=session
        )
        return True

    # -- partner requests ----------------------------------------------------------------------

    async def mark_request_applied(
        self, session: Session, request_id: str, placement_id: str
    ) -> None:
        await self.mark_applied(session, request_id, placement_id=placement_id)

    async def mark_applied(self, session: Session, request_id: str, **result: str) -> None:
        """Record a partner request (its ce_id) as applied, with the ids of what it made
        (with the rest of the batch's, in a batch: kit.mongo.insert_in)."""
        await insert_in(
            self.applied_requests, [{"_id": request_id, **result, "at": datetime.now(UTC)}], session
        )

    async def was_applied(self, request_id: str, session: Session | None = None) -> bool:
        found = await self.applied_requests.find_one({"_id": request_id}, session=session)
        return found is not None

    async def applied_among(self, request_ids: list[str], session: Session) -> set[str]:
        """Which of these partner requests were applied before (one query)."""
        wanted = {"_id": {"$in": request_ids}}
        cursor = self.applied_requests.find(wanted, {"_id": 1}, session=session)
        return {str(document["_id"]) async for document in cursor}

    async def applied_request(self, request_id: str, session: Session | None = None) -> str | None:
        found = await self.applied_requests.find_one({"_id": request_id}, session=session)
        return str(found["placement_id"]) if found and "placement_id" in found else None

    # -- reading many at once (the gateway's lists and loaders) ---------------------------------

    async def records_of_many(self, beneficiary_ids: list[str]) -> dict[str, PersonRecords]:
        """Each person's workshops, interests, referrals, placements and follow-ups, read with
        five queries whatever their number."""
        found = {beneficiary_id: PersonRecords() for beneficiary_id in beneficiary_ids}
        wanted = {"$in": beneficiary_ids}
        async for document in self.workshops.find({"participants": wanted}).sort("held_at", 1):
            workshop = _workshop(document)
            for participant in workshop.participants:
                if participant in found:
                    found[participant].workshops.append(workshop)
        async for document in self.interests.find({"_id": wanted}):
            found[document["_id"]].interests = (
                list(document["job_families"]),
                document["recorded_at"],
            )
        live = {"beneficiary_id": wanted, "erased": {"$ne": True}}
        async for document in self.referrals.find(live).sort("made_at", 1):
            found[document["beneficiary_id"]].referrals.append(_referral(document))
        async for document in self.placements.find(live).sort("starts_on", 1):
            found[document["beneficiary_id"]].placements.append(_placement(document))
        async for document in self.follow_ups.find({"beneficiary_id": wanted}).sort("_id", 1):
            found[document["beneficiary_id"]].follow_ups.append(document)
        return found

    async def placement_page(
        self, filters: dict[str, str | None], after: Position | None, first: int
    ) -> tuple[Page, list[Placement]]:
        """Placements in recording order, one page after ``after``."""
        query: dict[str, Any] = {"erased": {"$ne": True}}
        query.update({field: value for field, value in filters.items() if value})
        page = await read_page(self.placements, query, "recorded_at", after, first)
        return page, [_placement(document) for document in page.documents]

    async def referral_page(
        self, filters: dict[str, str | None], after: Position | None, first: int
    ) -> tuple[Page, list[Referral]]:
        """Referrals in the order they were made, one page after ``after``."""
        query: dict[str, Any] = {"erased": {"$ne": True}}
        query.update({field: value for field, value in filters.items() if value})
        page = await read_page(self.referrals, query, "made_at", after, first)
        return page, [_referral(document) for document in page.documents]

    # -- right of access -----------------------------------------------------------------------

    async def records_of(self, beneficiary_id: str) -> list[Document]:
        """Everything held about one person, each row tagged (``record``) with what it is; a
        placement's own ``kind`` (CDI…) stays as it is."""
        records: list[Document] = []
        person = await self.people.find_one({"_id": beneficiary_id})
        if person is not None and "association_id" in person:
            records.append({"record": "person", **_public(person)})
        interests = await self.interests.find_one({"_id": beneficiary_id})
        if interests is not None:
            records.append({"record": "interests", **_public(interests)})
        sources = (
            ("workshop", self.workshops, {"participants": beneficiary_id}),
            ("referral", self.referrals, {"beneficiary_id": beneficiary_id}),
            ("placement", self.placements, {"beneficiary_id": beneficiary_id}),
            ("follow_up", self.follow_ups, {"beneficiary_id": beneficiary_id}),
        )
        for kind, collection, query in sources:
            async for document in collection.find(query):
                if kind == "workshop":
                    document.pop("participants", None)  # other people's ids are not theirs
                records.append({"record": kind, **_public(document)})
        return records


@dataclass
class PersonRecords:
    """What orientation holds about one person, as the gateway shows it."""

    workshops: list[Workshop] = field(default_factory=list)
    interests: tuple[list[str], datetime] | None = None
    referrals: list[Referral] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    follow_ups: list[Document] = field(default_factory=list)


def _workshop(document: Document) -> Workshop:
    return Workshop(
        id=UUID(document["_id"]),
        association_id=document["association_id"],
        held_at=document["held_at"],
        job_families=tuple(document["job_families"]),
        women_focused=document["women_focused"],
        participants=tuple(document["participants"]),
        recorded_at=document["recorded_at"],
    )


def _referral(document: Document) -> Referral:
    return Referral(
        id=UUID(document["_id"]),
        beneficiary_id=document["beneficiary_id"],
        partner_kind=PartnerKind(document["partner_kind"]),
        made_at=document["made_at"],
        status=ReferralStatus(document["status"]),
        refusal_reason=document.get("refusal_reason"),
        resolved_at=document.get("resolved_at"),
    )


def _person(document: Document) -> Person:
    return Person(
        id=document["_id"],
        association_id=document["association_id"],
        shares_with_partners=bool(document.get("shares_with_partners", False)),
        status=PersonStatus(document.get("status", PersonStatus.ACTIVE.value)),
    )


def _placement(document: Document) -> Placement:
    return Placement(
        id=UUID(document["_id"]),
        beneficiary_id=document["beneficiary_id"],
        kind=PlacementKind(document["kind"]),
        starts_on=date.fromisoformat(document["starts_on"]),
        digital_sector=document["digital_sector"],
        recorded_at=document["recorded_at"],
        employer=document.get("employer"),
        partner_reference=document.get("partner_reference"),
    )


def _public(document: Document) -> Document:
    """A stored row as JSON: its id named ``id``, dates as ISO strings."""
    row = {k: v for k, v in document.items() if k != "_id"}
    row["id"] = str(document["_id"])
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in row.items()}
