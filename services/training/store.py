"""Training's MongoDB collections: modules, sessions, attendance, assessments, what training
knows of each beneficiary (ids and status only), association maturity and the staff
sessions it counts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from contracts.event import EventData
from contracts.maturity import MaturityQuestion
from contracts.scope import ReferenceKind, ScopeQuestion
from contracts.training import AssessmentStage, AttendanceStatus, Autonomy, SessionKind
from kit import outbox
from kit.mongo import Document, Session
from kit.paging import Page, Position, read_page
from services.training.domain import (
    Assessment,
    Attendance,
    BeneficiaryStatus,
    Catalogue,
    Person,
    catalogue_from,
)
from services.training.domain import Session as TrainingSession
from services.training.maturity import Maturity, SelfAssessment, StaffTraining

REFERENCE_FILE = Path(__file__).with_name("reference_data.json")


async def read_catalogue(path: Path = REFERENCE_FILE) -> Catalogue:
    return catalogue_from(json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8")))


class TrainingStore:
    def __init__(self, db: AsyncDatabase[Document], source: str) -> None:
        self.db = db
        self.source = source
        self.modules = db["modules"]
        self.sessions = db["sessions"]
        self.attendance = db["attendance"]
        self.assessments = db["assessments"]
        self.beneficiaries = db["beneficiaries"]
        self.maturity = db["association_maturity"]

    async def ensure_indexes(self) -> None:
        await self.sessions.create_index([("association_id", ASCENDING), ("starts_at", 1)])
        await self.sessions.create_index([("starts_at", ASCENDING)])
        # One record per session and person, whatever races the checks above it lose.
        await self.attendance.create_index(
            [("session_id", ASCENDING), ("beneficiary_id", 1)], unique=True
        )
        await self.attendance.create_index([("beneficiary_id", ASCENDING)])
        await self.assessments.create_index(
            [("beneficiary_id", ASCENDING), ("competence", 1), ("stage", 1)], unique=True
        )

    async def save_modules(self, catalogue: Catalogue) -> None:
        """Keep a copy of the shipped modules next to the data that refers to them."""
        await self.modules.bulk_write(
            [
                ReplaceOne(
                    {"_id": module.id},
                    {**_without_id(asdict(module)), "competences": list(module.competences)},
                    upsert=True,
                )
                for module in catalogue.modules.values()
            ]
        )

    async def emit(self, session: Session, event: EventData) -> None:
        await outbox.enqueue(self.db, session, event, self.source)

    async def emit_many(self, session: Session, events: Sequence[EventData]) -> None:
        await outbox.enqueue_many(self.db, session, events, self.source)

    # -- sessions ----------------------------------------------------------------------------

    async def add_sessions(self, session: Session, sessions: list[TrainingSession]) -> None:
        await self.sessions.insert_many([_session_document(s) for s in sessions], session=session)

    async def save_sessions(self, session: Session, sessions: Sequence[TrainingSession]) -> None:
        """Write these sessions as they are now (one write)."""
        if sessions:
            documents = [_session_document(s) for s in sessions]
            await self.sessions.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d) for d in documents], session=session
            )

    async def get_session(
        self, session_id: str, session: Session | None = None
    ) -> TrainingSession | None:
        document = await self.sessions.find_one({"_id": session_id}, session=session)
        return _session(document) if document else None

    async def list_sessions(
        self,
        association_id: str | None,
        starts_from: datetime | None,
        starts_to: datetime | None,
        limit: int,
    ) -> list[TrainingSession]:
        query: dict[str, Any] = {}
        if association_id:
            query["association_id"] = association_id
        window = {op: value for op, value in (("$gte", starts_from), ("$lt", starts_to)) if value}
        if window:
            query["starts_at"] = window
        cursor = self.sessions.find(query).sort("starts_at", ASCENDING).limit(limit)
        return [_session(document) async for document in cursor]

    # -- attendance --------------------------------------------------------------------------

    async def session_page(
        self,
        filters: dict[str, str | None],
        starts_from: datetime | None,
        starts_to: datetime | None,
        after: Position | None,
        first: int,
    ) -> tuple[Page, list[TrainingSession]]:
        """Sessions matching ``filters`` (association_id, district_id, module_id) and the start
        window, in start order, one page after ``after``."""
        query: dict[str, Any] = {field: value for field, value in filters.items() if value}
        window = {op: value for op, value in (("$gte", starts_from), ("$lt", starts_to)) if value}
        if window:
            query["starts_at"] = window
        page = await read_page(self.sessions, query, "starts_at", after, first)
        return page, [_session(document) for document in page.documents]

    async def roll_call_of(
        self, session_id: str, session: Session | None = None
    ) -> dict[str, Attendance]:
        cursor = self.attendance.find({"session_id": session_id}, session=session)
        return {doc["beneficiary_id"]: _attendance(doc) async for doc in cursor}

    async def attendance_of(
        self, beneficiary_id: str, session: Session | None = None
    ) -> list[Attendance]:
        cursor = self.attendance.find({"beneficiary_id": beneficiary_id}, session=session)
        return [_attendance(doc) async for doc in cursor.sort("session_starts_at", ASCENDING)]

    async def attendance_of_many(
        self, beneficiary_ids: list[str], session: Session | None = None
    ) -> dict[str, list[Attendance]]:
        """Each person's attendance records in session order, read in one query."""
        found: dict[str, list[Attendance]] = {
            beneficiary_id: [] for beneficiary_id in beneficiary_ids
        }
        cursor = self.attendance.find({"beneficiary_id": {"$in": beneficiary_ids}}, session=session)
        async for document in cursor.sort([("session_starts_at", ASCENDING), ("_id", 1)]):
            found[document["beneficiary_id"]].append(_attendance(document))
        return found

    async def sessions_among(
        self, session_ids: list[str], session: Session | None = None
    ) -> dict[str, TrainingSession]:
        """The sessions of these ids that exist, read in one query."""
        cursor = self.sessions.find({"_id": {"$in": session_ids}}, session=session)
        return {document["_id"]: _session(document) async for document in cursor}

    async def roll_calls_in(
        self, session_ids: list[str], session: Session | None = None
    ) -> dict[str, dict[str, Attendance]]:
        """Each session's roll-call by person, read in one query."""
        found: dict[str, dict[str, Attendance]] = {session_id: {} for session_id in session_ids}
        cursor = self.attendance.find({"session_id": {"$in": session_ids}}, session=session)
        async for document in cursor:
            found[document["session_id"]][document["beneficiary_id"]] = _attendance(document)
        return found

    async def roll_calls_of(self, session_ids: list[str]) -> dict[str, list[Attendance]]:
        """Each session's roll-call (records by id), read in one query."""
        found: dict[str, list[Attendance]] = {session_id: [] for session_id in session_ids}
        cursor = self.attendance.find({"session_id": {"$in": session_ids}})
        async for document in cursor.sort("_id", ASCENDING):
            found[document["session_id"]].append(_attendance(document))
        return found

    async def add_attendance(self, session: Session, records: list[Attendance]) -> None:
        if records:
            await self.attendance.insert_many(
                [_attendance_document(a) for a in records], session=session
            )

    async def replace_attendance(self, session: Session, records: list[Attendance]) -> None:
        """Corrected records, each in place of the one with its id."""
        if records:
            await self.attendance.bulk_write(
                [ReplaceOne({"_id": a.id}, _attendance_document(a)) for a in records],
                session=session,
            )

    # -- assessments -------------------------------------------------------------------------

    async def assessments_of(
        self, beneficiary_id: str, session: Session | None = None
    ) -> list[Assessment]:
        cursor = self.assessments.find({"beneficiary_id": beneficiary_id}, session=session)
        return [_assessment(doc) async for doc in cursor.sort("competence", ASCENDING)]

    async def assessments_of_many(
        self, beneficiary_ids: list[str], session: Session | None = None
    ) -> dict[str, list[Assessment]]:
        found: dict[str, list[Assessment]] = {
            beneficiary_id: [] for beneficiary_id in beneficiary_ids
        }
        cursor = self.assessments.find(
            {"beneficiary_id": {"$in": beneficiary_ids}}, session=session
        )
        async for document in cursor.sort("competence", ASCENDING):
            found[document["beneficiary_id"]].append(_assessment(document))
        return found

    async def get_assessment(
        self, session: Session, beneficiary_id: str, competence: str, stage: AssessmentStage
    ) -> Assessment | None:
        document = await self.assessments.find_one(
            {"beneficiary_id": beneficiary_id, "competence": competence, "stage": stage.value},
            session=session,
        )
        return _assessment(document) if document else None

    async def save_assessment(self, session: Session, assessment: Assessment) -> None:
        await self.save_assessments(session, [assessment])

    async def save_assessments(self, session: Session, assessments: Sequence[Assessment]) -> None:
        """Store each as the latest per person, competence and stage, in one write."""
        writes = []
        for assessment in assessments:
            key = {
                "beneficiary_id": assessment.beneficiary_id,
                "competence": assessment.competence,
                "stage": assessment.stage.value,
            }
            document = {**key, "level": assessment.level, "autonomy": assessment.autonomy.value,
                        "assessed_at": assessment.assessed_at}  # fmt: skip
            writes.append(ReplaceOne(key, document, upsert=True))
        if writes:
            await self.assessments.bulk_write(writes, ordered=True, session=session)

    # -- beneficiaries (ids and status only) -------------------------------------------------

    async def person(self, beneficiary_id: str, session: Session | None = None) -> Person | None:
        document = await self.beneficiaries.find_one({"_id": beneficiary_id}, session=session)
        return _person(document) if document else None

    async def people(self, beneficiary_ids: list[str]) -> dict[str, Person]:
        return await self.people_among(beneficiary_ids)

    async def people_among(
        self, beneficiary_ids: list[str], session: Session | None = None
    ) -> dict[str, Person]:
        cursor = self.beneficiaries.find({"_id": {"$in": beneficiary_ids}}, session=session)
        return {document["_id"]: _person(document) async for document in cursor}

    async def flagged_people(self, association_id: str | None) -> list[Person]:
        """Active people once flagged at risk (of one association, or all): the only ones who
        can be at risk now."""
        query: dict[str, Any] = {
            "status": BeneficiaryStatus.ACTIVE.value,
            "at_risk_sessions.0": {"$exists": True},
        }
        if association_id is not None:
            query["association_id"] = association_id
        return [_person(document) async for document in self.beneficiaries.find(query)]

    async def owners_of(self, question: ScopeQuestion) -> dict[ReferenceKind, dict[str, str]]:
        """The association of each named session and person training knows (the gateway's
        scope check of a partner's request); erased people are not known."""
        found: dict[ReferenceKind, dict[str, str]] = {}
        for kind, collection in (
            (ReferenceKind.SESSION, self.sessions),
            (ReferenceKind.BENEFICIARY, self.beneficiaries),
        ):
            ids = question.ids(kind)
            if ids:
                cursor = collection.find(
                    {"_id": {"$in": ids}, "association_id": {"$type": "string"}},
                    {"association_id": 1},
                )
                found[kind] = {doc["_id"]: doc["association_id"] async for doc in cursor}
        return found

    async def save_person(self, session: Session, person: Person) -> None:
        await self.save_people(session, [person])

    async def save_people(self, session: Session, people: Sequence[Person]) -> None:
        """Replace (or create) these people's records, in one write."""
        if not people:
            return
        writes = []
        for person in people:
            document: Document = {
                "association_id": person.association_id,
                "status": person.status.value,
                "merged_into": person.merged_into,
                "trained_at": person.trained_at,
                "at_risk_sessions": sorted(person.at_risk_sessions),
            }
            writes.append(
                ReplaceOne(
                    {"_id": person.id},
                    {k: v for k, v in document.items() if v is not None},
                    upsert=True,
                )
            )
        await self.beneficiaries.bulk_write(writes, ordered=True, session=session)

    async def forget(self, session: Session, beneficiary_id: str) -> None:
        """Erasure: the person's attendance and assessments move under one random pseudonym
        (counts stay, nothing links them to the person) and only a tombstone remains."""
        pseudonym = f"erased-{uuid4()}"
        for collection in (self.attendance, self.assessments):
            await collection.update_many(
                {"beneficiary_id": beneficiary_id},
                {"$set": {"beneficiary_id": pseudonym}},
                session=session,
            )
        await self.beneficiaries.replace_one(
            {"_id": beneficiary_id},
            {"status": BeneficiaryStatus.ERASED.value},
            upsert=True,
            session=session,
        )

    async def move_records(self, session: Session, merged_id: str, kept_id: str) -> None:
        """Merge: the duplicate's records move to the kept person; where both have one for
        the same session (or competence and stage), the kept person's stays."""
        kept_sessions = set(await self.roll_ids(session, kept_id))
        await self.attendance.delete_many(
            {"beneficiary_id": merged_id, "session_id": {"$in": sorted(kept_sessions)}},
            session=session,
        )
        await self.attendance.update_many(
            {"beneficiary_id": merged_id}, {"$set": {"beneficiary_id": kept_id}}, session=session
        )
        kept_assessments = {
            (a.competence, a.stage) for a in await self.assessments_of(kept_id, session)
        }
        for assessment in await self.assessments_of(merged_id, session):
            key = {
                "beneficiary_id": merged_id,
                "competence": assessment.competence,
                "stage": assessment.stage.value,
            }
            if (assessment.competence, assessment.stage) in kept_assessments:
                await self.assessments.delete_one(key, session=session)
            else:
                await self.assessments.update_one(
                    key, {"$set": {"beneficiary_id": kept_id}}, session=session
                )

    async def roll_ids(self, session: Session, beneficiary_id: str) -> list[str]:
        cursor = self.attendance.find(
            {"beneficiary_id": beneficiary_id}, {"session_id": 1}, session=session
        )
        return [doc["session_id"] async for doc in cursor]

    # -- association maturity ----------------------------------------------------------------

    async def maturity_of(self, association_id: str, session: Session | None = None) -> Maturity:
        document = await self.maturity.find_one({"_id": association_id}, session=session)
        if document is None:
            return Maturity(association_id)
        return Maturity(
            association_id=association_id,
            assessments=(
                *_typed_scores(association_id, document),
                *(_self_assessment(row) for row in document.get("assessments", [])),
            ),
            upskilled_at=document.get("upskilled_at"),
        )

    async def save_maturity(self, session: Session, maturity: Maturity) -> None:
        await self.maturity.replace_one(
            {"_id": maturity.association_id},
            {
                "assessments": [_assessment_document(a) for a in maturity.assessments],
                "upskilled_at": maturity.upskilled_at,
            },
            upsert=True,
            session=session,
        )

    async def staff_training_of(
        self, association_id: str, session: Session | None = None
    ) -> list[StaffTraining]:
        """The association's staff sessions that someone attended (a headcount above 0)."""
        cursor = self.sessions.find(
            {
                "association_id": association_id,
                "kind": SessionKind.STAFF.value,
                "anonymous_count": {"$gt": 0},
            },
            {"starts_at": 1, "duration_minutes": 1, "anonymous_count": 1},
            session=session,
        )
        return [
            StaffTraining(
                session_id=document["_id"],
                starts_at=document["starts_at"],
                duration_minutes=document["duration_minutes"],
                headcount=document["anonymous_count"],
            )
            async for document in cursor
        ]


# -- documents ----------------------------------------------------------------------------


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "id"}


def _session_document(training_session: TrainingSession) -> Document:
    return {"_id": training_session.id, **_without_id(asdict(training_session))}


def _session(document: Document) -> TrainingSession:
    return TrainingSession(
        id=document["_id"],
        association_id=document["association_id"],
        district_id=document["district_id"],
        module_id=document["module_id"],
        kind=SessionKind(document["kind"]),
        place_type=document["place_type"],
        starts_at=document["starts_at"],
        duration_minutes=document["duration_minutes"],
        capacity=document.get("capacity"),
        anonymous_count=document.get("anonymous_count", 0),
    )


def _attendance_document(attendance: Attendance) -> Document:
    # Its fields are flat: vars() instead of asdict(), which deep-copies each value (thousands
    # of records a batch; asdict was 2 % of the service's time under the simulated year).
    return {"_id": attendance.id, **_without_id(vars(attendance))}


def _attendance(document: Document) -> Attendance:
    return Attendance(
        id=document["_id"],
        session_id=document["session_id"],
        beneficiary_id=document["beneficiary_id"],
        status=AttendanceStatus(document["status"]),
        minutes=document["minutes"],
        module_id=document["module_id"],
        association_id=document["association_id"],
        session_starts_at=document["session_starts_at"],
        recorded_at=document["recorded_at"],
    )


def _assessment(document: Document) -> Assessment:
    return Assessment(
        beneficiary_id=document["beneficiary_id"],
        competence=document["competence"],
        stage=AssessmentStage(document["stage"]),
        level=document["level"],
        autonomy=Autonomy(document["autonomy"]),
        assessed_at=document["assessed_at"],
    )


def _person(document: Document) -> Person:
    return Person(
        id=document["_id"],
        association_id=document.get("association_id"),
        status=BeneficiaryStatus(document["status"]),
        merged_into=document.get("merged_into"),
        trained_at=document.get("trained_at"),
        at_risk_sessions=frozenset(document.get("at_risk_sessions", ())),
    )


def _typed_scores(association_id: str, document: Document) -> list[SelfAssessment]:
    """Scores typed by hand before the questionnaire (the first shape of this collection:
    ``history: [{score, at}]``), kept in the history as score-only assessments."""
    return [
        SelfAssessment(
            id=f"{association_id}-score-{index}",
            assessed_at=row["at"],
            recorded_at=row["at"],
            answers=None,
            typed_score=row["score"],
        )
        for index, row in enumerate(document.get("history", []))
    ]


def _self_assessment(row: Document) -> SelfAssessment:
    answers = row.get("answers")
    return SelfAssessment(
        id=row["id"],
        assessed_at=row["assessed_at"],
        recorded_at=row["recorded_at"],
        answers=None
        if answers is None
        else {MaturityQuestion(name): answer for name, answer in answers.items()},
        typed_score=row.get("typed_score"),
    )


def _assessment_document(assessment: SelfAssessment) -> Document:
    return {
        "id": assessment.id,
        "assessed_at": assessment.assessed_at,
        "recorded_at": assessment.recorded_at,
        "answers": None
        if assessment.answers is None
        else {question.value: answer for question, answer in assessment.answers.items()},
        "typed_score": assessment.typed_score,
    }
