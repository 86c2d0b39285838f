"""Training's HTTP API, called by the gateway with the caller's bearer token.

Roles: ``coordinator`` acts for every association; an ``association`` token acts only for its
own (another association's session or beneficiary reads as not found, writes are 403). Bodies
and results use snake_case JSON; refusals come back as ``{"error", "errors": [{field,
message}]}`` with 422 (invalid), 409 (conflict, plus ``existing_id``), 404 or 403. What the
routes the gateway reads answer is declared once, in ``contracts.api.training``.

=====  ====================================  =====================================================
GET    /modules                              the modules: id, title (French), competences (Pix
                                             codes), level, themes — any role
GET    /competences                          the Pix framework: 5 areas, 16 competences, levels
                                             1-8, DigComp 2.2 alignment — any role
POST   /sessions                             schedule one session: association_id, district_id,
                                             module_id, kind (individual|collective|staff),
                                             place_type, starts_at (RFC 3339 with offset),
                                             duration_minutes (15-600), capacity (≥1 or null) → 201
POST   /schedules                            a weekly recurring schedule → 201 {"sessions": [...]}:
                                             the session fields without starts_at, plus weekdays
                                             (["monday", …]), from, until (dates, inclusive), at
                                             (local time "14:00"), timezone (Europe/Paris); at
                                             most 200 sessions, all or none
GET    /sessions                             ?association_id=&from=&to=&limit= (start time window)
GET    /sessions/page                        ?association_id=&district_id=&module_id=&from=&to=
                                             &after=&first= one page in start order (kit.paging):
                                             {"total", "has_next", "edges": [{position, node}]}
POST   /sessions/roll-calls                  {"session_ids": [...]} → {"roll_calls": {id: [...]}}
                                             (sessions not found or not yours are left out)
GET    /sessions/{id}                        the session with its roll-call and anonymous count
POST   /sessions/{id}/attendance             one record: beneficiary_id, status (present|
                                             excused_absence|unexcused_absence), minutes (default:
                                             the duration when present, 0 when absent) → 201 new,
                                             200 when the same record exists, 409 when a different
                                             one does, 422 when training does not know the person
POST   /sessions/{id}/roll-call              {"records": [...], "correct": false} many
                                             records, all or none → 200 {"recorded": [...],
                                             "unchanged": n}; with "correct": true a line that
                                             differs from the recorded one replaces it (same
                                             attendance id; else 409)
POST   /sessions/{id}/anonymous-attendance   {"count": n}: headcount of people not enrolled
POST   /assessments                          beneficiary_id, competence ("1.1"), stage
                                             (initial|final), level (0-8), autonomy (assisted|
                                             partly_autonomous|autonomous), assessed_at (optional)
GET    /beneficiaries/at-risk                ?association_id= people whose latest sessions are
                                             unexcused absences in a row (≥ the at-risk streak):
                                             beneficiary_id, sessions_missed, last_session_at,
                                             last_present_at; staff see their association's
GET    /beneficiaries/{id}/progress          attendance totals, trained, assessments per
                                             competence (initial and final)
POST   /beneficiaries/progress               {"beneficiary_ids": [...]} → {"progress": {id: ...}}
POST   /beneficiaries/attendance             {"beneficiary_ids": [...]} → {"attendance": {id:
                                             [...]}}, each person's records in session order
                                             (people unknown or not yours are left out)
GET    /maturity/questionnaire               the maturity self-assessment: questions (id, weight,
                                             Pix area, French and English text), the answer scale
                                             (0-3), staff-training points and the rule — any role
POST   /associations/{id}/maturity           a self-assessment: answers ({question: 0-3} for every
                                             question), assessed_at (optional, not in the
                                             future), assessment_id (optional) — coordinators, or
                                             the association's own staff → 201 the maturity
                                             report (below), 200 when that id is recorded with
                                             the same answers, 409 with others
GET    /associations/{id}/maturity           contracts.api.training.MaturityReport: baseline,
                                             latest, gain, history (answers, staff training counted,
                                             points, score), staff person-minutes to date,
                                             upskilled, upskilled_at, the rule
GET    /beneficiaries/{id}/export            everything training holds about the person
                                             (coordinators): {"service": "training", "records"}
POST   /intake/scope                         contracts.scope: {"references": [{kind, id}]} →
                                             {"owners": [{kind, id, association_id}]}, the
                                             association of each named session or person
                                             training knows (the gateway's check of partner
                                             requests; service tokens and coordinators)
POST   /imports/attendance                   spreadsheet rows (``dn import attendance``):
                                             {"rows": [{row, values}], "dry_run"} → {"results":
                                             [{row, status: created|valid|duplicate|invalid,
                                             id?, errors: [{row, column, problem, accepted}]}]};
                                             each row through the attendance use case
=====  ====================================  =====================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.api import Page
from contracts.api.training import (
    AreaView,
    AssessmentView,
    AtRiskView,
    AttendanceByBeneficiary,
    AttendanceView,
    FrameworkView,
    MaturityReport,
    ModuleView,
    ProgressByBeneficiary,
    ProgressView,
    QuestionnaireReport,
    QuestionReport,
    RollCallRecorded,
    RollCalls,
    ScheduledSessions,
    SessionDetail,
    SessionView,
)
from contracts.errors import Conflict, FieldError, InvalidInput, NotFound
from contracts.maturity import QUESTIONNAIRE, SCALE, STAFF_TRAINING_POINTS
from contracts.scope import ScopeAnswer, ScopeQuestion
from contracts.training import AssessmentStage, AttendanceStatus, Autonomy, SessionKind
from kit.audit import Action, Audit, RecordKind
from kit.audit import as_json as audit_as_json
from kit.auth import Principal, Role
from kit.mongo import Session
from kit.paging import parse_position
from kit.service import audit_of, caller
from kit.spreadsheet import SheetImportIn, SheetRow, rehearse, row_result
from services.training import domain, importer, maturity
from services.training.commands import Training, now
from services.training.domain import Assessment, Attendance, AttendanceMark
from services.training.domain import Session as TrainingSession
from services.training.maturity import SelfAssessment

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
Audited = Annotated[Audit, Depends(audit_of)]  # each read or change of a person's records
ID = Field(min_length=1, max_length=100)
STAFF_ROLES = (Role.COORDINATOR, Role.ASSOCIATION)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionFields(Strict):
    association_id: str = ID
    district_id: str = ID
    module_id: str = ID
    kind: SessionKind
    place_type: str = Field(default="association_premises", min_length=1, max_length=100)
    duration_minutes: int
    capacity: int | None = None

    def plan(self, starts_at: datetime) -> domain.SessionPlan:
        fields = self.model_dump(include=set(SessionFields.model_fields))
        return domain.SessionPlan(starts_at=starts_at, **fields)


class SessionIn(SessionFields):
    starts_at: datetime


class ScheduleIn(SessionFields):
    weekdays: list[str] = Field(min_length=1, max_length=7)
    starts_on: date = Field(alias="from")
    until: date
    at: time
    timezone: str = Field(default=domain.DEFAULT_TIMEZONE, max_length=64)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def recurrence(self) -> domain.Recurrence:
        return domain.Recurrence(
            weekdays=tuple(domain.weekday_number(day) for day in self.weekdays),
            first_day=self.starts_on,
            last_day=self.until,
            at=self.at,
            timezone=self.timezone,
        )


class AttendanceIn(Strict):
    beneficiary_id: UUID
    status: AttendanceStatus
    minutes: int | None = Field(default=None, ge=0, le=domain.MAX_DURATION)

    def mark(self) -> AttendanceMark:
        return AttendanceMark(self.beneficiary_id, self.status, self.minutes)


class RollCallIn(Strict):
    records: list[AttendanceIn] = Field(min_length=1, max_length=500)
    # A line that differs from the recorded one replaces it (else it is a conflict).
    correct: bool = False


class HeadcountIn(Strict):
    count: int = Field(ge=0, le=domain.MAX_ANONYMOUS_COUNT)


class AssessmentIn(Strict):
    beneficiary_id: UUID
    competence: str = Field(max_length=10)
    stage: AssessmentStage
    level: int
    autonomy: Autonomy
    assessed_at: datetime | None = None


class MaturityIn(Strict):
    answers: dict[str, int]
    assessed_at: datetime | None = None
    assessment_id: UUID | None = None
    score: int | None = Field(
        default=None, description="no longer accepted: the score comes from the answers"
    )

    def self_assessment(self) -> SelfAssessment:
        if self.score is not None:
            raise InvalidInput(
                FieldError(
                    "score",
                    "the maturity score is no longer typed: it is computed from the "
                    "self-assessment's answers (GET /maturity/questionnaire); send answers",
                )
            )
        at = now()
        return SelfAssessment(
            id=str(self.assessment_id or uuid4()),
            assessed_at=self.assessed_at or at,
            recorded_at=at,
            answers=maturity.check_answers(self.answers),
        )


def training_of(request: Request) -> Training:
    training: Training = request.app.state.training
    return training


Service = Annotated[Training, Depends(training_of)]


# -- views: the domain's records as contracts.api.training answers them --------------------


def session_view(training_session: TrainingSession) -> SessionView:
    return SessionView.model_validate(training_session, from_attributes=True)


def attendance_view(attendance: Attendance) -> AttendanceView:
    return AttendanceView.model_validate(attendance, from_attributes=True)


def assessment_view(assessment: Assessment) -> AssessmentView:
    return AssessmentView.model_validate(assessment, from_attributes=True)


# -- access -------------------------------------------------------------------------------


async def _visible_session(service: Training, session_id: str, who: Principal) -> TrainingSession:
    """The session if this caller may see it; another association's session is 'not found'."""
    who.require(*STAFF_ROLES)
    found = await service.session(session_id)
    if who.role is Role.ASSOCIATION and found.association_id != who.association_id:
        raise NotFound(f"no session {session_id}")
    return found


async def _visible_beneficiary(service: Training, beneficiary_id: str, who: Principal) -> None:
    who.require(*STAFF_ROLES)
    if who.role is Role.ASSOCIATION:
        person = await service.person(beneficiary_id)
        if person is None or person.association_id != who.association_id:
            raise NotFound(f"training knows no beneficiary {beneficiary_id}")


def _people(groups: Iterable[Iterable[Attendance]]) -> list[str]:
    """The people named in attendance records (for the access log)."""
    return [attendance.beneficiary_id for group in groups for attendance in group]


# -- reference ----------------------------------------------------------------------------


@router.get("/modules")
async def list_modules(who: Caller, service: Service) -> list[ModuleView]:
    return [
        ModuleView.model_validate(module, from_attributes=True)
        for module in service.catalogue.modules.values()
    ]


@router.get("/competences")
async def framework(who: Caller, service: Service) -> FrameworkView:
    return FrameworkView(
        framework="Pix (CRCN), aligned with DigComp 2.2",
        levels=list(service.catalogue.levels),
        areas=[
            AreaView.model_validate(area, from_attributes=True) for area in service.catalogue.areas
        ],
    )


# -- sessions -----------------------------------------------------------------------------


@router.post("/sessions", status_code=201)
async def schedule_session(body: SessionIn, who: Caller, service: Service) -> SessionView:
    who.require(*STAFF_ROLES)
    who.require_association(body.association_id)
    return session_view(await service.schedule(body.plan(body.starts_at)))


@router.post("/schedules", status_code=201)
async def schedule_recurring(body: ScheduleIn, who: Caller, service: Service) -> ScheduledSessions:
    who.require(*STAFF_ROLES)
    who.require_association(body.association_id)
    # Each occurrence gets its own start; the plan's is a placeholder.
    plan = body.plan(datetime.combine(body.starts_on, body.at, tzinfo=UTC))
    sessions = await service.schedule_recurring(plan, body.recurrence())
    return ScheduledSessions(sessions=[session_view(s) for s in sessions])


@router.get("/sessions")
async def list_sessions(
    who: Caller,
    service: Service,
    association_id: str | None = None,
    starts_from: Annotated[datetime | None, Query(alias="from")] = None,
    starts_to: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SessionView]:
    who.require(*STAFF_ROLES)
    if who.role is Role.ASSOCIATION:
        association_id = who.association_id
    for name, value in (("from", starts_from), ("to", starts_to)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(FieldError(name, "must carry a timezone, e.g. 2026-03-01T00:00Z"))
    sessions = await service.store.list_sessions(association_id, starts_from, starts_to, limit)
    return [session_view(s) for s in sessions]


@router.get("/sessions/page")
async def page_sessions(
    who: Caller,
    service: Service,
    association_id: str | None = None,
    district_id: str | None = None,
    module_id: str | None = None,
    starts_from: Annotated[datetime | None, Query(alias="from")] = None,
    starts_to: Annotated[datetime | None, Query(alias="to")] = None,
    after: str | None = None,
    first: int = 50,
) -> Page[SessionView]:
    who.require(*STAFF_ROLES)
    if who.role is Role.ASSOCIATION:
        association_id = who.association_id
    for name, value in (("from", starts_from), ("to", starts_to)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(FieldError(name, "must carry a timezone, e.g. 2026-03-01T00:00Z"))
    filters = {
        "association_id": association_id,
        "district_id": district_id,
        "module_id": module_id,
    }
    page, sessions = await service.store.session_page(
        filters, starts_from, starts_to, parse_position(after), first
    )
    return page.answer([session_view(found) for found in sessions])


class SessionBatchIn(Strict):
    session_ids: list[Annotated[str, ID]] = Field(max_length=500)


class BeneficiaryBatchIn(Strict):
    beneficiary_ids: list[Annotated[str, ID]] = Field(max_length=500)


@router.post("/sessions/roll-calls")
async def roll_calls(
    body: SessionBatchIn, who: Caller, service: Service, audit: Audited
) -> RollCalls:
    who.require(*STAFF_ROLES)
    found = await service.store.sessions_among(list(dict.fromkeys(body.session_ids)))
    visible = [
        session_id
        for session_id, found_session in found.items()
        if who.role is Role.COORDINATOR or found_session.association_id == who.association_id
    ]
    rolls = await service.store.roll_calls_of(visible)
    await audit(Action.READ, RecordKind.ATTENDANCE, _people(rolls.values()))
    return RollCalls(
        roll_calls={
            session_id: [attendance_view(a) for a in records]
            for session_id, records in rolls.items()
        }
    )


async def _visible_people(
    service: Training, beneficiary_ids: list[str], who: Principal
) -> list[str]:
    """The ids this caller may read: all for coordinators, their association's for staff."""
    who.require(*STAFF_ROLES)
    wanted = list(dict.fromkeys(beneficiary_ids))
    if who.role is Role.COORDINATOR:
        return wanted
    people = await service.store.people(wanted)
    return [
        person_id
        for person_id, person in people.items()
        if person.association_id == who.association_id
    ]


@router.post("/beneficiaries/progress")
async def progress_batch(
    body: BeneficiaryBatchIn, who: Caller, service: Service, audit: Audited
) -> ProgressByBeneficiary:
    visible = await _visible_people(service, body.beneficiary_ids, who)
    progress = await service.progress_of_many(visible)
    await audit(Action.READ, RecordKind.PROGRESS, progress)
    return ProgressByBeneficiary(progress=progress)


@router.get("/beneficiaries/at-risk")
async def beneficiaries_at_risk(
    who: Caller, service: Service, audit: Audited, association_id: str | None = None
) -> list[AtRiskView]:
    """People to follow up: their latest sessions are unexcused absences in a row (at least
    the at-risk streak); association staff see their own association's."""
    who.require(*STAFF_ROLES)
    if who.role is Role.ASSOCIATION:
        association_id = who.association_id
    at_risk = await service.at_risk_now(association_id)
    await audit(Action.LIST, RecordKind.PROGRESS, [person.beneficiary_id for person in at_risk])
    return at_risk


@router.post("/beneficiaries/attendance")
async def attendance_batch(
    body: BeneficiaryBatchIn, who: Caller, service: Service, audit: Audited
) -> AttendanceByBeneficiary:
    visible = await _visible_people(service, body.beneficiary_ids, who)
    records = await service.store.attendance_of_many(visible)
    await audit(Action.READ, RecordKind.ATTENDANCE, [i for i, rows in records.items() if rows])
    return AttendanceByBeneficiary(
        attendance={
            person_id: [attendance_view(a) for a in rows] for person_id, rows in records.items()
        }
    )


@router.get("/sessions/{session_id}")
async def get_session(
    session_id: str, who: Caller, service: Service, audit: Audited
) -> SessionDetail:
    found = await _visible_session(service, session_id, who)
    roll = await service.store.roll_call_of(session_id)
    await audit(Action.READ, RecordKind.ATTENDANCE, _people([roll.values()]))
    return SessionDetail(
        **asdict(found),
        roll_call=[attendance_view(a) for a in sorted(roll.values(), key=lambda a: a.id)],
    )


@router.post("/sessions/{session_id}/attendance")
async def record_attendance(
    session_id: str,
    body: AttendanceIn,
    who: Caller,
    service: Service,
    response: Response,
    audit: Audited,
) -> AttendanceView:
    await _visible_session(service, session_id, who)
    attendance, created = await service.record_attendance(session_id, body.mark())
    action = Action.RECORD if created else Action.READ
    await audit(action, RecordKind.ATTENDANCE, [attendance.beneficiary_id])
    response.status_code = 201 if created else 200
    return attendance_view(attendance)


@router.post("/sessions/{session_id}/roll-call")
async def record_roll_call(
    session_id: str, body: RollCallIn, who: Caller, service: Service, audit: Audited
) -> RollCallRecorded:
    await _visible_session(service, session_id, who)
    added = await service.roll_call(
        session_id, [record.mark() for record in body.records], correcting=body.correct
    )
    await audit(Action.RECORD, RecordKind.ATTENDANCE, _people([added]))
    return RollCallRecorded(
        recorded=[attendance_view(a) for a in added], unchanged=len(body.records) - len(added)
    )


@router.post("/sessions/{session_id}/anonymous-attendance")
async def record_anonymous_attendance(
    session_id: str, body: HeadcountIn, who: Caller, service: Service
) -> SessionView:
    await _visible_session(service, session_id, who)
    return session_view(await service.record_anonymous_attendance(session_id, body.count))


# -- assessments and progress -------------------------------------------------------------


@router.post("/assessments")
async def record_assessment(
    body: AssessmentIn, who: Caller, service: Service, response: Response, audit: Audited
) -> AssessmentView:
    await _visible_beneficiary(service, str(body.beneficiary_id), who)
    assessment, created = await service.assess(
        Assessment(
            beneficiary_id=str(body.beneficiary_id),
            competence=body.competence,
            stage=body.stage,
            level=body.level,
            autonomy=body.autonomy,
            assessed_at=body.assessed_at or now(),
        )
    )
    action = Action.RECORD if created else Action.READ
    await audit(action, RecordKind.ASSESSMENT, [assessment.beneficiary_id])
    response.status_code = 201 if created else 200
    return assessment_view(assessment)


@router.get("/beneficiaries/{beneficiary_id}/progress")
async def beneficiary_progress(
    beneficiary_id: str, who: Caller, service: Service, audit: Audited
) -> ProgressView:
    await _visible_beneficiary(service, beneficiary_id, who)
    progress = await service.progress(beneficiary_id)
    await audit(Action.READ, RecordKind.PROGRESS, [beneficiary_id])
    return progress


@router.get("/beneficiaries/{beneficiary_id}/export")
async def export_beneficiary(
    beneficiary_id: str, who: Caller, service: Service, audit: Audited
) -> dict[str, Any]:
    """Everything training holds about the person (right of access), with who read or changed
    it here."""
    who.require(Role.COORDINATOR)
    await audit(Action.EXPORT, RecordKind.ALL_RECORDS, [beneficiary_id])
    records: list[dict[str, Any]] = []
    person = await service.person(beneficiary_id)
    if person is not None and person.status is not domain.BeneficiaryStatus.ERASED:
        records.append(
            {
                "kind": "beneficiary",
                "beneficiary_id": person.id,
                "association_id": person.association_id,
                "status": person.status.value,
                "trained_at": person.trained_at.isoformat() if person.trained_at else None,
                "at_risk_sessions": sorted(person.at_risk_sessions),
            }
        )
        records.extend(
            {"kind": "attendance", **attendance_view(a).model_dump(mode="json")}
            for a in await service.store.attendance_of(beneficiary_id)
        )
        records.extend(
            {"kind": "assessment", **assessment_view(a).model_dump(mode="json")}
            for a in await service.store.assessments_of(beneficiary_id)
        )
    return {
        "service": "training",
        "records": records,
        "access_log": audit_as_json(await audit.log.entries(beneficiary_id, None)),
    }


# -- associations -------------------------------------------------------------------------


@router.get("/maturity/questionnaire")
async def maturity_questionnaire(who: Caller, service: Service) -> QuestionnaireReport:
    return QuestionnaireReport(
        questions=[QuestionReport(**asdict(question)) for question in QUESTIONNAIRE],
        scale=list(SCALE),
        staff_training_points=STAFF_TRAINING_POINTS,
        rule=service.rules.maturity,
    )


@router.post("/associations/{association_id}/maturity")
async def assess_maturity(
    association_id: str, body: MaturityIn, who: Caller, service: Service, response: Response
) -> MaturityReport:
    who.require(*STAFF_ROLES)
    who.require_association(association_id)
    report, created = await service.assess_maturity(association_id, body.self_assessment())
    response.status_code = 201 if created else 200
    return report


@router.get("/associations/{association_id}/maturity")
async def association_maturity(
    association_id: str, who: Caller, service: Service
) -> MaturityReport:
    who.require(*STAFF_ROLES)
    who.require_association(association_id)
    return await service.maturity_report(association_id)


# -- partner intake ------------------------------------------------------------------------


@router.post("/intake/scope")
async def intake_scope(body: ScopeQuestion, who: Caller, service: Service) -> ScopeAnswer:
    """Which association each named session and person belongs to: the gateway asks before it
    accepts a partner's request over HTTP (ids only; unknown ones are left out)."""
    who.require(Role.SERVICE, Role.COORDINATOR)
    return ScopeAnswer.of(body, await service.store.owners_of(body))


# -- spreadsheet import -------------------------------------------------------------------


@router.post("/imports/attendance")
async def import_attendance(
    body: SheetImportIn, who: Caller, service: Service, audit: Audited
) -> dict[str, Any]:
    """Record spreadsheet rows one by one, each as ``POST /sessions/{id}/attendance`` would.

    An identical record already there comes back as a duplicate with its id: sending the same
    file twice records nothing twice. A dry run goes through the same steps in one transaction
    that is rolled back.
    """
    who.require(*STAFF_ROLES)
    rows = [sent.sheet_row() for sent in body.rows]
    if not body.dry_run:
        return {"results": [await _import_attendance(row, who, service, audit) for row in rows]}

    async def rehearsal(session: Session) -> list[dict[str, Any]]:
        within = Training(
            service.store, lambda work: work(session), service.catalogue, service.rules
        )
        made: dict[str, int] = {}
        return [await _import_attendance(row, who, within, None, made) for row in rows]

    return {"results": await rehearse(service.store.db.client, rehearsal)}


async def _import_attendance(
    row: SheetRow,
    who: Principal,
    service: Training,
    audit: Audit | None,
    rehearsed: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One row's result; ``rehearsed`` (a dry run, not audited) maps the records it made to
    their rows."""
    parsed = importer.parse_row(row)
    if isinstance(parsed, list):
        return row_result(row, "invalid", errors=parsed)
    try:
        await _visible_session(service, parsed.session_id, who)
        attendance, created = await service.record_attendance(parsed.session_id, parsed.mark)
    except NotFound as missing:
        return row_result(
            row, "invalid", errors=[importer.SHEET.refusal(row, "session", str(missing))]
        )
    except Conflict as different:
        # Another status or duration is already recorded: the file contradicts the record.
        return row_result(row, "invalid", errors=importer.SHEET.refusals(row, different.errors))
    except InvalidInput as refused:
        return row_result(row, "invalid", errors=importer.SHEET.refusals(row, refused.errors))
    if audit is not None and created:
        await audit(Action.RECORD, RecordKind.ATTENDANCE, [attendance.beneficiary_id])
    if rehearsed is None:
        return row_result(row, "created" if created else "duplicate", id=attendance.id)
    if created:
        rehearsed[attendance.id] = row.number
        return row_result(row, "valid")
    if attendance.id in rehearsed:
        return row_result(row, "duplicate", same_as_row=rehearsed[attendance.id])
    return row_result(row, "duplicate", id=attendance.id)
