"""The intake's parking (kit.intake, kit.parking) on the real MongoDB and broker: what arrives
early waits and is applied in the order received, a partner cannot fill the parking, an
erasure drops what waits about the person, and what never arrives is dead-lettered after the
wait. The service here is a small one of the test's own: two collections, the real intake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import ConsumerRecord
from pymongo import AsyncMongoClient

from contracts.catalogue import intake_types
from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.topics import DEAD_LETTER, INTAKE_TRAINING
from contracts.training import AttendanceReportedV1, AttendanceStatus, SessionReportedV1
from kit.deadletter import DeadLetters
from kit.deliveries import Deliveries
from kit.intake import Intake, known_ids
from kit.mongo import Document
from kit.parking import Parking, Ref, Waiting, ref
from tests.conftest import TestInfra
from tests.support import header, read_topic

pytestmark = pytest.mark.integration
PARTNER = "partner/parking-test"


class Rules:
    """Sessions and people in two collections; attendance recorded in the order applied."""

    accepted = intake_types(INTAKE_TRAINING)

    def __init__(self, db: Any) -> None:
        self.db = db
        self.order = 0

    def creates(self, data: EventData) -> list[Ref]:
        if isinstance(data, SessionReportedV1):
            return [ref("session", data.session_id)]
        return []

    async def known(self, refs: set[Ref]) -> set[Ref]:
        return await known_ids(refs, {"session": self.db.sessions, "beneficiary": self.db.people})

    async def apply(self, event: CloudEvent, data: EventData) -> bool:
        if await self.db.applied.find_one({"_id": str(event.id)}):
            return False
        if isinstance(data, SessionReportedV1):
            await self.db.sessions.insert_one({"_id": str(data.session_id)})
        elif isinstance(data, AttendanceReportedV1):
            if not await self.db.sessions.find_one({"_id": data.session_id}):
                raise Waiting([ref("session", data.session_id)], "no session yet")
            self.order += 1
            await self.db.attendance.insert_one(
                {"_id": str(event.id), "minutes": data.minutes, "order": self.order}
            )
        await self.db.applied.insert_one({"_id": str(event.id)})
        return True


@dataclass
class Bed:
    db: Any
    intake: Intake
    rules: Rules
    offset: int = 0

    def record(self, data: EventData) -> tuple[str, ConsumerRecord[bytes, bytes]]:
        event = data.to_event(PARTNER)
        value, headers = event.to_kafka()
        self.offset += 1
        return str(event.id), ConsumerRecord(
            topic=INTAKE_TRAINING,
            partition=0,
            offset=self.offset,
            timestamp=0,
            timestamp_type=0,
            key=data.subject().encode(),
            value=value,
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=len(value),
            headers=[(name, text.encode()) for name, text in headers.items()],
        )

    async def take(self, *requests: EventData) -> list[str]:
        made = [self.record(data) for data in requests]
        await self.intake.take([record for _, record in made])
        return [ce_id for ce_id, _ in made]

    async def minutes_in_order(self) -> list[int]:
        found = await self.db.attendance.find().sort("order", 1).to_list()
        return [doc["minutes"] for doc in found]


def attendance(session_id: UUID, person: UUID, minutes: int) -> AttendanceReportedV1:
    return AttendanceReportedV1(
        session_id=str(session_id),
        beneficiary_id=person,
        status=AttendanceStatus.PRESENT,
        minutes=minutes,
    )


def session(session_id: UUID) -> SessionReportedV1:
    return SessionReportedV1.model_validate(
        {
            "session_id": session_id,
            "association_id": "asso-test",
            "district_id": "qpv-test",
            "module_id": "mod-test",
            "kind": "collective",
            "place_type": "association_premises",
            "starts_at": datetime.now(UTC).isoformat(),
            "duration_minutes": 120,
        }
    )


@pytest.fixture
async def bed(
    mongo: AsyncMongoClient[Document], infra: TestInfra, request: pytest.FixtureRequest
) -> AsyncIterator[Bed]:
    options = getattr(request, "param", {})
    db = mongo[f"test_parking_{uuid4().hex[:8]}"]
    dead_letters = DeadLetters(infra.kafka_bootstrap, consumer="parking-test")
    await dead_letters.start()
    parking = Parking(
        db,
        "parking-test",
        options.get("max_wait", timedelta(days=7)),
        options.get("per_partner", 10_000),
    )
    await parking.ensure_indexes()
    await parking.load()
    rules = Rules(db)
    intake = Intake(mongo, rules, parking, Deliveries(db, "parking-test"), dead_letters)
    yield Bed(db, intake, rules)
    await dead_letters.stop()
    await mongo.drop_database(db.name)


async def test_requests_arriving_early_apply_in_the_order_received_once_all_they_name_is_known(
    bed: Bed,
) -> None:
    session_id, person = uuid4(), uuid4()
    await bed.take(attendance(session_id, person, 60))
    # Its session arrives, not its person: the correction must wait behind the first report.
    await bed.take(session(session_id), attendance(session_id, person, 90))
    assert await bed.minutes_in_order() == []
    assert len(bed.intake.parking) == 2

    await bed.db.people.insert_one({"_id": str(person)})
    bed.intake.wake()
    assert await bed.intake.release() == 2
    assert await bed.minutes_in_order() == [60, 90]
    assert len(bed.intake.parking) == 0
    assert await bed.db.parked_requests.count_documents({}) == 0
    [line] = await bed.intake.deliveries.lines(PARTNER, bed.intake.parking.waiting_per_partner())
    assert (line.accepted, line.rejected, line.waiting) == (3, 0, 0)


async def test_a_redelivered_parked_request_is_parked_once_and_applied_once(bed: Bed) -> None:
    session_id, person = uuid4(), uuid4()
    event_id, record = bed.record(attendance(session_id, person, 45))
    await bed.intake.take([record])
    await bed.intake.take([record])  # the broker delivers it again
    assert await bed.db.parked_requests.count_documents({"_id": event_id}) == 1
    await bed.db.people.insert_one({"_id": str(person)})
    await bed.take(session(session_id))
    assert await bed.minutes_in_order() == [45]


async def test_what_is_known_once_is_not_asked_again_and_a_record_gone_behind_it_waits(
    bed: Bed,
) -> None:
    asked: list[set[Ref]] = []
    known = bed.rules.known

    async def counted(refs: set[Ref]) -> set[Ref]:
        asked.append(set(refs))
        return await known(refs)

    bed.rules.known = counted  # type: ignore[method-assign]
    session_id, person, other = uuid4(), uuid4(), uuid4()
    await bed.db.people.insert_many([{"_id": str(person)}, {"_id": str(other)}])
    await bed.take(session(session_id), attendance(session_id, person, 30))
    await bed.take(attendance(session_id, person, 40), attendance(session_id, other, 50))
    # The second batch asked only about the person it names for the first time (the session
    # was made by the first batch, the other person found by it).
    assert asked == [
        {ref("session", session_id), ref("beneficiary", person)},
        {ref("beneficiary", other)},
    ]
    assert await bed.minutes_in_order() == [30, 40, 50]

    # A session gone (records are never deleted; should one be): its report waits, not lost.
    await bed.db.sessions.delete_one({"_id": str(session_id)})
    await bed.take(attendance(session_id, person, 60))
    # Taken as known, found gone by the use case: it waits, and the session is asked about
    # again from then on.
    assert asked[2:] == [{ref("session", session_id)}]
    assert len(bed.intake.parking) == 1
    await bed.db.sessions.insert_one({"_id": str(session_id)})
    assert await bed.intake.release() == 1
    assert await bed.minutes_in_order() == [30, 40, 50, 60]


@pytest.mark.parametrize("bed", [{"per_partner": 2}], indirect=True)
async def test_a_partner_cannot_fill_the_parking(bed: Bed, infra: TestInfra) -> None:
    ids = await bed.take(*(attendance(uuid4(), uuid4(), 30) for _ in range(3)))
    assert bed.intake.parking.waiting_per_partner() == {PARTNER: 2}
    records = await read_topic(
        infra.kafka_bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == ids[2] for r in rs),
    )
    [dead] = [r for r in records if header(r, "ce_id") == ids[2]]
    assert header(dead, "dn_error") == "too_many_waiting"
    assert "2 requests waiting" in (header(dead, "dn_error_detail") or "")


async def test_erasing_a_person_drops_what_waits_about_them(bed: Bed) -> None:
    session_id, erased, other = uuid4(), uuid4(), uuid4()
    await bed.take(attendance(session_id, erased, 30), attendance(session_id, other, 40))
    dropped = await bed.intake.parking.drop_about(ref("beneficiary", erased))
    assert dropped == 1
    assert await bed.db.parked_requests.count_documents({}) == 1
    await bed.db.people.insert_many([{"_id": str(erased)}, {"_id": str(other)}])
    await bed.take(session(session_id))
    assert await bed.minutes_in_order() == [40]


@pytest.mark.parametrize("bed", [{"max_wait": timedelta(seconds=1)}], indirect=True)
async def test_what_never_arrives_is_dead_lettered_after_the_wait(
    bed: Bed, infra: TestInfra
) -> None:
    [event_id] = await bed.take(attendance(uuid4(), uuid4(), 30))
    assert await bed.intake.release() == 0, "not before the wait"
    await asyncio.sleep(1.2)
    assert await bed.intake.release() == 1
    records = await read_topic(
        infra.kafka_bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == event_id for r in rs),
    )
    [dead] = [r for r in records if header(r, "ce_id") == event_id]
    assert header(dead, "dn_error") == "unknown_session"
    assert "the request waited 1 s for it" in (header(dead, "dn_error_detail") or "")
    assert len(bed.intake.parking) == 0
