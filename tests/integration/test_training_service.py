"""The training service in-process on the real MongoDB and broker: sessions, attendance over
HTTP and partner intake, completion emitted once, registration's enrolments and erasures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
)
from contracts.topics import DEAD_LETTER, INTAKE_TRAINING, REGISTRATION_EVENTS, TRAINING_EVENTS
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AssessmentStage,
    AttendanceReportedV1,
    AttendanceStatus,
    Autonomy,
    SessionKind,
    SessionReportedV1,
)
from kit.auth import Role, issue_token
from kit.mongo import Document
from kit.settings import Settings
from services.training.app import build
from tests.support import Record, eventually, header, produce, read_all, read_topic

pytestmark = pytest.mark.integration

ASSOCIATION = "asso-saige-en-ligne"
TRAINED = "dn.training.beneficiary_trained.v1"


@dataclass
class TrainingService:
    http: httpx.AsyncClient
    bootstrap: str
    db: Any

    async def send(self, topic: str, data: EventData, source: str = "dn/registration") -> str:
        event = data.to_event(source)
        value, headers = event.to_kafka()
        encoded = [(name, text.encode()) for name, text in headers.items()]
        await produce(self.bootstrap, topic, [(data.subject().encode(), value, encoded)])
        return str(event.id)

    async def enrol(self, association_id: str = ASSOCIATION) -> UUID:
        beneficiary_id = uuid4()
        await self.send(REGISTRATION_EVENTS, enrolment(beneficiary_id, association_id))
        await eventually(
            lambda: self.status(f"/beneficiaries/{beneficiary_id}/progress"),
            lambda status: status == 200,
            timeout_s=60,
            what="training learns of the enrolment",
        )
        return beneficiary_id

    async def status(self, path: str) -> int:
        return (await self.http.get(path)).status_code

    async def schedule(self, weeks: int = 1) -> list[dict[str, Any]]:
        response = await self.http.post(
            "/schedules",
            json={
                "association_id": ASSOCIATION,
                "district_id": "qpv-saige",
                "module_id": "mod-demarches-en-ligne",
                "kind": "collective",
                "duration_minutes": 180,
                "capacity": 12,
                "weekdays": ["monday"],
                "from": "2026-03-02",
                "until": str(date(2026, 3, 2) + timedelta(weeks=weeks - 1)),
                "at": "14:00",
            },
        )
        assert response.status_code == 201, response.text
        sessions: list[dict[str, Any]] = response.json()["sessions"]
        assert len(sessions) == weeks
        return sessions

    async def attend(
        self, session_id: str, beneficiary_id: UUID, status: str = "present"
    ) -> httpx.Response:
        return await self.http.post(
            f"/sessions/{session_id}/attendance",
            json={"beneficiary_id": str(beneficiary_id), "status": status},
        )


def enrolment(beneficiary_id: UUID, association_id: str) -> BeneficiaryEnrolledV1:
    return BeneficiaryEnrolledV1(
        beneficiary_id=beneficiary_id,
        association_id=association_id,
        district_id="qpv-saige",
        gender=Gender.FEMALE,
        age_band=AgeBand.FROM_26_TO_44,
        tracks=[Track.DIGITAL_INCLUSION],
        employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
        enrolled_at=datetime.now(UTC),
    )


def of_type(records: list[Record], event_type: str, subject: str) -> list[Record]:
    return [
        r
        for r in records
        if header(r, "ce_type") == event_type and header(r, "ce_subject") == subject
    ]


def keyed_records(
    events: list[CloudEvent], key: str
) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    """Events as records for one partition (one key), in this order."""
    records = []
    for event in events:
        value, headers = event.to_kafka()
        encoded = [(name, text.encode()) for name, text in headers.items()]
        records.append((key.encode(), value, encoded))
    return records


@pytest.fixture(scope="module")
async def training(
    settings: Settings, mongo: AsyncMongoClient[Document]
) -> AsyncIterator[TrainingService]:
    app = build(settings)
    token = issue_token(settings, Role.COORDINATOR, audience="training")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://training",
            headers={"authorization": f"Bearer {token}"},
        ) as http:
            service = TrainingService(http, settings.resolved_kafka_bootstrap, mongo["dn_training"])
            await service.enrol()  # waits for the consumer group's assignment
            yield service


async def test_four_sessions_attended_make_one_trained_event_despite_resends(
    training: TrainingService,
) -> None:
    person = await training.enrol()
    sessions = await training.schedule(weeks=4)
    for training_session in sessions:
        response = await training.attend(training_session["id"], person)
        assert response.status_code == 201, response.text
        assert response.json()["minutes"] == 180
    resend = await training.attend(sessions[0]["id"], person)
    assert resend.status_code == 200, "an identical resend is accepted as a no-op"
    conflict = await training.attend(sessions[0]["id"], person, "unexcused_absence")
    assert conflict.status_code == 409
    # A later event on the same key: once it is on the topic, everything before it is too.
    assessed = await training.http.post(
        "/assessments",
        json={
            "beneficiary_id": str(person),
            "competence": "1.1",
            "stage": "final",
            "level": 3,
            "autonomy": "autonomous",
        },
    )
    assert assessed.status_code == 201, assessed.text

    records = await read_topic(
        training.bootstrap,
        TRAINING_EVENTS,
        until=lambda rs: bool(of_type(rs, "dn.training.skill_assessed.v1", str(person))),
    )
    trained = of_type(records, TRAINED, str(person))
    assert len(trained) == 1
    attended = of_type(records, "dn.training.attendance_recorded.v1", str(person))
    assert len(attended) == 4
    progress = (await training.http.get(f"/beneficiaries/{person}/progress")).json()
    assert progress["trained"] is True
    assert (progress["sessions_present"], progress["minutes_present"]) == (4, 720)
    assert progress["assessments"] == [
        {"competence": "1.1", "initial": None, "final": progress["assessments"][0]["final"]}
    ]


async def test_attendance_for_an_unknown_person_is_refused_over_http(
    training: TrainingService,
) -> None:
    [training_session] = await training.schedule()
    stranger = uuid4()
    response = await training.attend(training_session["id"], stranger)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "beneficiaryId"
    assert str(stranger) in error["message"]


async def test_partner_attendance_is_applied_once_and_refusals_are_dead_lettered(
    training: TrainingService,
) -> None:
    person = await training.enrol()
    [training_session] = await training.schedule()
    session_id = training_session["id"]
    report = AttendanceReportedV1(
        session_id=session_id, beneficiary_id=person, status=AttendanceStatus.PRESENT
    )
    await training.send(INTAKE_TRAINING, report, source="partner/asso-saige")
    await training.send(INTAKE_TRAINING, report, source="partner/asso-saige")  # a resend
    conflicting = AttendanceReportedV1(
        session_id=session_id, beneficiary_id=person, status=AttendanceStatus.EXCUSED_ABSENCE
    )
    conflict_id = await training.send(INTAKE_TRAINING, conflicting, source="partner/asso-saige")
    stranger = AttendanceReportedV1(
        session_id=session_id, beneficiary_id=uuid4(), status=AttendanceStatus.PRESENT
    )
    stranger_id = await training.send(INTAKE_TRAINING, stranger, source="partner/asso-saige")
    no_session = AttendanceReportedV1(
        session_id="no-such-session", beneficiary_id=person, status=AttendanceStatus.PRESENT
    )
    no_session_id = await training.send(INTAKE_TRAINING, no_session, source="partner/asso-saige")

    wanted = {conflict_id, stranger_id, no_session_id}
    dead = await read_topic(
        training.bootstrap,
        DEAD_LETTER,
        until=lambda rs: wanted <= {header(r, "ce_id") for r in rs},
        timeout_s=60,
    )
    reasons = {
        header(r, "ce_id"): header(r, "dn_error") for r in dead if header(r, "ce_id") in wanted
    }
    assert reasons == {
        conflict_id: "conflicting_attendance",
        stranger_id: "unknown_beneficiary",
        no_session_id: "unknown_session",
    }
    roll = (await training.http.get(f"/sessions/{session_id}")).json()["roll_call"]
    assert [(a["beneficiary_id"], a["status"], a["minutes"]) for a in roll] == [
        (str(person), "present", 180)
    ]


async def test_erasure_leaves_counts_but_nothing_linked_to_the_person(
    training: TrainingService,
) -> None:
    person = await training.enrol()
    [training_session] = await training.schedule()
    session_id = training_session["id"]
    assert (await training.attend(session_id, person)).status_code == 201

    erased = BeneficiaryErasedV1(
        beneficiary_id=person, erased_at=datetime.now(UTC), reason="request_of_person"
    )
    await training.send(REGISTRATION_EVENTS, erased)

    async def linked() -> int:
        return int(await training.db["attendance"].count_documents({"beneficiary_id": str(person)}))

    await eventually(linked, lambda n: n == 0, timeout_s=30, what="attendance re-keyed")
    roll = (await training.http.get(f"/sessions/{session_id}")).json()["roll_call"]
    assert len(roll) == 1, "the attendance still counts"
    assert roll[0]["beneficiary_id"].startswith("erased-")
    export = (await training.http.get(f"/beneficiaries/{person}/export")).json()
    assert (export["service"], export["records"]) == ("training", [])
    # Who recorded or read what stays accountable after erasure: ids and kinds, no content.
    logged = {(e["action"], e["record"]) for e in export["access_log"]}
    assert {("record", "attendance"), ("export", "all_records")} <= logged
    assert all({"status", "minutes"}.isdisjoint(entry) for entry in export["access_log"])
    assert (await training.attend(session_id, person)).status_code == 422
    everything = await training.db["beneficiaries"].find_one({"_id": str(person)})
    assert everything == {"_id": str(person), "status": "erased"}


async def test_export_holds_the_person_attendance_and_assessments(
    training: TrainingService,
) -> None:
    person = await training.enrol()
    [training_session] = await training.schedule()
    await training.attend(training_session["id"], person, "excused_absence")
    export = (await training.http.get(f"/beneficiaries/{person}/export")).json()
    assert export["service"] == "training"
    kinds = [record["kind"] for record in export["records"]]
    assert kinds == ["beneficiary", "attendance"]
    all_events = await read_all(training.bootstrap, TRAINING_EVENTS)
    assert not of_type(all_events, TRAINED, str(person))


async def test_a_merge_moves_attendance_to_the_kept_person_who_may_become_trained(
    training: TrainingService,
) -> None:
    kept, duplicate = await training.enrol(), await training.enrol()
    sessions = [s["id"] for s in await training.schedule(weeks=4)]
    for session_id in sessions[:2]:
        assert (await training.attend(session_id, kept)).status_code == 201
    for session_id in sessions[1:]:
        assert (await training.attend(session_id, duplicate)).status_code == 201

    merge = BeneficiariesMergedV1(
        beneficiary_id=kept, merged_id=duplicate, merged_at=datetime.now(UTC)
    )
    await training.send(REGISTRATION_EVENTS, merge)

    async def kept_progress() -> dict[str, Any]:
        response = await training.http.get(f"/beneficiaries/{kept}/progress")
        progress: dict[str, Any] = response.json()
        return progress

    progress = await eventually(kept_progress, lambda p: p["trained"], what="merge applied")
    assert (progress["sessions_present"], progress["minutes_present"]) == (4, 720)
    assert await training.db["attendance"].count_documents({"beneficiary_id": str(duplicate)}) == 0
    refused = await training.attend(sessions[0], duplicate)
    assert refused.status_code == 422
    assert str(kept) in refused.text
    records = await read_topic(
        training.bootstrap, TRAINING_EVENTS, until=lambda rs: bool(of_type(rs, TRAINED, str(kept)))
    )
    assert len(of_type(records, TRAINED, str(kept))) == 1


async def test_an_association_token_acts_only_for_its_own_association(
    training: TrainingService, settings: Settings
) -> None:
    [training_session] = await training.schedule()
    other = issue_token(
        settings, Role.ASSOCIATION, association_id="asso-other", audience="training"
    )
    own = issue_token(settings, Role.ASSOCIATION, association_id=ASSOCIATION, audience="training")
    as_other = {"authorization": f"Bearer {other}"}
    as_own = {"authorization": f"Bearer {own}"}

    path = f"/sessions/{training_session['id']}"
    assert (await training.http.get(path, headers=as_other)).status_code == 404
    assert (await training.http.get(path, headers=as_own)).status_code == 200
    listed = (await training.http.get("/sessions", headers=as_other)).json()
    assert all(s["association_id"] == "asso-other" for s in listed)
    plan = {
        "association_id": ASSOCIATION,
        "district_id": "qpv-saige",
        "module_id": "mod-securite",
        "kind": "individual",
        "starts_at": "2026-04-01T10:00:00+02:00",
        "duration_minutes": 60,
    }
    assert (await training.http.post("/sessions", json=plan, headers=as_other)).status_code == 403
    created = await training.http.post("/sessions", json=plan, headers=as_own)
    assert created.status_code == 201, created.text
    assert created.json()["capacity"] == 1
    modules = (await training.http.get("/modules", headers=as_other)).json()
    assert len(modules) >= 12


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_shuffled_and_repeated_partner_attendance_makes_exactly_one_trained_event(
    training: TrainingService, seed: int
) -> None:
    """The completion rule over the real broker: six sessions, four attended, reported by a
    partner in a random order with random resends; trained is emitted once, with the
    from-scratch totals."""
    person = await training.enrol()
    sessions = await training.schedule(weeks=6)
    statuses = [AttendanceStatus.PRESENT] * 4 + [AttendanceStatus.EXCUSED_ABSENCE] * 2
    reports = [
        AttendanceReportedV1(session_id=s["id"], beneficiary_id=person, status=status, minutes=None)
        for s, status in zip(sessions, statuses, strict=True)
    ]
    rng = Random(seed)
    deliveries = reports + [rng.choice(reports) for _ in range(4)]
    rng.shuffle(deliveries)
    source = f"partner/roll-call-{seed}"
    for report in deliveries:
        await training.send(INTAKE_TRAINING, report, source=source)

    records = await read_topic(
        training.bootstrap,
        TRAINING_EVENTS,
        until=lambda rs: bool(of_type(rs, TRAINED, str(person))),
    )
    await asyncio.sleep(1.0)  # any second trained event would be published by now
    trained = of_type(await read_all(training.bootstrap, TRAINING_EVENTS), TRAINED, str(person))
    assert len(trained) == 1
    body = json.loads(trained[0].value or b"{}")
    assert (body["sessions_present"], body["minutes_present"]) == (4, 4 * 180)
    assert records


async def test_partner_sessions_are_scheduled_once_and_headcounts_applied_or_dead_lettered(
    training: TrainingService,
) -> None:
    association = f"asso-intake-{uuid4().hex[:8]}"

    def report(day: int) -> SessionReportedV1:
        return SessionReportedV1(
            association_id=association,
            district_id="qpv-saige",
            module_id="mod-demarches-en-ligne",
            kind=SessionKind.COLLECTIVE,
            starts_at=datetime(2026, 4, day, 12, 0, tzinfo=UTC),
            duration_minutes=120,
            capacity=5,
        )

    def as_record(data: EventData) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        value, headers = data.to_event("partner/asso-intake").to_kafka()
        return association.encode(), value, [(k, v.encode()) for k, v in headers.items()]

    copy = as_record(report(6))
    # One key, one partition: the sentinel (another day) is applied after both copies.
    await produce(training.bootstrap, INTAKE_TRAINING, [copy, copy, as_record(report(13))])

    async def sessions() -> list[dict[str, Any]]:
        found = await training.http.get("/sessions", params={"association_id": association})
        listed: list[dict[str, Any]] = found.json()
        return listed

    scheduled = await eventually(
        sessions, lambda found: len(found) >= 2, timeout_s=60, what="partner sessions"
    )
    assert sorted(s["starts_at"][:10] for s in scheduled) == ["2026-04-06", "2026-04-13"]
    first = next(s for s in scheduled if s["starts_at"].startswith("2026-04-06"))
    assert (first["module_id"], first["capacity"]) == ("mod-demarches-en-ligne", 5)

    await training.send(
        INTAKE_TRAINING,
        AnonymousAttendanceReportedV1(session_id=first["id"], count=3),
        source="partner/asso-intake",
    )
    over_capacity = await training.send(
        INTAKE_TRAINING,
        AnonymousAttendanceReportedV1(session_id=first["id"], count=9),
        source="partner/asso-intake",
    )
    no_session = await training.send(
        INTAKE_TRAINING,
        AnonymousAttendanceReportedV1(session_id="no-such-session", count=1),
        source="partner/asso-intake",
    )
    counted = await eventually(
        lambda: training.http.get(f"/sessions/{first['id']}"),
        lambda response: response.json()["anonymous_count"] == 3,
        timeout_s=60,
        what="anonymous headcount applied",
    )
    assert counted.status_code == 200
    wanted = {over_capacity, no_session}
    dead = await read_topic(
        training.bootstrap,
        DEAD_LETTER,
        until=lambda rs: wanted <= {header(r, "ce_id") for r in rs},
        timeout_s=60,
    )
    reasons = {
        header(r, "ce_id"): header(r, "dn_error") for r in dead if header(r, "ce_id") in wanted
    }
    assert reasons == {over_capacity: "invalid_request", no_session: "unknown_session"}
    assert len(await sessions()) == 2, "the redelivered report scheduled nothing more"


async def test_a_burst_of_attendance_and_assessments_applies_together_around_a_bad_one(
    training: TrainingService,
) -> None:
    """Sent in one go, the reports reach the intake as one batch or a few (each one
    transaction, kit.intake): the refused one is dead-lettered alone, the others all apply, a
    resent one once, and trained is decided once on everything."""
    person = await training.enrol()
    sessions = await training.schedule(weeks=4)
    source = f"partner/burst-{uuid4().hex[:6]}"
    reports: list[EventData] = [
        AttendanceReportedV1(
            session_id=s["id"], beneficiary_id=person, status=AttendanceStatus.PRESENT
        )
        for s in sessions
    ]
    bad = AssessmentReportedV1(
        beneficiary_id=person,
        competence="9.9",  # no such competence
        stage=AssessmentStage.FINAL,
        level=2,
        autonomy=Autonomy.AUTONOMOUS,
    )
    good = AssessmentReportedV1(
        beneficiary_id=person,
        competence="1.1",
        stage=AssessmentStage.FINAL,
        level=2,
        autonomy=Autonomy.AUTONOMOUS,
    )
    events = [data.to_event(source) for data in [*reports[:2], bad, *reports[2:], good]]
    events.append(events[0])  # a resend in the same burst
    await produce(training.bootstrap, INTAKE_TRAINING, keyed_records(events, str(person)))

    dead = await read_topic(
        training.bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == str(events[2].id) for r in rs),
        timeout_s=60,
    )
    [refused] = [r for r in dead if header(r, "ce_id") == str(events[2].id)]
    assert header(refused, "dn_error") == "invalid_request"
    published = await read_topic(
        training.bootstrap,
        TRAINING_EVENTS,
        until=lambda rs: bool(of_type(rs, "dn.training.skill_assessed.v1", str(person))),
    )
    await asyncio.sleep(1.0)  # a second trained event would be published by now
    published = await read_all(training.bootstrap, TRAINING_EVENTS)
    assert len(of_type(published, TRAINED, str(person))) == 1
    assert len(of_type(published, "dn.training.attendance_recorded.v1", str(person))) == 4
    progress = (await training.http.get(f"/beneficiaries/{person}/progress")).json()
    assert (progress["trained"], progress["sessions_present"]) == (True, 4)
    assert [a["competence"] for a in progress["assessments"]] == ["1.1"]
    assert not [r for r in dead if header(r, "ce_id") in {str(e.id) for e in events[3:]}]


async def test_sessions_and_their_attendance_in_one_burst_apply_as_one_by_one(
    training: TrainingService,
) -> None:
    """Training schedules a batch's session reports first and together (kit.intake hands it
    the batch): the attendance between them, for those sessions too, still applies, a second
    report of a session id is refused as a duplicate and a bad plan as invalid; attendance
    after a headcount that fills its session is refused, as it would be one by one."""
    person = await training.enrol()
    [earlier] = await training.schedule(weeks=1)
    source = f"partner/sessions-{uuid4().hex[:6]}"
    new_session = str(uuid4())

    def report(
        session_id: str, module_id: str = "mod-demarches-en-ligne", day: int = 4
    ) -> SessionReportedV1:
        return SessionReportedV1(
            session_id=session_id,
            association_id=ASSOCIATION,
            district_id="qpv-saige",
            module_id=module_id,
            kind=SessionKind.COLLECTIVE,
            starts_at=datetime(2026, 5, day, 14, 0, tzinfo=UTC),
            duration_minutes=120,
            capacity=8,
        )

    def present(session_id: str) -> AttendanceReportedV1:
        return AttendanceReportedV1(
            session_id=session_id, beneficiary_id=person, status=AttendanceStatus.PRESENT
        )

    full_session = str(uuid4())
    burst: list[EventData] = [
        present(earlier["id"]),
        report(new_session),
        present(new_session),
        report(new_session),  # the same id again: a duplicate
        report(str(uuid4()), module_id="mod-no-such-module"),
        report(full_session, day=11),
        AnonymousAttendanceReportedV1(session_id=full_session, count=8),
        present(full_session),  # after the headcount: the session is full
    ]
    events = [data.to_event(source) for data in burst]
    await produce(training.bootstrap, INTAKE_TRAINING, keyed_records(events, str(person)))

    refused_ids = {str(events[3].id), str(events[4].id), str(events[7].id)}
    dead = await read_topic(
        training.bootstrap,
        DEAD_LETTER,
        until=lambda rs: refused_ids <= {header(r, "ce_id") for r in rs},
        timeout_s=60,
    )
    reasons = {header(r, "ce_id"): header(r, "dn_error") for r in dead}
    assert reasons[str(events[3].id)] == "duplicate_session"
    assert reasons[str(events[4].id)] == "invalid_request"
    assert reasons[str(events[7].id)] == "invalid_request"
    assert not {str(e.id) for e in [*events[:3], *events[5:7]]} & set(reasons)
    progress = await eventually(
        lambda: training.http.get(f"/beneficiaries/{person}/progress"),
        lambda response: response.json()["sessions_present"] == 2,
        timeout_s=60,
        what="both attendance reports applied",
    )
    assert progress.status_code == 200
    published = await read_all(training.bootstrap, TRAINING_EVENTS)
    scheduled = of_type(published, "dn.training.session_scheduled.v1", new_session)
    assert len(scheduled) == 1


async def test_erasing_a_person_drops_the_partner_requests_still_waiting_about_them(
    training: TrainingService,
) -> None:
    """An attendance waiting for its session (kit.parking) goes with the person's erasure:
    nothing about them is applied when the session arrives, and nothing is dead-lettered."""
    person = await training.enrol()
    session_id = uuid4()
    early = AttendanceReportedV1(
        session_id=str(session_id), beneficiary_id=person, status=AttendanceStatus.PRESENT
    )
    waiting_id = await training.send(INTAKE_TRAINING, early, source="partner/erasure")

    async def parked(ce_id: str) -> int:
        return int(await training.db["parked_requests"].count_documents({"_id": ce_id}))

    await eventually(lambda: parked(waiting_id), lambda n: n == 1, what="the attendance waits")
    erased = BeneficiaryErasedV1(
        beneficiary_id=person, erased_at=datetime.now(UTC), reason="request_of_person"
    )
    await training.send(REGISTRATION_EVENTS, erased)
    await eventually(lambda: parked(waiting_id), lambda n: n == 0, what="dropped with the person")

    session = SessionReportedV1.model_validate(
        {
            "session_id": session_id,
            "association_id": ASSOCIATION,
            "district_id": "qpv-saige",
            "module_id": "mod-demarches-en-ligne",
            "kind": "collective",
            "place_type": "association_premises",
            "starts_at": datetime.now(UTC).isoformat(),
            "duration_minutes": 120,
        }
    )
    await training.send(INTAKE_TRAINING, session, source="partner/erasure")
    roll = await eventually(
        lambda: training.http.get(f"/sessions/{session_id}"),
        lambda response: response.status_code == 200,
        what="the session scheduled",
    )
    assert roll.json()["roll_call"] == []
    attendance = await training.db["attendance"].count_documents({"session_id": str(session_id)})
    assert attendance == 0
