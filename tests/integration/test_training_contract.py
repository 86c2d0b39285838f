"""Training's answers keep their contract (contracts.api.training): the real service on the real
MongoDB answers the gateway's own calls (its Services over ASGI, one gateway Context), and the
gateway makes its GraphQL types from them. A field renamed or retyped on either side fails
here, not on a dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import httpx
import pytest
import strawberry

from contracts.api import Page
from contracts.api.training import (
    AttendanceByBeneficiary,
    ProgressByBeneficiary,
    RollCalls,
    SessionDetail,
    SessionView,
)
from gateway import training
from gateway.context import Context
from gateway.enums import AssessmentStage, AttendanceStatus, Autonomy, MaturityQuestion, SessionKind
from kit.service import Runtime
from kit.settings import Settings
from services.training.app import build
from services.training.commands import Rules, Training
from tests.integration.conftest import behind_the_gateway

pytestmark = pytest.mark.integration

DISTRICT = "qpv-saige"
MODULE = "mod-demarches-en-ligne"


@dataclass
class Gateway:
    """The gateway's side of the seam, and the service behind it."""

    context: Context
    http: httpx.AsyncClient  # straight to the service, as the gateway's token would reach it
    service: Training
    runtime: Runtime
    association_id: str  # each test's own: its lists hold only its sessions

    async def enrol(self) -> str:
        """A person as registration's enrolment leaves them in training (set through its use
        case: the events' way there is test_training_service's business)."""
        beneficiary_id = str(uuid4())
        await self.runtime.transact(
            lambda tx: self.service.beneficiary_enrolled(tx, beneficiary_id, self.association_id)
        )
        return beneficiary_id

    def session_input(self, starts_at: datetime) -> training.ScheduleSessionInput:
        return training.ScheduleSessionInput(
            association_id=strawberry.ID(self.association_id),
            module_id=strawberry.ID(MODULE),
            starts_at=starts_at,
            duration_minutes=120,
            kind=SessionKind.COLLECTIVE,
            capacity=12,
            district_id=strawberry.ID(DISTRICT),
        )

    def weekly(
        self, first_day: date, weeks: int, kind: SessionKind
    ) -> training.ScheduleRecurringSessionsInput:
        return training.ScheduleRecurringSessionsInput(
            association_id=strawberry.ID(self.association_id),
            module_id=strawberry.ID(MODULE),
            weekdays=[list(training.Weekday)[first_day.weekday()]],
            starts_on=first_day,
            until=first_day + timedelta(weeks=weeks - 1),
            at=time(14, 0),
            duration_minutes=90,
            kind=kind,
            district_id=strawberry.ID(DISTRICT),
        )

    def info(self) -> Any:
        """What a field resolver reads of strawberry's Info: the request's context."""
        return SimpleNamespace(context=self.context)


@pytest.fixture(scope="module")
async def seam(settings: Settings) -> AsyncIterator[Gateway]:
    app = build(settings, Rules())  # the default rules, whatever DN_TRAINING_* says
    async with behind_the_gateway(settings, "training", app) as (context, http):
        yield Gateway(context, http, app.state.training, app.state.runtime, "")


@pytest.fixture
def gateway(seam: Gateway) -> Gateway:
    return replace(seam, association_id=f"asso-contract-{uuid4().hex[:8]}")


async def test_the_catalogue_and_the_questionnaire_keep_their_contract(gateway: Gateway) -> None:
    modules = {module.id: module for module in await training.modules(gateway.context)}
    assert modules[MODULE].competences == ["1.1", "1.2", "4.2"]
    assert (modules[MODULE].level, modules[MODULE].themes) == (
        "intermediate",
        ["administrative_procedures_and_rights"],
    )

    areas = await training.competences(gateway.context)
    assert [area.id for area in areas] == ["1", "2", "3", "4", "5"]
    assert areas[0].english == "Information and data"
    assert [c.code for c in areas[0].competences][:2] == ["1.1", "1.2"]

    questionnaire = await training.maturity_questionnaire(gateway.context)
    assert {q.id for q in questionnaire.questions} == set(MaturityQuestion)
    assert [level.value for level in questionnaire.scale] == [0, 1, 2, 3]
    assert questionnaire.staff_training_points == 20


async def test_sessions_and_their_attendance_keep_their_contract_from_each_route(
    gateway: Gateway,
) -> None:
    context = gateway.context
    present, absent = await gateway.enrol(), await gateway.enrol()
    starts_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)

    single = await training.schedule_session(context, gateway.session_input(starts_at))
    assert (single.association_id, single.module_id, single.kind) == (
        gateway.association_id,
        MODULE,
        SessionKind.COLLECTIVE,
    )
    assert (single.starts_at, single.capacity, single.anonymous_count) == (starts_at, 12, 0)
    first_day = date.today() - timedelta(days=21)
    weekly = await training.schedule_recurring_sessions(
        context, gateway.weekly(first_day, 3, SessionKind.COLLECTIVE)
    )
    assert len(weekly) == 3
    assert {s.duration_minutes for s in weekly} == {90}

    record = await training.record_attendance(
        context,
        training.RecordAttendanceInput(
            session_id=single.id,
            beneficiary_id=strawberry.ID(present),
            status=AttendanceStatus.PRESENT,
        ),
    )
    assert (record.session_id, record.beneficiary_id, record.minutes) == (single.id, present, 120)
    assert (record.module_id, record.session_starts_at) == (MODULE, starts_at)
    for held in weekly:
        roll = await training.record_roll_call(
            context,
            held.id,
            [
                training.RollCallRecordInput(
                    beneficiary_id=strawberry.ID(present), status=AttendanceStatus.PRESENT
                ),
                training.RollCallRecordInput(
                    beneficiary_id=strawberry.ID(absent), status=AttendanceStatus.UNEXCUSED_ABSENCE
                ),
            ],
        )
        assert sorted((r.beneficiary_id, r.status, r.minutes) for r in roll.recorded) == sorted(
            [
                (present, AttendanceStatus.PRESENT, 90),
                (absent, AttendanceStatus.UNEXCUSED_ABSENCE, 0),
            ]
        )
        assert roll.unchanged == 0
    counted = await training.record_anonymous_attendance(context, single.id, 3)
    assert (counted.id, counted.anonymous_count) == (single.id, 3)

    listed = await training.sessions(context, gateway.association_id, None, None, 10)
    assert [s.id for s in listed] == [single.id, *(s.id for s in weekly)]
    found = await training.session(context, single.id)
    assert found is not None
    assert found.anonymous_count == 3
    shown = await found.attendance(gateway.info())
    assert [(a.id, a.beneficiary_id, a.status) for a in shown] == [
        (record.id, present, AttendanceStatus.PRESENT)
    ]
    assert await training.session(context, "no-such-session") is None

    # The page and the batches: each answer as the service gives it, then as the gateway reads it.
    mine = {"association_id": gateway.association_id, "first": "2"}
    page = Page[SessionView].model_validate(
        (await gateway.http.get("/sessions/page", params=mine)).json()
    )
    assert (page.total, page.has_next, len(page.edges)) == (4, True, 2)
    where = training.SessionFilter(association_id=strawberry.ID(gateway.association_id))
    first = await training.sessions_page(context, where, 2, None)
    rest = await training.sessions_page(context, where, 2, first.page_info.end_cursor)
    assert [edge.node.id for edge in first.edges + rest.edges] == [s.id for s in listed]
    assert first.total_count == 4

    asked = {"session_ids": [weekly[0].id, "no-such-session"]}
    rolls = RollCalls.model_validate(
        (await gateway.http.post("/sessions/roll-calls", json=asked)).json()
    )
    assert set(rolls.roll_calls) == {weekly[0].id}
    roll_call = await context.loaders.roll_call.load(weekly[0].id)
    loaded = [training.Attendance.of(a) for a in roll_call]
    assert sorted((a.beneficiary_id, a.status) for a in loaded) == sorted(
        [(present, AttendanceStatus.PRESENT), (absent, AttendanceStatus.UNEXCUSED_ABSENCE)]
    )

    stranger = str(uuid4())
    people = {"beneficiary_ids": [present, stranger]}
    history = await gateway.http.post("/beneficiaries/attendance", json=people)
    batch = AttendanceByBeneficiary.model_validate(history.json())
    assert (len(batch.attendance[present]), batch.attendance.get(stranger, [])) == (4, [])
    attended = [training.Attendance.of(a) for a in await context.loaders.attendance.load(present)]
    assert attended[0].session_starts_at == starts_at
    assert {a.status for a in attended} == {AttendanceStatus.PRESENT}
    assert len(attended) == 4

    detail = await gateway.http.get(f"/sessions/{single.id}")
    assert SessionDetail.model_validate(detail.json()).roll_call[0].id == record.id


async def test_progress_and_people_at_risk_keep_their_contract(gateway: Gateway) -> None:
    context = gateway.context
    person = await gateway.enrol()
    first_day = date.today() - timedelta(days=28)
    weekly = await training.schedule_recurring_sessions(
        context, gateway.weekly(first_day, 3, SessionKind.INDIVIDUAL)
    )
    for held in weekly:  # three unexcused absences in a row: at risk
        await training.record_attendance(
            context,
            training.RecordAttendanceInput(
                session_id=held.id,
                beneficiary_id=strawberry.ID(person),
                status=AttendanceStatus.UNEXCUSED_ABSENCE,
            ),
        )
    assessed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    assessment = await training.record_assessment(
        context,
        training.RecordAssessmentInput(
            beneficiary_id=strawberry.ID(person),
            competence="1.1",
            stage=AssessmentStage.INITIAL,
            level=2,
            autonomy=Autonomy.ASSISTED,
            assessed_at=assessed_at,
        ),
    )
    assert (assessment.beneficiary_id, assessment.stage, assessment.autonomy) == (
        person,
        AssessmentStage.INITIAL,
        Autonomy.ASSISTED,
    )
    assert assessment.assessed_at == assessed_at

    progress = await training.beneficiary_progress(context, person)
    assert progress is not None
    assert (progress.association_id, progress.status) == (gateway.association_id, "active")
    assert (progress.sessions_present, progress.unexcused_absences) == (0, 3)
    assert (progress.trained, progress.trained_at, progress.at_risk) == (False, None, True)
    assert (progress.rule.min_sessions, progress.rule.min_minutes) == (4, 720)
    [competence] = progress.assessments
    assert (competence.competence, competence.final) == ("1.1", None)
    assert competence.initial is not None
    assert (competence.initial.level, competence.initial.assessed_at) == (2, assessed_at)
    assert await training.beneficiary_progress(context, str(uuid4())) is None

    batch = await gateway.http.post("/beneficiaries/progress", json={"beneficiary_ids": [person]})
    assert ProgressByBeneficiary.model_validate(batch.json()).progress[person].at_risk
    loaded = await context.loaders.progress.load(person)
    assert loaded is not None
    assert training.Progress.of(loaded) == progress

    at_risk = await training.beneficiaries_at_risk(context, gateway.association_id)
    [followed] = [p for p in at_risk if p.beneficiary_id == person]
    assert (followed.association_id, followed.sessions_missed) == (gateway.association_id, 3)
    assert followed.last_session_at == weekly[-1].starts_at
    assert followed.last_present_at is None


async def test_an_association_maturity_keeps_its_contract(gateway: Gateway) -> None:
    context = gateway.context
    answers = [
        training.MaturityAnswerInput(question=question, answer=1) for question in MaturityQuestion
    ]
    baseline_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)
    first = await training.assess_association_maturity(
        context, gateway.association_id, answers, baseline_at
    )
    assert first.baseline is not None
    assert (first.baseline.assessed_at, first.baseline.score_only) == (baseline_at, False)
    assert len(first.baseline.answers) == len(MaturityQuestion)
    assert first.baseline.questionnaire_points == pytest.approx(80 / 3)
    assert (first.gain, first.upskilled, first.upskilled_points) == (0, False, 20)

    better = [training.MaturityAnswerInput(question=q, answer=3) for q in MaturityQuestion]
    await training.assess_association_maturity(context, gateway.association_id, better, None)
    maturity = await training.association_maturity(context, gateway.association_id)
    assert (maturity.association_id, len(maturity.history)) == (gateway.association_id, 2)
    assert maturity.latest is not None
    assert maturity.latest.questionnaire_points == 80
    assert (maturity.gain, maturity.upskilled) == (53, True)
    assert maturity.upskilled_at == maturity.latest.assessed_at
