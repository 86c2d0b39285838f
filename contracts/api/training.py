"""Training's answers to the gateway (``services/training/api.py``): the catalogue, sessions and
their roll-calls, attendance, assessments, people's progress and those at risk, and
associations' maturity.

Each record has one model, whichever route answers it: a session is a :class:`SessionView` in a
list, a page, a schedule or alone (alone, with its roll-call: :class:`SessionDetail`); an
attendance record is an :class:`AttendanceView` in a roll-call, a person's history or a
roll-call's result. Batch routes answer an envelope keyed by the ids asked for, those not found
or not the caller's left out.
"""

from __future__ import annotations

from datetime import datetime

from contracts.maturity import Level, MaturityQuestion, MaturityRule
from contracts.training import AssessmentStage, AttendanceStatus, Autonomy, SessionKind

from . import Answer

# -- the catalogue (GET /modules, GET /competences) ---------------------------------------


class ModuleView(Answer):
    """A training module of the catalogue."""

    id: str
    title: str  # French, the programme's language
    competences: list[str]  # Pix competence codes, e.g. 1.1
    level: str  # beginner, intermediate or advanced
    themes: list[str]  # job_search, safe_use…


class CompetenceView(Answer):
    code: str  # 1.1
    name: str
    area_id: str


class AreaView(Answer):
    """One area of the Pix framework, with its competences."""

    id: str
    name: str
    english: str
    digcomp: str  # the matching DigComp 2.2 area
    competences: list[CompetenceView]


class FrameworkView(Answer):
    """``GET /competences``: the Pix framework."""

    framework: str
    levels: list[int]
    areas: list[AreaView]


# -- sessions and attendance ---------------------------------------------------------------


class SessionView(Answer):
    """A scheduled session (``POST /sessions``, ``GET /sessions``, the anonymous headcount's
    answer…)."""

    id: str
    association_id: str
    district_id: str
    module_id: str
    kind: SessionKind
    place_type: str  # association_premises, library…
    starts_at: datetime
    duration_minutes: int
    capacity: int | None  # None: no limit
    anonymous_count: int  # headcount of people not enrolled


class AttendanceView(Answer):
    """One person's attendance at one session."""

    id: str
    session_id: str
    beneficiary_id: str  # a UUID, or "erased-…" once the person is erased
    status: AttendanceStatus
    minutes: int
    module_id: str
    association_id: str
    session_starts_at: datetime
    recorded_at: datetime


class SessionDetail(SessionView):
    """``GET /sessions/{id}``: the session with its roll-call, by attendance id."""

    roll_call: list[AttendanceView]


class ScheduledSessions(Answer):
    """``POST /schedules``: every session of a recurring schedule, in start order."""

    sessions: list[SessionView]


class RollCalls(Answer):
    """``POST /sessions/roll-calls``: each session's roll-call by session id."""

    roll_calls: dict[str, list[AttendanceView]]


class RollCallRecorded(Answer):
    """``POST /sessions/{id}/roll-call``: the records added or corrected, and how many lines
    matched a record already there."""

    recorded: list[AttendanceView]
    unchanged: int


class AttendanceByBeneficiary(Answer):
    """``POST /beneficiaries/attendance``: each person's records in session order."""

    attendance: dict[str, list[AttendanceView]]


# -- assessments and progress -------------------------------------------------------------


class AssessmentView(Answer):
    """``POST /assessments``: a Pix skill assessment of one competence."""

    beneficiary_id: str
    competence: str  # Pix competence code, e.g. 1.1
    stage: AssessmentStage
    level: int  # 0 (not acquired) to 8
    autonomy: Autonomy
    assessed_at: datetime


class StageView(Answer):
    level: int
    autonomy: Autonomy
    assessed_at: datetime


class CompetenceProgressView(Answer):
    """One competence's initial and final assessments, either not made yet."""

    competence: str
    initial: StageView | None
    final: StageView | None


class CompletionRuleView(Answer):
    """The rule that makes someone trained (training's ``DN_TRAINING_*`` settings)."""

    min_sessions: int
    min_minutes: int
    require_final_assessment: bool


class ProgressView(Answer):
    """``GET /beneficiaries/{id}/progress``: how far one person is in training."""

    beneficiary_id: str
    association_id: str | None
    status: str  # active, withdrawn or merged (erased people are not answered)
    sessions_present: int
    minutes_present: int
    excused_absences: int
    unexcused_absences: int
    trained: bool
    trained_at: datetime | None
    at_risk: bool  # several unexcused absences in a row
    rule: CompletionRuleView
    assessments: list[CompetenceProgressView]  # by competence code


class ProgressByBeneficiary(Answer):
    """``POST /beneficiaries/progress``: each person's progress by id."""

    progress: dict[str, ProgressView]


class AtRiskView(Answer):
    """One of ``GET /beneficiaries/at-risk``: a person whose latest sessions are unexcused
    absences in a row."""

    beneficiary_id: str
    association_id: str | None
    sessions_missed: int  # unexcused absences since they last came
    last_session_at: datetime | None
    last_present_at: datetime | None  # None: never came


# -- associations' maturity (contracts.maturity scores it) --------------------------------


class AnswerReport(Answer):
    question: MaturityQuestion
    answer: int  # 0-3
    points: float  # the question's weight × answer / 3


class AssessmentReport(Answer):
    """One self-assessment as it scores now (later staff records of sessions held before its
    date count in)."""

    id: str
    assessed_at: datetime
    recorded_at: datetime
    score_only: bool  # a score typed before the questionnaire existed: no answers
    answers: list[AnswerReport]
    questionnaire_points: float
    staff_person_minutes: int
    staff_points: float
    score: int


class MaturityReport(Answer):
    """``GET``/``POST /associations/{id}/maturity``: an association's maturity."""

    association_id: str
    baseline: AssessmentReport | None
    latest: AssessmentReport | None
    gain: int | None  # latest − baseline
    staff_person_minutes: int  # every staff session's headcount × duration, to date
    upskilled: bool
    upskilled_at: datetime | None
    rule: MaturityRule
    history: list[AssessmentReport]  # by date, the baseline first


class QuestionReport(Answer):
    id: MaturityQuestion
    weight: int  # points for the top answer
    pix_area: str | None
    text: str  # French
    english: str


class QuestionnaireReport(Answer):
    """``GET /maturity/questionnaire``: the self-assessment and how it scores."""

    questions: list[QuestionReport]
    scale: list[Level]
    staff_training_points: int
    rule: MaturityRule
