"""Training in GraphQL: modules, sessions, attendance, assessments, progress, association
maturity (self-assessments, staff training, upskilled)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from contracts.api import Page
from contracts.api.training import (
    AssessmentReport,
    AssessmentView,
    AtRiskView,
    AttendanceView,
    FrameworkView,
    MaturityReport,
    ModuleView,
    ProgressView,
    QuestionnaireReport,
    RollCallRecorded,
    ScheduledSessions,
    SessionDetail,
    SessionView,
    StageView,
)

from .context import Context, context_of
from .enums import AssessmentStage, AttendanceStatus, Autonomy, MaturityQuestion, SessionKind
from .pagination import DEFAULT_FIRST, Connection, read_connection
from .services import Shape, UserInputError
from .wire import enum_value, param_text, path_segment

if TYPE_CHECKING:
    from .registration import Beneficiary

# -- reference ----------------------------------------------------------------------------


@strawberry.type(description="A training module of the catalogue")
class TrainingModule:
    id: strawberry.ID
    title: str
    competences: list[str] = strawberry.field(description="Pix competence codes, e.g. 1.1")
    level: str = strawberry.field(description="beginner, intermediate or advanced")
    themes: list[str]

    @staticmethod
    def of(module: ModuleView) -> TrainingModule:
        return TrainingModule(
            id=strawberry.ID(module.id),
            title=module.title,
            competences=module.competences,
            level=module.level,
            themes=module.themes,
        )


@strawberry.type(description="One competence of the Pix framework")
class Competence:
    code: str
    name: str


@strawberry.type(description="One area of the Pix framework, with its competences")
class CompetenceArea:
    id: strawberry.ID
    name: str
    english: str
    digcomp: str = strawberry.field(description="The matching DigComp 2.2 area")
    competences: list[Competence]


async def _beneficiary(info: Info[Context, Any], beneficiary_id: object) -> Beneficiary | None:
    """The person a training record names, as the caller may see them (loaded once per
    request); None when erased or not theirs to see."""
    return await context_of(info).loaders.person.load(str(beneficiary_id))


async def modules(context: Context) -> list[TrainingModule]:
    catalogue = await context.fetched("training", "/modules", list[ModuleView])
    return [TrainingModule.of(module) for module in catalogue]


async def module_of(context: Context, module_id: str) -> TrainingModule | None:
    return next((module for module in await modules(context) if module.id == module_id), None)


async def competences(context: Context) -> list[CompetenceArea]:
    framework = await context.fetched("training", "/competences", FrameworkView)
    return [
        CompetenceArea(
            id=strawberry.ID(area.id),
            name=area.name,
            english=area.english,
            digcomp=area.digcomp,
            competences=[Competence(code=c.code, name=c.name) for c in area.competences],
        )
        for area in framework.areas
    ]


# -- sessions and attendance --------------------------------------------------------------


@strawberry.type(description="One person's attendance at one session")
class Attendance:
    id: strawberry.ID
    session_id: strawberry.ID
    beneficiary_id: strawberry.ID
    status: AttendanceStatus
    minutes: int
    module_id: strawberry.ID
    association_id: strawberry.ID
    session_starts_at: dt.datetime
    recorded_at: dt.datetime

    @strawberry.field(description="The person; null when erased or not yours to see")
    async def beneficiary(
        self, info: Info[Context, Any]
    ) -> Annotated[Beneficiary, strawberry.lazy(".registration")] | None:
        return await _beneficiary(info, self.beneficiary_id)

    @staticmethod
    def of(record: AttendanceView) -> Attendance:
        return Attendance(
            id=strawberry.ID(record.id),
            session_id=strawberry.ID(record.session_id),
            beneficiary_id=strawberry.ID(record.beneficiary_id),
            status=record.status,
            minutes=record.minutes,
            module_id=strawberry.ID(record.module_id),
            association_id=strawberry.ID(record.association_id),
            session_starts_at=record.session_starts_at,
            recorded_at=record.recorded_at,
        )


@strawberry.type(description="A training session, individual or collective (or for staff)")
class Session:
    id: strawberry.ID
    association_id: strawberry.ID
    district_id: strawberry.ID
    module_id: strawberry.ID
    kind: SessionKind
    place_type: str
    starts_at: dt.datetime
    duration_minutes: int
    capacity: int | None = strawberry.field(description="null: no limit")
    anonymous_count: int = strawberry.field(description="Headcount of people not enrolled")
    roll_call: strawberry.Private[list[AttendanceView] | None]  # None: not read yet

    @strawberry.field(description="The module taught")
    async def module(self, info: Info[Context, Any]) -> TrainingModule | None:
        return await module_of(context_of(info), self.module_id)

    @strawberry.field(
        description="The roll-call: one record per person (one batched call for every "
        "session of a list)"
    )
    async def attendance(self, info: Info[Context, Any]) -> list[Attendance]:
        records = self.roll_call
        if records is None:
            records = await context_of(info).loaders.roll_call.load(str(self.id))
        return [Attendance.of(record) for record in records]

    @staticmethod
    def of(view: SessionView, roll_call: list[AttendanceView] | None = None) -> Session:
        """The session training answered; its roll-call when the answer held it (else the
        ``attendance`` field reads it)."""
        return Session(
            id=strawberry.ID(view.id),
            association_id=strawberry.ID(view.association_id),
            district_id=strawberry.ID(view.district_id),
            module_id=strawberry.ID(view.module_id),
            kind=view.kind,
            place_type=view.place_type,
            starts_at=view.starts_at,
            duration_minutes=view.duration_minutes,
            capacity=view.capacity,
            anonymous_count=view.anonymous_count,
            roll_call=roll_call,
        )


@strawberry.type(
    description="What a roll-call added or corrected; records already there the same are unchanged"
)
class RollCall:
    recorded: list[Attendance]
    unchanged: int


@strawberry.input
class ScheduleSessionInput:
    association_id: strawberry.ID
    module_id: strawberry.ID
    starts_at: dt.datetime = strawberry.field(description="With its offset, e.g. +01:00")
    duration_minutes: int
    kind: SessionKind
    capacity: int | None = strawberry.field(default=None, description="null: no limit")
    district_id: strawberry.ID | None = strawberry.field(
        default=None, description="Needed only when the association serves several districts"
    )
    place_type: str | None = strawberry.field(
        default=None, description="e.g. association_premises (the default), library"
    )


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


strawberry.enum(Weekday, description="A day of the week")


@strawberry.input(description="Sessions every week on the given days, all scheduled or none")
class ScheduleRecurringSessionsInput:
    association_id: strawberry.ID
    module_id: strawberry.ID
    weekdays: list[Weekday]
    starts_on: dt.date = strawberry.field(name="from", description="First day (inclusive)")
    until: dt.date = strawberry.field(description="Last day (inclusive)")
    at: dt.time = strawberry.field(description="Local start time, e.g. 14:00")
    duration_minutes: int
    kind: SessionKind
    timezone: str = strawberry.field(default="Europe/Paris", description="IANA time zone")
    capacity: int | None = strawberry.field(default=None, description="null: no limit")
    district_id: strawberry.ID | None = strawberry.field(
        default=None, description="Needed only when the association serves several districts"
    )
    place_type: str | None = strawberry.field(
        default=None, description="e.g. association_premises (the default), library"
    )


@strawberry.input
class RecordAttendanceInput:
    session_id: strawberry.ID
    beneficiary_id: strawberry.ID
    status: AttendanceStatus
    minutes: int | None = strawberry.field(
        default=None, description="Default: the session's duration when present, 0 when absent"
    )


@strawberry.input(description="One line of a roll-call")
class RollCallRecordInput:
    beneficiary_id: strawberry.ID
    status: AttendanceStatus
    minutes: int | None = strawberry.field(
        default=None, description="Default: the session's duration when present, 0 when absent"
    )


async def district_for(context: Context, association_id: str, district_id: str | None) -> str:
    """The district a session takes place in: the one given, else the association's only one."""
    if district_id is not None:
        return district_id
    associations = {a.id: a for a in await context.reference("associations")}
    association = associations.get(str(association_id))
    if association is None:
        message = f"unknown association {association_id}; known: {', '.join(sorted(associations))}"
        raise UserInputError(message, [{"field": "associationId", "message": message}])
    served = association.districts
    if len(served) != 1:
        message = (
            f"association {association_id} serves {len(served)} districts; say which one in "
            f"districtId: {', '.join(served) or 'none registered'}"
        )
        raise UserInputError(message, [{"field": "districtId", "message": message}])
    return served[0]


async def _session_fields(
    context: Context, input: ScheduleSessionInput | ScheduleRecurringSessionsInput
) -> dict[str, Any]:
    fields = {
        "association_id": str(input.association_id),
        "district_id": await district_for(context, input.association_id, input.district_id),
        "module_id": str(input.module_id),
        "kind": enum_value(input.kind),
        "duration_minutes": input.duration_minutes,
        "capacity": input.capacity,
    }
    if input.place_type is not None:
        fields["place_type"] = input.place_type
    return fields


async def schedule_session(context: Context, input: ScheduleSessionInput) -> Session:
    body = {**await _session_fields(context, input), "starts_at": input.starts_at.isoformat()}
    scheduled = await context.services.answer(
        SessionView, "training", "POST", "/sessions", authorization=context.authorization, json=body
    )
    return Session.of(scheduled)


async def schedule_recurring_sessions(
    context: Context, input: ScheduleRecurringSessionsInput
) -> list[Session]:
    body = {
        **await _session_fields(context, input),
        "weekdays": enum_value(input.weekdays),
        "from": input.starts_on.isoformat(),
        "until": input.until.isoformat(),
        "at": input.at.isoformat(timespec="minutes"),
        "timezone": input.timezone,
    }
    schedule = await context.services.answer(
        ScheduledSessions,
        "training",
        "POST",
        "/schedules",
        authorization=context.authorization,
        json=body,
    )
    return [Session.of(scheduled) for scheduled in schedule.sessions]


async def sessions(
    context: Context,
    association_id: str | None,
    starts_from: dt.datetime | None,
    starts_to: dt.datetime | None,
    limit: int,
) -> list[Session]:
    params = {"limit": str(limit)}
    if association_id is not None:
        params["association_id"] = str(association_id)
    if starts_from is not None:
        params["from"] = starts_from.isoformat()
    if starts_to is not None:
        params["to"] = starts_to.isoformat()
    found = await context.services.answer(
        list[SessionView],
        "training",
        "GET",
        "/sessions",
        authorization=context.authorization,
        params=params,
    )
    return [Session.of(view) for view in found]


async def session(context: Context, session_id: str) -> Session | None:
    detail = await context.services.answer_if_found(
        SessionDetail,
        "training",
        "GET",
        f"/sessions/{path_segment(session_id)}",
        authorization=context.authorization,
    )
    return Session.of(detail, detail.roll_call) if detail else None


async def _to_session(
    context: Context, shape: type[Shape], session_id: str, route: str, body: Any
) -> Shape:
    """POST to one of a session's routes; an unknown (or not yours) session names sessionId."""
    return await context.services.answer(
        shape,
        "training",
        "POST",
        f"/sessions/{path_segment(session_id)}/{route}",
        authorization=context.authorization,
        json=body,
        missing_field="sessionId",
    )


def _mark(record: RecordAttendanceInput | RollCallRecordInput) -> dict[str, Any]:
    return {
        "beneficiary_id": str(record.beneficiary_id),
        "status": enum_value(record.status),
        "minutes": record.minutes,
    }


async def record_attendance(context: Context, input: RecordAttendanceInput) -> Attendance:
    record = await _to_session(
        context, AttendanceView, input.session_id, "attendance", _mark(input)
    )
    return Attendance.of(record)


async def record_roll_call(
    context: Context, session_id: str, records: list[RollCallRecordInput], correct: bool = False
) -> RollCall:
    body = {"records": [_mark(record) for record in records], "correct": correct}
    answer = await _to_session(context, RollCallRecorded, session_id, "roll-call", body)
    return RollCall(
        recorded=[Attendance.of(record) for record in answer.recorded],
        unchanged=answer.unchanged,
    )


async def record_anonymous_attendance(context: Context, session_id: str, count: int) -> Session:
    counted = await _to_session(
        context, SessionView, session_id, "anonymous-attendance", {"count": count}
    )
    return Session.of(counted)


# -- assessments and progress -------------------------------------------------------------


@strawberry.type(description="A Pix skill assessment of one competence")
class Assessment:
    beneficiary_id: strawberry.ID
    competence: str
    stage: AssessmentStage
    level: int = strawberry.field(description="Pix level, 0 (not acquired) to 8")
    autonomy: Autonomy
    assessed_at: dt.datetime


@strawberry.input
class RecordAssessmentInput:
    beneficiary_id: strawberry.ID
    competence: str = strawberry.field(description="Pix competence code, e.g. 1.1")
    stage: AssessmentStage
    level: int = strawberry.field(description="Pix level, 0 (not acquired) to 8")
    autonomy: Autonomy
    assessed_at: dt.datetime | None = strawberry.field(default=None, description="Default: now")


@strawberry.type
class StageResult:
    level: int
    autonomy: Autonomy
    assessed_at: dt.datetime


@strawberry.type(description="One competence's initial and final assessments")
class CompetenceProgress:
    competence: str
    initial: StageResult | None
    final: StageResult | None


@strawberry.type(description="The rule that makes someone trained")
class CompletionRule:
    min_sessions: int
    min_minutes: int
    require_final_assessment: bool


@strawberry.type(description="How far one beneficiary is in training")
class Progress:
    beneficiary_id: strawberry.ID
    association_id: strawberry.ID | None
    status: str
    sessions_present: int
    minutes_present: int
    excused_absences: int
    unexcused_absences: int
    trained: bool
    trained_at: dt.datetime | None
    at_risk: bool = strawberry.field(description="Several unexcused absences in a row")
    rule: CompletionRule
    assessments: list[CompetenceProgress]

    @staticmethod
    def of(progress: ProgressView) -> Progress:
        rule = progress.rule
        association_id = progress.association_id
        return Progress(
            beneficiary_id=strawberry.ID(progress.beneficiary_id),
            association_id=strawberry.ID(association_id) if association_id else None,
            status=progress.status,
            sessions_present=progress.sessions_present,
            minutes_present=progress.minutes_present,
            excused_absences=progress.excused_absences,
            unexcused_absences=progress.unexcused_absences,
            trained=progress.trained,
            trained_at=progress.trained_at,
            at_risk=progress.at_risk,
            rule=CompletionRule(
                min_sessions=rule.min_sessions,
                min_minutes=rule.min_minutes,
                require_final_assessment=rule.require_final_assessment,
            ),
            assessments=[
                CompetenceProgress(
                    competence=a.competence, initial=_stage(a.initial), final=_stage(a.final)
                )
                for a in progress.assessments
            ],
        )


def _stage(stage: StageView | None) -> StageResult | None:
    if stage is None:
        return None
    return StageResult(level=stage.level, autonomy=stage.autonomy, assessed_at=stage.assessed_at)


async def record_assessment(context: Context, input: RecordAssessmentInput) -> Assessment:
    body = {
        "beneficiary_id": str(input.beneficiary_id),
        "competence": input.competence,
        "stage": enum_value(input.stage),
        "level": input.level,
        "autonomy": enum_value(input.autonomy),
        "assessed_at": input.assessed_at.isoformat() if input.assessed_at else None,
    }
    assessed = await context.services.answer(
        AssessmentView,
        "training",
        "POST",
        "/assessments",
        authorization=context.authorization,
        json=body,
        missing_field="beneficiaryId",
    )
    return Assessment(
        beneficiary_id=strawberry.ID(assessed.beneficiary_id),
        competence=assessed.competence,
        stage=assessed.stage,
        level=assessed.level,
        autonomy=assessed.autonomy,
        assessed_at=assessed.assessed_at,
    )


async def beneficiary_progress(context: Context, beneficiary_id: str) -> Progress | None:
    progress = await context.services.answer_if_found(
        ProgressView,
        "training",
        "GET",
        f"/beneficiaries/{path_segment(beneficiary_id)}/progress",
        authorization=context.authorization,
    )
    return Progress.of(progress) if progress else None


@strawberry.type(
    description="A person to follow up: their latest sessions are unexcused absences in a row"
)
class AtRiskBeneficiary:
    beneficiary_id: strawberry.ID
    association_id: strawberry.ID | None
    sessions_missed: int = strawberry.field(description="Unexcused absences since they last came")
    last_session_at: dt.datetime | None = strawberry.field(description="Their latest session")
    last_present_at: dt.datetime | None = strawberry.field(
        description="The last session they attended; null: never"
    )

    @strawberry.field(description="The person; null when erased or not yours to see")
    async def beneficiary(
        self, info: Info[Context, Any]
    ) -> Annotated[Beneficiary, strawberry.lazy(".registration")] | None:
        return await _beneficiary(info, self.beneficiary_id)


async def beneficiaries_at_risk(
    context: Context, association_id: str | None
) -> list[AtRiskBeneficiary]:
    followed = await context.services.answer(
        list[AtRiskView],
        "training",
        "GET",
        "/beneficiaries/at-risk",
        authorization=context.authorization,
        params={"association_id": str(association_id)} if association_id else None,
    )
    return [
        AtRiskBeneficiary(
            beneficiary_id=strawberry.ID(person.beneficiary_id),
            association_id=strawberry.ID(person.association_id) if person.association_id else None,
            sessions_missed=person.sessions_missed,
            last_session_at=person.last_session_at,
            last_present_at=person.last_present_at,
        )
        for person in followed
    ]


# -- associations -------------------------------------------------------------------------


@strawberry.type(description="One answer of a maturity self-assessment")
class MaturityAnswer:
    question: MaturityQuestion
    answer: int = strawberry.field(description="0 (not at all) to 3 (fully, as a routine)")
    points: float = strawberry.field(description="The question's weight × answer / 3")


@strawberry.type(description="One maturity self-assessment of an association, as it scores now")
class MaturityAssessment:
    id: strawberry.ID
    assessed_at: dt.datetime
    recorded_at: dt.datetime
    score: int = strawberry.field(description="Out of 100: questionnaire plus staff training")
    score_only: bool = strawberry.field(
        description="A score typed by hand before the questionnaire existed (no answers)"
    )
    answers: list[MaturityAnswer]
    questionnaire_points: float = strawberry.field(description="Out of 80")
    staff_hours: float = strawberry.field(
        description="Staff sessions held up to assessedAt: headcount × hours"
    )
    staff_points: float = strawberry.field(description="Out of 20")

    @strawberry.field(deprecation_reason="Use assessedAt")
    def at(self) -> dt.datetime:
        return self.assessed_at

    @staticmethod
    def of(report: AssessmentReport) -> MaturityAssessment:
        return MaturityAssessment(
            id=strawberry.ID(report.id),
            assessed_at=report.assessed_at,
            recorded_at=report.recorded_at,
            score=report.score,
            score_only=report.score_only,
            answers=[
                MaturityAnswer(question=a.question, answer=a.answer, points=a.points)
                for a in report.answers
            ],
            questionnaire_points=report.questionnaire_points,
            staff_hours=round(report.staff_person_minutes / 60, 2),
            staff_points=report.staff_points,
        )


@strawberry.type(
    description="An association's digital maturity: its self-assessments (the first is the "
    "baseline), staff training, and whether it counts as upskilled"
)
class AssociationMaturity:
    association_id: strawberry.ID
    baseline: MaturityAssessment | None
    latest: MaturityAssessment | None
    baseline_score: int | None
    latest_score: int | None
    gain: int | None = strawberry.field(description="Latest score − baseline score")
    staff_hours: float = strawberry.field(
        description="Every staff session so far: headcount × hours"
    )
    upskilled: bool
    upskilled_at: dt.datetime | None = strawberry.field(
        description="The date of the assessment that met the rule"
    )
    upskilled_points: int = strawberry.field(
        description="The rule: an assessment this many points above the baseline"
    )
    history: list[MaturityAssessment] = strawberry.field(description="By date, baseline first")

    @staticmethod
    def of(report: MaturityReport) -> AssociationMaturity:
        history = [MaturityAssessment.of(a) for a in report.history]
        return AssociationMaturity(
            association_id=strawberry.ID(report.association_id),
            baseline=history[0] if history else None,
            latest=history[-1] if history else None,
            baseline_score=report.baseline.score if report.baseline else None,
            latest_score=report.latest.score if report.latest else None,
            gain=report.gain,
            staff_hours=round(report.staff_person_minutes / 60, 2),
            upskilled=report.upskilled,
            upskilled_at=report.upskilled_at,
            upskilled_points=report.rule.upskilled_points,
            history=history,
        )


@strawberry.input(description="The answer to one question of the maturity self-assessment")
class MaturityAnswerInput:
    question: MaturityQuestion
    answer: int = strawberry.field(description="0 (not at all) to 3 (fully, as a routine)")


@strawberry.type(description="One question of the maturity self-assessment")
class MaturityQuestionText:
    id: MaturityQuestion
    weight: int = strawberry.field(description="Points for the top answer (3)")
    pix_area: str | None = strawberry.field(description="The Pix area it is about, if one")
    text: str = strawberry.field(description="In French")
    english: str


@strawberry.type(description="One step of the answer scale")
class MaturityLevel:
    value: int
    label: str = strawberry.field(description="In French")
    english: str


@strawberry.type(description="The association maturity self-assessment and how it scores")
class MaturityQuestionnaire:
    questions: list[MaturityQuestionText]
    scale: list[MaturityLevel]
    staff_training_points: int = strawberry.field(
        description="Points earned from staff sessions' headcount × hours"
    )
    staff_hours_for_full_points: int
    upskilled_points: int = strawberry.field(
        description="Upskilled: an assessment this many points above the baseline"
    )


async def association_maturity(context: Context, association_id: str) -> AssociationMaturity:
    report = await context.services.answer(
        MaturityReport,
        "training",
        "GET",
        f"/associations/{path_segment(association_id)}/maturity",
        authorization=context.authorization,
    )
    return AssociationMaturity.of(report)


async def assess_association_maturity(
    context: Context,
    association_id: str,
    answers: list[MaturityAnswerInput],
    assessed_at: dt.datetime | None,
) -> AssociationMaturity:
    given: dict[str, int] = {}
    for answer in answers:
        if answer.question.value in given:
            raise UserInputError(
                "each question once",
                [{"field": "answers", "message": f"{answer.question.name} is answered twice"}],
            )
        given[answer.question.value] = answer.answer
    report = await context.services.answer(
        MaturityReport,
        "training",
        "POST",
        f"/associations/{path_segment(association_id)}/maturity",
        authorization=context.authorization,
        json={
            "answers": given,
            "assessed_at": assessed_at.isoformat() if assessed_at else None,
        },
    )
    return AssociationMaturity.of(report)


async def maturity_questionnaire(context: Context) -> MaturityQuestionnaire:
    report = await context.fetched("training", "/maturity/questionnaire", QuestionnaireReport)
    return MaturityQuestionnaire(
        questions=[
            MaturityQuestionText(
                id=q.id, weight=q.weight, pix_area=q.pix_area, text=q.text, english=q.english
            )
            for q in report.questions
        ],
        scale=[
            MaturityLevel(value=step.value, label=step.label, english=step.english)
            for step in report.scale
        ],
        staff_training_points=report.staff_training_points,
        staff_hours_for_full_points=report.rule.staff_hours_for_full_points,
        upskilled_points=report.rule.upskilled_points,
    )


# -- the paginated list -------------------------------------------------------------------


@strawberry.input(description="Which sessions to list; unset fields do not filter")
class SessionFilter:
    association_id: strawberry.ID | None = None
    district_id: strawberry.ID | None = None
    module_id: strawberry.ID | None = None
    starts_from: dt.datetime | None = strawberry.field(
        default=None, name="from", description="Starting at or after (with its offset)"
    )
    starts_to: dt.datetime | None = strawberry.field(
        default=None, name="to", description="Starting before (with its offset)"
    )


async def sessions_page(
    context: Context, where: SessionFilter | None, first: int, after: str | None
) -> Connection[Session]:
    where = where or SessionFilter()
    filters = {
        "association_id": param_text(where.association_id),
        "district_id": param_text(where.district_id),
        "module_id": param_text(where.module_id),
        "from": param_text(where.starts_from),
        "to": param_text(where.starts_to),
    }
    return await read_connection(
        context,
        "training",
        "/sessions/page",
        "sessions",
        filters,
        first,
        after,
        Page[SessionView],
        Session.of,
    )


# -- fields (each calls the module's function of its name) --------------------------------


@strawberry.type
class TrainingQuery:
    @strawberry.field(description="The training catalogue: modules with competences and level")
    async def modules(self, info: Info[Context, Any]) -> list[TrainingModule]:
        return await modules(context_of(info))

    @strawberry.field(description="The Pix competence framework, area by area")
    async def competences(self, info: Info[Context, Any]) -> list[CompetenceArea]:
        return await competences(context_of(info))

    @strawberry.field(description="Sessions by start time; association staff see their own")
    async def sessions(
        self,
        info: Info[Context, Any],
        association_id: strawberry.ID | None = None,
        starts_from: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        starts_to: Annotated[dt.datetime | None, strawberry.argument(name="to")] = None,
        limit: int = 200,
    ) -> list[Session]:
        return await sessions(context_of(info), association_id, starts_from, starts_to, limit)

    @strawberry.field(description="One session with its roll-call; null when unknown or not yours")
    async def session(self, info: Info[Context, Any], id: strawberry.ID) -> Session | None:
        return await session(context_of(info), id)

    @strawberry.field(
        description="Attendance totals, trained or not, assessments; null when training does "
        "not know the person"
    )
    async def beneficiary_progress(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> Progress | None:
        return await beneficiary_progress(context_of(info), id)

    @strawberry.field(
        description="People to follow up: their latest sessions are unexcused absences in a row "
        "(at least three), most missed first; association staff see their own association's"
    )
    async def beneficiaries_at_risk(
        self, info: Info[Context, Any], association_id: strawberry.ID | None = None
    ) -> list[AtRiskBeneficiary]:
        return await beneficiaries_at_risk(context_of(info), association_id)

    @strawberry.field(
        description="An association's digital maturity: self-assessments, staff training, upskilled"
    )
    async def association_maturity(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> AssociationMaturity:
        return await association_maturity(context_of(info), id)

    @strawberry.field(description="The association maturity self-assessment and how it scores")
    async def maturity_questionnaire(self, info: Info[Context, Any]) -> MaturityQuestionnaire:
        return await maturity_questionnaire(context_of(info))

    @strawberry.field(
        description="Sessions in start order, filtered, paginated like `beneficiaries`; the "
        "roll-calls of a whole page (`attendance`) cost one call. (`sessions` is the older, "
        "unpaginated list.)"
    )
    async def sessions_connection(
        self,
        info: Info[Context, Any],
        filter: SessionFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[Session]:
        return await sessions_page(context_of(info), filter, first, after)


@strawberry.type
class TrainingMutation:
    @strawberry.mutation(description="Schedule one session (district: the association's own)")
    async def schedule_session(
        self, info: Info[Context, Any], input: ScheduleSessionInput
    ) -> Session:
        return await schedule_session(context_of(info), input)

    @strawberry.mutation(description="Schedule a weekly series of sessions, all or none (≤ 200)")
    async def schedule_recurring_sessions(
        self, info: Info[Context, Any], input: ScheduleRecurringSessionsInput
    ) -> list[Session]:
        return await schedule_recurring_sessions(context_of(info), input)

    @strawberry.mutation(
        description="Record one person's attendance; the same record again changes nothing"
    )
    async def record_attendance(
        self, info: Info[Context, Any], input: RecordAttendanceInput
    ) -> Attendance:
        return await record_attendance(context_of(info), input)

    @strawberry.mutation(
        description="Record a session's whole roll-call, all or none; lines already recorded "
        "the same are unchanged (a resend changes nothing)"
    )
    async def record_roll_call(
        self,
        info: Info[Context, Any],
        session_id: strawberry.ID,
        records: list[RollCallRecordInput],
        correct: Annotated[
            bool,
            strawberry.argument(
                description="A line that differs from the recorded one replaces it (false: "
                "such a line is a CONFLICT)"
            ),
        ] = False,
    ) -> RollCall:
        return await record_roll_call(context_of(info), session_id, records, correct)

    @strawberry.mutation(description="Set the headcount of people attending without enrolment")
    async def record_anonymous_attendance(
        self, info: Info[Context, Any], session_id: strawberry.ID, count: int
    ) -> Session:
        return await record_anonymous_attendance(context_of(info), session_id, count)

    @strawberry.mutation(description="Record a Pix assessment of one competence")
    async def record_assessment(
        self, info: Info[Context, Any], input: RecordAssessmentInput
    ) -> Assessment:
        return await record_assessment(context_of(info), input)

    @strawberry.mutation(
        description="Record an association's maturity self-assessment: an answer from 0 to 3 to "
        "every question (maturityQuestionnaire); the score adds the staff sessions' hours. "
        "Coordinators, or the association's own staff"
    )
    async def assess_association_maturity(
        self,
        info: Info[Context, Any],
        association_id: strawberry.ID,
        answers: list[MaturityAnswerInput],
        assessed_at: Annotated[
            dt.datetime | None,
            strawberry.argument(description="When it was filled in (default: now); not later"),
        ] = None,
    ) -> AssociationMaturity:
        return await assess_association_maturity(
            context_of(info), association_id, answers, assessed_at
        )
