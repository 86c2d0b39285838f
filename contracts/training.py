"""Events emitted by the training service on ``dn.training.events``, and partner requests
accepted on ``dn.intake.training``.

No event carries personal data: beneficiaries are the pseudonymous UUIDs registration issues.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field

from contracts.event import AboutBeneficiary, EventData
from contracts.maturity import MAX_ANSWER, MaturityQuestion
from contracts.topics import INTAKE_TRAINING, TRAINING_EVENTS


class SessionKind(StrEnum):
    """Who a session is for: one resident, a group of residents, or association staff."""

    INDIVIDUAL = "individual"
    COLLECTIVE = "collective"
    STAFF = "staff"


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    EXCUSED_ABSENCE = "excused_absence"
    UNEXCUSED_ABSENCE = "unexcused_absence"


class AssessmentStage(StrEnum):
    """When a skill was assessed: on entry (positioning) or at the end of the path."""

    INITIAL = "initial"
    FINAL = "final"


class Autonomy(StrEnum):
    """How the person performed the assessed task."""

    ASSISTED = "assisted"
    PARTLY_AUTONOMOUS = "partly_autonomous"
    AUTONOMOUS = "autonomous"


COMPETENCE = Field(
    pattern=r"^[1-5]\.[1-4]$", description="Pix competence code, e.g. 1.1 (see GET /modules)"
)


class SessionScheduledV1(EventData):
    """An association scheduled a training session of a module (one occurrence)."""

    event_type: ClassVar[str] = "dn.training.session_scheduled.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    session_id: str = Field(min_length=1)
    association_id: str = Field(min_length=1)
    district_id: str = Field(min_length=1)
    module_id: str = Field(min_length=1)
    kind: SessionKind
    place_type: str = Field(min_length=1, description="e.g. association_premises, library")
    starts_at: datetime
    duration_minutes: int = Field(ge=15, le=600)
    capacity: int | None = Field(default=None, ge=1, description="null: no limit")

    def subject(self) -> str:
        return self.session_id


class AttendanceRecordedV1(AboutBeneficiary):
    """A beneficiary's attendance at one session was recorded (one record per session and
    person). A corrected roll-call emits it again with the same ``attendance_id`` and a later
    ``recorded_at``: keep the latest version of each attendance id."""

    event_type: ClassVar[str] = "dn.training.attendance_recorded.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    attendance_id: str = Field(min_length=1)
    session_id: str = Field(min_length=1)
    status: AttendanceStatus
    minutes: int = Field(ge=0, le=600, description="Minutes attended; 0 when absent")
    module_id: str = Field(min_length=1)
    association_id: str = Field(min_length=1)
    session_starts_at: datetime
    recorded_at: datetime


class AnonymousAttendanceRecordedV1(EventData):
    """The number of people who attended a session without being enrolled (headcount only)."""

    event_type: ClassVar[str] = "dn.training.anonymous_attendance_recorded.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    session_id: str = Field(min_length=1)
    count: int = Field(ge=0, description="The session's anonymous headcount as it now stands")
    recorded_at: datetime

    def subject(self) -> str:
        return self.session_id


class SkillAssessedV1(AboutBeneficiary):
    """A beneficiary's level in one Pix competence was assessed, on entry or at the end."""

    event_type: ClassVar[str] = "dn.training.skill_assessed.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    competence: str = COMPETENCE
    stage: AssessmentStage
    level: int = Field(ge=0, le=8, description="Pix level, 0 (not acquired) to 8")
    autonomy: Autonomy
    assessed_at: datetime


class BeneficiaryTrainedV1(AboutBeneficiary):
    """A beneficiary met the completion rule: emitted once per person."""

    event_type: ClassVar[str] = "dn.training.beneficiary_trained.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    sessions_present: int = Field(ge=0)
    minutes_present: int = Field(ge=0)
    trained_at: datetime


class BeneficiaryAtRiskV1(AboutBeneficiary):
    """A beneficiary missed several sessions in a row without excuse: once per streak."""

    event_type: ClassVar[str] = "dn.training.beneficiary_at_risk.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    consecutive_unexcused_absences: int = Field(ge=1)
    last_session_id: str = Field(min_length=1)
    flagged_at: datetime


class AssociationMaturityAssessedV1(EventData):
    """An association's digital maturity was scored by hand (out of 100). No longer emitted:
    v2 carries the self-assessment's answers; kept for the logs that hold it."""

    event_type: ClassVar[str] = "dn.training.association_maturity_assessed.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    association_id: str = Field(min_length=1)
    score: int = Field(ge=0, le=100)
    assessed_at: datetime

    def subject(self) -> str:
        return self.association_id


MaturityAnswers = dict[MaturityQuestion, Annotated[int, Field(ge=0, le=MAX_ANSWER)]]


class AssociationMaturityAssessedV2(EventData):
    """An association's maturity self-assessment was recorded: its answers, the staff training
    counted from the records up to its date, and the score out of 100 they made then (see
    ``contracts.maturity``). ``baseline_score`` is the association's first assessment's score
    at that moment."""

    event_type: ClassVar[str] = "dn.training.association_maturity_assessed.v2"
    topic: ClassVar[str] = TRAINING_EVENTS

    association_id: str = Field(min_length=1)
    assessment_id: str = Field(min_length=1)
    answers: MaturityAnswers = Field(description="Each question's answer, 0 (not at all) to 3")
    staff_person_minutes: int = Field(
        ge=0, description="Staff sessions held up to assessed_at: headcount × minutes"
    )
    score: int = Field(ge=0, le=100)
    baseline_score: int = Field(ge=0, le=100)
    assessed_at: datetime

    def subject(self) -> str:
        return self.association_id


class AssociationUpskilledV1(EventData):
    """An association's maturity rose far enough above its first assessment: emitted once.
    ``upskilled_at`` is the date of the assessment that met the rule."""

    event_type: ClassVar[str] = "dn.training.association_upskilled.v1"
    topic: ClassVar[str] = TRAINING_EVENTS

    association_id: str = Field(min_length=1)
    baseline_score: int = Field(ge=0, le=100)
    score: int = Field(ge=0, le=100)
    upskilled_at: datetime

    def subject(self) -> str:
        return self.association_id


class AttendanceReportedV1(AboutBeneficiary):
    """A partner's system reports one beneficiary's attendance at a session (same rules as the
    attendance form: one record per session and person, identical resends are no-ops)."""

    event_type: ClassVar[str] = "dn.intake.training.attendance_reported.v1"
    topic: ClassVar[str] = INTAKE_TRAINING

    session_id: str = Field(min_length=1, max_length=100)
    status: AttendanceStatus
    minutes: int | None = Field(
        default=None, ge=0, le=600, description="null: the session's duration when present, else 0"
    )


class SessionReportedV1(EventData):
    """A partner's system schedules one session (the same rules as ``POST /sessions``).

    The partner may choose the session's id (``session_id``) to name it in its later
    attendance reports; otherwise training assigns one (read it back with ``GET /sessions``).
    A redelivery of the same request (same ``ce_id``) schedules nothing more.
    """

    event_type: ClassVar[str] = "dn.intake.training.session_reported.v1"
    topic: ClassVar[str] = INTAKE_TRAINING

    association_id: str = Field(min_length=1, max_length=100)
    district_id: str = Field(min_length=1, max_length=100)
    module_id: str = Field(min_length=1, max_length=100)
    kind: SessionKind
    place_type: str = Field(
        default="association_premises",
        min_length=1,
        max_length=100,
        description="e.g. association_premises, library",
    )
    starts_at: datetime = Field(description="RFC 3339 with offset")
    duration_minutes: int = Field(description="15 to 600")
    capacity: int | None = Field(default=None, description="null: no limit")
    session_id: UUID | None = Field(
        default=None,
        description=(
            "A random UUID (v4) the partner chooses for the session, to use in its later "
            "attendance reports; training assigns one when absent"
        ),
    )

    def subject(self) -> str:
        return self.association_id


class AnonymousAttendanceReportedV1(EventData):
    """A partner's system reports a session's headcount of people not enrolled (replaces the
    earlier count; the same rules as the anonymous-attendance form)."""

    event_type: ClassVar[str] = "dn.intake.training.anonymous_attendance_reported.v1"
    topic: ClassVar[str] = INTAKE_TRAINING

    session_id: str = Field(min_length=1, max_length=100)
    count: int = Field(ge=0, description="The session's anonymous headcount")

    def subject(self) -> str:
        return self.session_id


class AssessmentReportedV1(AboutBeneficiary):
    """A partner's system reports a beneficiary's assessed level in one Pix competence (the
    same rules as ``POST /assessments``: the latest per person, competence and stage)."""

    event_type: ClassVar[str] = "dn.intake.training.assessment_reported.v1"
    topic: ClassVar[str] = INTAKE_TRAINING

    competence: str = Field(max_length=10, description="Pix competence code, e.g. 1.1")
    stage: AssessmentStage
    level: int = Field(description="Pix level, 0 (not acquired) to 8")
    autonomy: Autonomy
    assessed_at: datetime | None = Field(default=None, description="null: when it is applied")


class MaturityAssessmentReportedV1(EventData):
    """An association's system reports its maturity self-assessment (the same rules as the
    ``assessAssociationMaturity`` mutation): an answer from 0 (not at all) to 3 (fully, as a
    routine) to every question of ``contracts.maturity.QUESTIONNAIRE``. The staff training part
    of the score comes from the staff sessions' headcounts, never from the request."""

    event_type: ClassVar[str] = "dn.intake.training.maturity_assessment_reported.v1"
    topic: ClassVar[str] = INTAKE_TRAINING

    association_id: str = Field(min_length=1, max_length=100)
    answers: dict[MaturityQuestion, int] = Field(
        description='Every question\'s answer, 0 to 3, e.g. {"staff_security": 2, …}'
    )
    assessed_at: datetime | None = Field(default=None, description="null: when it is applied")
    assessment_id: UUID | None = Field(
        default=None,
        description=(
            "A random UUID (v4) the partner chooses for this assessment; the same id again "
            "with the same answers changes nothing, with other answers it is refused"
        ),
    )

    def subject(self) -> str:
        return self.association_id


EVENTS: tuple[type[EventData], ...] = (
    SessionScheduledV1,
    AttendanceRecordedV1,
    AnonymousAttendanceRecordedV1,
    SkillAssessedV1,
    BeneficiaryTrainedV1,
    BeneficiaryAtRiskV1,
    AssociationMaturityAssessedV1,
    AssociationMaturityAssessedV2,
    AssociationUpskilledV1,
)
INTAKE_REQUESTS: tuple[type[EventData], ...] = (
    AttendanceReportedV1,
    SessionReportedV1,
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    MaturityAssessmentReportedV1,
)
