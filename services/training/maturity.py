"""Association maturity: self-assessments in date order, each scored with the staff training the
records show up to its date, the baseline, and the upskilled rule — decisions only, no I/O.

The questionnaire and the score are in ``contracts.maturity``. Here:

* the **baseline** is the association's first assessment by date (``assessed_at``), whatever
  order the assessments were recorded in;
* an assessment's staff training is every STAFF session of the association that started on or
  before its date: headcount × duration. It is read from the sessions each time, so a
  headcount entered late counts in the assessments after that session;
* the association is **upskilled** once an assessment after the baseline scores at least
  ``MaturityRule.upskilled_points`` above it; ``upskilled_at`` is that assessment's date.
  Decided from scratch on every assessment and every staff headcount, announced once, never
  undone (like "trained"): whatever order the records arrive in, the result is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contracts.api.training import AnswerReport, AssessmentReport, MaturityReport
from contracts.errors import Conflict, FieldError, InvalidInput
from contracts.maturity import (
    MAX_ANSWER,
    QUESTIONNAIRE,
    MaturityQuestion,
    MaturityRule,
    maturity_score,
    question_points,
    questionnaire_points,
    staff_training_points,
)
from contracts.training import AssociationMaturityAssessedV2, AssociationUpskilledV1

# An assessment dated a little ahead of the service's clock is a clock difference, not a plan.
CLOCK_TOLERANCE = timedelta(minutes=10)

Answers = Mapping[MaturityQuestion, int]


@dataclass(frozen=True)
class SelfAssessment:
    """One self-assessment as recorded. ``answers`` is None for a score typed by hand before
    the questionnaire existed (``typed_score``): it keeps its place in the history."""

    id: str
    assessed_at: datetime
    recorded_at: datetime
    answers: Answers | None
    typed_score: int | None = None


@dataclass(frozen=True)
class StaffTraining:
    """A staff session as maturity counts it: how long, and how many staff attended."""

    session_id: str
    starts_at: datetime
    duration_minutes: int
    headcount: int

    @property
    def person_minutes(self) -> int:
        return self.duration_minutes * self.headcount


@dataclass(frozen=True)
class Maturity:
    """What training keeps about one association's maturity."""

    association_id: str
    assessments: tuple[SelfAssessment, ...] = ()
    upskilled_at: datetime | None = None


@dataclass(frozen=True)
class Scored:
    """An assessment with the staff training counted up to its date, and its score."""

    assessment: SelfAssessment
    staff_person_minutes: int
    score: int


def check_answers(
    answers: Mapping[str, int] | Mapping[MaturityQuestion, int],
) -> dict[MaturityQuestion, int]:
    """The answers as the questionnaire's questions, or :class:`InvalidInput` naming every
    unknown, missing or out-of-range answer (field ``answers.<question>``)."""
    known = {question.id.value: question.id for question in QUESTIONNAIRE}
    errors = [
        FieldError(f"answers.{name}", "not a question; questions: " + ", ".join(known))
        for name in answers
        if name not in known
    ]
    errors += [
        FieldError(f"answers.{name}", f"an answer from 0 (not at all) to {MAX_ANSWER} (fully)")
        for name, answer in answers.items()
        if name in known and not 0 <= answer <= MAX_ANSWER
    ]
    missing = [name for name in known if name not in answers]
    if missing:
        errors.append(
            FieldError("answers", "every question needs an answer; missing: " + ", ".join(missing))
        )
    if errors:
        raise InvalidInput(*errors)
    return {known[name]: answer for name, answer in answers.items()}


def staff_person_minutes(staff: Iterable[StaffTraining], until: datetime | None = None) -> int:
    """Headcount × minutes of the staff sessions started on or before ``until`` (None: all)."""
    return sum(s.person_minutes for s in staff if until is None or s.starts_at <= until)


def scored(maturity: Maturity, staff: Iterable[StaffTraining], rule: MaturityRule) -> list[Scored]:
    """Every assessment with its score as the records stand, by date (the baseline first)."""
    sessions = list(staff)
    ordered = sorted(maturity.assessments, key=lambda a: (a.assessed_at, a.recorded_at, a.id))
    history = []
    for assessment in ordered:
        minutes = staff_person_minutes(sessions, assessment.assessed_at)
        if assessment.answers is None:
            score = assessment.typed_score or 0
        else:
            score = maturity_score(assessment.answers, minutes, rule)
        history.append(Scored(assessment, minutes, score))
    return history


def upskilling(history: list[Scored], rule: MaturityRule) -> Scored | None:
    """The first assessment after the baseline scoring ``upskilled_points`` above it."""
    if not history:
        return None
    baseline = history[0]
    return next(
        (later for later in history[1:] if later.score - baseline.score >= rule.upskilled_points),
        None,
    )


def reconsider(
    current: Maturity, staff: Iterable[StaffTraining], rule: MaturityRule
) -> tuple[Maturity, AssociationUpskilledV1 | None]:
    """Upskilled decided again on everything known; the event on the transition only."""
    if current.upskilled_at is not None:
        return current, None
    history = scored(current, staff, rule)
    reached = upskilling(history, rule)
    if reached is None:
        return current, None
    at = reached.assessment.assessed_at
    event = AssociationUpskilledV1(
        association_id=current.association_id,
        baseline_score=history[0].score,
        score=reached.score,
        upskilled_at=at,
    )
    return replace(current, upskilled_at=at), event


def record(
    current: Maturity,
    assessment: SelfAssessment,
    staff: Iterable[StaffTraining],
    rule: MaturityRule,
) -> tuple[Maturity, list[AssociationMaturityAssessedV2 | AssociationUpskilledV1]]:
    """Add a self-assessment: the assessed event, and upskilled when it is the transition.

    An assessment whose id is already recorded with the same answers and date changes nothing
    (no event); with other answers or another date it is a :class:`Conflict`."""
    assessment = replace(
        assessment,
        assessed_at=_to_milliseconds(assessment.assessed_at),
        recorded_at=_to_milliseconds(assessment.recorded_at),
    )
    if assessment.answers is None:
        raise InvalidInput(FieldError("answers", "a self-assessment needs its answers"))
    answers = check_answers(assessment.answers)
    assessment = replace(assessment, answers=answers)
    if assessment.assessed_at.tzinfo is None:
        raise InvalidInput(FieldError("assessedAt", "must carry a timezone"))
    if assessment.assessed_at > assessment.recorded_at + CLOCK_TOLERANCE:
        raise InvalidInput(
            FieldError("assessedAt", "must not be in the future; record it once it is done")
        )
    existing = next((a for a in current.assessments if a.id == assessment.id), None)
    if existing is not None:
        if (existing.answers, existing.assessed_at) == (answers, assessment.assessed_at):
            return current, []
        raise Conflict(
            existing.id,
            f"maturity assessment {existing.id} is already recorded with other answers or "
            "another date; send a new assessment with a new id",
        )
    sessions = list(staff)
    added = replace(current, assessments=(*current.assessments, assessment))
    history = scored(added, sessions, rule)
    this = next(s for s in history if s.assessment.id == assessment.id)
    assessed = AssociationMaturityAssessedV2(
        association_id=current.association_id,
        assessment_id=assessment.id,
        answers=dict(answers),
        staff_person_minutes=this.staff_person_minutes,
        score=this.score,
        baseline_score=history[0].score,
        assessed_at=assessment.assessed_at,
    )
    updated, upskilled = reconsider(added, sessions, rule)
    return updated, [assessed, *([upskilled] if upskilled else [])]


def _to_milliseconds(at: datetime) -> datetime:
    """As MongoDB keeps it, so a resend compares equal to what was stored."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def report(
    maturity: Maturity, staff: Iterable[StaffTraining], rule: MaturityRule
) -> MaturityReport:
    """The association's maturity as a coordinator reads it."""
    sessions = list(staff)
    history = [_assessment_report(s, rule) for s in scored(maturity, sessions, rule)]
    baseline = history[0] if history else None
    latest = history[-1] if history else None
    return MaturityReport(
        association_id=maturity.association_id,
        baseline=baseline,
        latest=latest,
        gain=latest.score - baseline.score if latest and baseline else None,
        staff_person_minutes=staff_person_minutes(sessions),
        upskilled=maturity.upskilled_at is not None,
        upskilled_at=maturity.upskilled_at,
        rule=rule,
        history=history,
    )


def _assessment_report(scored: Scored, rule: MaturityRule) -> AssessmentReport:
    assessment = scored.assessment
    answers = assessment.answers or {}
    return AssessmentReport(
        id=assessment.id,
        assessed_at=assessment.assessed_at,
        recorded_at=assessment.recorded_at,
        score_only=assessment.answers is None,
        answers=[
            AnswerReport(
                question=question.id,
                answer=answers[question.id],
                points=float(question_points(question.id, answers[question.id])),
            )
            for question in QUESTIONNAIRE
            if question.id in answers
        ],
        questionnaire_points=float(questionnaire_points(answers)),
        staff_person_minutes=scored.staff_person_minutes,
        staff_points=float(staff_training_points(scored.staff_person_minutes, rule))
        if assessment.answers is not None
        else 0.0,
        score=scored.score,
    )
