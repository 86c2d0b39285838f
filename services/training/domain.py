"""Training rules: the Pix framework and modules, sessions and recurring schedules, attendance
and roll-calls, skill assessments, completion ("trained") and at-risk streaks — decisions
only, no I/O. Association maturity is in ``maturity.py``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.errors import Conflict, FieldError, InvalidInput
from contracts.training import (
    AnonymousAttendanceRecordedV1,
    AssessmentStage,
    AttendanceRecordedV1,
    AttendanceStatus,
    Autonomy,
    BeneficiaryAtRiskV1,
    BeneficiaryTrainedV1,
    SessionKind,
    SessionScheduledV1,
    SkillAssessedV1,
)

MIN_DURATION = 15
MAX_DURATION = 600
MAX_RECURRING_SESSIONS = 200
MAX_ANONYMOUS_COUNT = 1000
MAX_LEVEL = 8
AT_RISK_STREAK = 3
DEFAULT_TIMEZONE = "Europe/Paris"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class ModuleLevel(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Theme(StrEnum):
    JOB_SEARCH = "job_search"
    ADMINISTRATIVE_PROCEDURES_AND_RIGHTS = "administrative_procedures_and_rights"
    SAFE_USE = "safe_use"
    COMMUNICATING = "communicating"
    EVERYDAY_TOOLS = "everyday_tools"


# -- reference data: Pix framework and modules ---------------------------------------------


@dataclass(frozen=True)
class Competence:
    code: str
    name: str
    area_id: str


@dataclass(frozen=True)
class Area:
    id: str
    name: str
    english: str
    digcomp: str
    competences: tuple[Competence, ...]


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    competences: tuple[str, ...]
    level: ModuleLevel
    themes: tuple[Theme, ...]


@dataclass(frozen=True)
class Catalogue:
    """The Pix framework and the programme's modules."""

    areas: tuple[Area, ...]
    levels: tuple[int, ...]
    modules: dict[str, Module]

    @property
    def competences(self) -> dict[str, Competence]:
        return {c.code: c for area in self.areas for c in area.competences}


def catalogue_from(document: Mapping[str, Any]) -> Catalogue:
    """The catalogue from the shipped JSON; a module naming an unknown competence is an error."""
    framework = document["framework"]
    areas = tuple(
        Area(
            id=area["id"],
            name=area["name"],
            english=area["english"],
            digcomp=area["digcomp"],
            competences=tuple(
                Competence(code=c["code"], name=c["name"], area_id=area["id"])
                for c in area["competences"]
            ),
        )
        for area in framework["areas"]
    )
    known = {c.code for area in areas for c in area.competences}
    modules = {}
    for row in document["modules"]:
        unknown = [code for code in row["competences"] if code not in known]
        if unknown:
            raise ValueError(f"module {row['id']} names unknown competences {unknown}")
        modules[row["id"]] = Module(
            id=row["id"],
            title=row["title"],
            competences=tuple(row["competences"]),
            level=ModuleLevel(row["level"]),
            themes=tuple(Theme(theme) for theme in row["themes"]),
        )
    return Catalogue(areas=areas, levels=tuple(framework["levels"]), modules=modules)


# -- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPlan:
    """What a coordinator or association asks for when scheduling a session."""

    association_id: str
    district_id: str
    module_id: str
    kind: SessionKind
    place_type: str
    starts_at: datetime
    duration_minutes: int
    capacity: int | None = None


@dataclass(frozen=True)
class Session:
    id: str
    association_id: str
    district_id: str
    module_id: str
    kind: SessionKind
    place_type: str
    starts_at: datetime
    duration_minutes: int
    capacity: int | None = None
    anonymous_count: int = 0

    def scheduled_event(self) -> SessionScheduledV1:
        return SessionScheduledV1(
            session_id=self.id,
            association_id=self.association_id,
            district_id=self.district_id,
            module_id=self.module_id,
            kind=self.kind,
            place_type=self.place_type,
            starts_at=self.starts_at,
            duration_minutes=self.duration_minutes,
            capacity=self.capacity,
        )


def schedule(plan: SessionPlan, catalogue: Catalogue, *, session_id: str) -> Session:
    """The new session, or :class:`InvalidInput` naming every problem with the plan.

    Whether the association serves the district is registration's knowledge, not training's:
    both ids are taken as given, but must be present.
    """
    errors = _check_plan(plan, catalogue)
    if errors:
        raise InvalidInput(*errors)
    capacity = 1 if plan.kind is SessionKind.INDIVIDUAL else plan.capacity
    return Session(
        id=session_id,
        association_id=plan.association_id.strip(),
        district_id=plan.district_id.strip(),
        module_id=plan.module_id,
        kind=plan.kind,
        place_type=plan.place_type.strip(),
        starts_at=plan.starts_at,
        duration_minutes=plan.duration_minutes,
        capacity=capacity,
    )


def _check_plan(plan: SessionPlan, catalogue: Catalogue) -> list[FieldError]:
    errors = [
        FieldError(name, "must not be empty")
        for name, value in (
            ("associationId", plan.association_id),
            ("districtId", plan.district_id),
            ("placeType", plan.place_type),
        )
        if not value.strip()
    ]
    if plan.module_id not in catalogue.modules:
        known = ", ".join(sorted(catalogue.modules))
        errors.append(FieldError("moduleId", f"unknown module; known: {known}"))
    if plan.starts_at.tzinfo is None:
        errors.append(
            FieldError("startsAt", "must carry a timezone, e.g. 2026-03-02T14:00:00+01:00")
        )
    if not MIN_DURATION <= plan.duration_minutes <= MAX_DURATION:
        errors.append(
            FieldError(
                "durationMinutes", f"between {MIN_DURATION} and {MAX_DURATION} minutes (10 h)"
            )
        )
    if plan.capacity is not None and plan.capacity < 1:
        errors.append(FieldError("capacity", "at least 1, or leave it empty for no limit"))
    elif plan.kind is SessionKind.INDIVIDUAL and plan.capacity not in (None, 1):
        errors.append(FieldError("capacity", "an individual session has a capacity of 1"))
    return errors


@dataclass(frozen=True)
class Recurrence:
    """Weekly on ``weekdays`` (0 = Monday) from ``first_day`` to ``last_day`` inclusive, at the
    local time ``at`` in ``timezone``."""

    weekdays: tuple[int, ...]
    first_day: date
    last_day: date
    at: time
    timezone: str = DEFAULT_TIMEZONE


def recurring_starts(recurrence: Recurrence) -> list[datetime]:
    """The start of every occurrence, in order, as aware datetimes in the recurrence's zone.

    Each start is built from its local date and time, never by adding 7 × 24 h, so a weekly
    session stays at 14:00 in Paris across the daylight-saving changes.
    """
    errors = []
    try:
        zone = ZoneInfo(recurrence.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(FieldError("timezone", "an IANA time zone, e.g. Europe/Paris"))
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    if not recurrence.weekdays:
        errors.append(FieldError("weekdays", 'at least one day, e.g. ["monday"]'))
    if any(not 0 <= day <= 6 for day in recurrence.weekdays):
        errors.append(FieldError("weekdays", "days of the week: " + ", ".join(WEEKDAYS)))
    if recurrence.last_day < recurrence.first_day:
        errors.append(FieldError("until", "must be on or after the first day (from)"))
    if errors:
        raise InvalidInput(*errors)
    days = set(recurrence.weekdays)
    starts: list[datetime] = []
    day = recurrence.first_day
    while day <= recurrence.last_day:
        if day.weekday() in days:
            if len(starts) == MAX_RECURRING_SESSIONS:
                raise InvalidInput(
                    FieldError(
                        "until",
                        f"this schedule makes more than {MAX_RECURRING_SESSIONS} sessions; "
                        "shorten the period or schedule it in parts",
                    )
                )
            starts.append(datetime.combine(day, recurrence.at, tzinfo=zone))
        day += timedelta(days=1)
    if not starts:
        raise InvalidInput(FieldError("weekdays", "none of these days falls in the period"))
    return starts


def weekday_number(name: str) -> int:
    try:
        return WEEKDAYS.index(name.strip().lower())
    except ValueError as error:
        raise InvalidInput(
            FieldError("weekdays", f"{name!r} is not a day; use " + ", ".join(WEEKDAYS))
        ) from error


def record_anonymous_attendance(
    session: Session, count: int, now: datetime
) -> tuple[Session, AnonymousAttendanceRecordedV1 | None]:
    """Set the session's anonymous headcount; no event when it does not change."""
    if not 0 <= count <= MAX_ANONYMOUS_COUNT:
        raise InvalidInput(FieldError("count", f"between 0 and {MAX_ANONYMOUS_COUNT}"))
    if session.capacity is not None and count > session.capacity:
        raise InvalidInput(
            FieldError("count", f"at most the session's capacity ({session.capacity})")
        )
    if count == session.anonymous_count:
        return session, None
    event = AnonymousAttendanceRecordedV1(session_id=session.id, count=count, recorded_at=now)
    return replace(session, anonymous_count=count), event


# -- beneficiaries, as training knows them (ids and status, never personal data) -------------


class BeneficiaryStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"
    ERASED = "erased"


@dataclass(frozen=True)
class Person:
    """What training knows of a beneficiary: registration's facts plus its own flags."""

    id: str
    association_id: str | None
    status: BeneficiaryStatus = BeneficiaryStatus.ACTIVE
    merged_into: str | None = None
    trained_at: datetime | None = None
    at_risk_sessions: frozenset[str] = frozenset()


class RefusedBeneficiary(InvalidInput):
    """Attendance or an assessment names someone training cannot record; ``reason`` is the
    dead-letter code for partner intake."""

    def __init__(self, reason: str, field: str, message: str, *, waitable: bool = False) -> None:
        super().__init__(FieldError(field, message))
        self.reason = reason
        # Not known yet (rather than erased or merged): a partner's request may wait for them.
        self.waitable = waitable


def require_recordable(
    beneficiary_id: UUID, person: Person | None, field: str = "beneficiaryId"
) -> None:
    """Refuse anyone training does not know as enrolled (withdrawn people's late records are
    still taken: what they did counts)."""
    if person is None or person.status is BeneficiaryStatus.ERASED:
        raise RefusedBeneficiary(
            "unknown_beneficiary",
            field,
            f"training does not know beneficiary {beneficiary_id}: not enrolled (or erased), or "
            "the enrolment has not reached training yet; enrol the person first, or retry in a "
            "few seconds",
            waitable=person is None,
        )
    if person.status is BeneficiaryStatus.MERGED:
        raise RefusedBeneficiary(
            "merged_beneficiary",
            field,
            f"beneficiary {beneficiary_id} was merged into {person.merged_into}; record it under "
            "that id",
        )


def enrolled(current: Person | None, beneficiary_id: str, association_id: str) -> Person | None:
    """The person after an enrolment or update from registration; None to leave as is (an
    erased or merged record is never brought back by a late or replayed event)."""
    if current is None:
        return Person(beneficiary_id, association_id)
    if current.status in (BeneficiaryStatus.ERASED, BeneficiaryStatus.MERGED):
        return None
    return replace(current, association_id=association_id)


def withdrawn(current: Person | None, beneficiary_id: str) -> Person | None:
    if current is None:
        return Person(beneficiary_id, None, BeneficiaryStatus.WITHDRAWN)
    if current.status is not BeneficiaryStatus.ACTIVE:
        return None
    return replace(current, status=BeneficiaryStatus.WITHDRAWN)


def merged(
    kept: Person | None, duplicate: Person | None, kept_id: str, duplicate_id: str
) -> tuple[Person, Person]:
    """(kept, duplicate) after registration folded the duplicate into the kept record: the
    kept person inherits the at-risk flags; trained is re-decided on the merged records."""
    base = kept or Person(kept_id, duplicate.association_id if duplicate else None)
    flags = base.at_risk_sessions | (duplicate.at_risk_sessions if duplicate else frozenset())
    return (
        replace(base, at_risk_sessions=flags),
        Person(duplicate_id, None, BeneficiaryStatus.MERGED, merged_into=kept_id),
    )


# -- attendance ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceMark:
    """One line of a roll-call, or a single attendance report."""

    beneficiary_id: UUID
    status: AttendanceStatus
    minutes: int | None = None


@dataclass(frozen=True)
class Attendance:
    id: str
    session_id: str
    beneficiary_id: str  # a UUID, or "erased-…" once the person is erased
    status: AttendanceStatus
    minutes: int
    module_id: str
    association_id: str
    session_starts_at: datetime
    recorded_at: datetime

    def same_fact(self, other: Attendance) -> bool:
        return (self.session_id, self.beneficiary_id, self.status, self.minutes) == (
            other.session_id,
            other.beneficiary_id,
            other.status,
            other.minutes,
        )

    def recorded_event(self) -> AttendanceRecordedV1:
        return AttendanceRecordedV1(
            attendance_id=self.id,
            session_id=self.session_id,
            beneficiary_id=UUID(self.beneficiary_id),
            status=self.status,
            minutes=self.minutes,
            module_id=self.module_id,
            association_id=self.association_id,
            session_starts_at=self.session_starts_at,
            recorded_at=self.recorded_at,
        )


def minutes_attended(session: Session, mark: AttendanceMark, where: str = "minutes") -> int:
    """The minutes to record: the session's duration by default when present, 0 when absent."""
    if mark.status is not AttendanceStatus.PRESENT:
        if mark.minutes:
            raise InvalidInput(FieldError(where, "must be 0 or empty for an absence"))
        return 0
    if mark.minutes is None:
        return session.duration_minutes
    if not 1 <= mark.minutes <= session.duration_minutes:
        raise InvalidInput(
            FieldError(where, f"between 1 and the session's {session.duration_minutes} minutes")
        )
    return mark.minutes


def record_attendance(
    session: Session,
    mark: AttendanceMark,
    existing: Attendance | None,
    *,
    attendance_id: str,
    now: datetime,
    present_count: int = 0,
    correcting: bool = False,
) -> Attendance | None:
    """The new record, None when the same fact is already recorded (a resend), or
    :class:`Conflict` when a different one is (one record per session and person) — unless
    ``correcting``: then the record is the recorded one corrected (same id, recorded now).

    ``present_count`` is how many people are already recorded present at the session.
    """
    if session.kind is SessionKind.STAFF:
        raise InvalidInput(
            FieldError(
                "sessionId",
                "this session trains association staff; record beneficiaries' attendance on "
                "an individual or collective session, or give a headcount (anonymous attendance)",
            )
        )
    attendance = Attendance(
        id=attendance_id,
        session_id=session.id,
        beneficiary_id=str(mark.beneficiary_id),
        status=mark.status,
        minutes=minutes_attended(session, mark),
        module_id=session.module_id,
        association_id=session.association_id,
        session_starts_at=session.starts_at,
        recorded_at=now,
    )
    if existing is not None:
        if existing.same_fact(attendance):
            return None
        if not correcting:
            raise Conflict(
                existing.id,
                f"attendance of {mark.beneficiary_id} at session {session.id} is already "
                f"recorded as {existing.status.value} ({existing.minutes} min); one record per "
                "session and person (a roll-call may correct it)",
            )
        attendance = replace(attendance, id=existing.id)
    newly_present = existing is None or existing.status is not AttendanceStatus.PRESENT
    if (
        attendance.status is AttendanceStatus.PRESENT
        and newly_present
        and session.capacity is not None
        and present_count + session.anonymous_count >= session.capacity
    ):
        raise InvalidInput(
            FieldError("status", f"the session is full (capacity {session.capacity})")
        )
    return attendance


def roll_call(
    session: Session,
    marks: Sequence[AttendanceMark],
    existing: Mapping[str, Attendance],
    *,
    attendance_ids: Iterable[str],
    now: datetime,
    correcting: bool = False,
) -> list[Attendance]:
    """The records a roll-call adds (or, ``correcting``, corrects), all or none: any problem on
    any line refuses the whole roll-call with one error per line (``records[i].field``). Lines
    already recorded identically are skipped; a person named twice is refused. A line that
    differs from the recorded one is a conflict, unless ``correcting``: then it replaces it
    (same attendance id, recorded now)."""
    errors: list[FieldError] = []
    added: list[Attendance] = []
    seen: set[UUID] = set()
    present = sum(1 for a in existing.values() if a.status is AttendanceStatus.PRESENT)
    ids = iter(attendance_ids)
    for index, mark in enumerate(marks):
        where = f"records[{index}]"
        if mark.beneficiary_id in seen:
            errors.append(FieldError(f"{where}.beneficiaryId", "named twice in this roll-call"))
            continue
        seen.add(mark.beneficiary_id)
        before = existing.get(str(mark.beneficiary_id))
        try:
            attendance = record_attendance(
                session,
                mark,
                before,
                attendance_id=next(ids),
                now=now,
                present_count=present,
                correcting=correcting,
            )
        except InvalidInput as refused:
            errors.extend(
                FieldError(f"{where}.{e.field if e.field != 'id' else 'status'}", e.message)
                for e in refused.errors
            )
            continue
        if attendance is not None:
            added.append(attendance)
            present += attendance.status is AttendanceStatus.PRESENT
            present -= before is not None and before.status is AttendanceStatus.PRESENT
    if errors:
        raise InvalidInput(*errors)
    return added


# -- assessments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    beneficiary_id: str
    competence: str
    stage: AssessmentStage
    level: int
    autonomy: Autonomy
    assessed_at: datetime

    def assessed_event(self) -> SkillAssessedV1:
        return SkillAssessedV1(
            beneficiary_id=UUID(self.beneficiary_id),
            competence=self.competence,
            stage=self.stage,
            level=self.level,
            autonomy=self.autonomy,
            assessed_at=self.assessed_at,
        )


def assess(
    assessment: Assessment, catalogue: Catalogue, existing: Assessment | None
) -> Assessment | None:
    """The assessment to store (the latest per person, competence and stage), or None when
    the same result is already recorded."""
    errors = []
    if assessment.competence not in catalogue.competences:
        known = ", ".join(sorted(catalogue.competences))
        errors.append(FieldError("competence", f"a Pix competence code; known: {known}"))
    if not 0 <= assessment.level <= MAX_LEVEL:
        errors.append(FieldError("level", f"from 0 (not acquired) to {MAX_LEVEL}"))
    if assessment.assessed_at.tzinfo is None:
        errors.append(FieldError("assessedAt", "must carry a timezone"))
    if errors:
        raise InvalidInput(*errors)
    if existing is not None and (existing.level, existing.autonomy) == (
        assessment.level,
        assessment.autonomy,
    ):
        return None
    return assessment


# -- completion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CompletionRule:
    """When a beneficiary counts as trained (the programme's default: 4 sessions, 12 h)."""

    min_sessions: int = 4
    min_minutes: int = 720
    require_final_assessment: bool = False


@dataclass(frozen=True)
class AttendanceTotals:
    sessions_present: int = 0
    minutes_present: int = 0
    excused_absences: int = 0
    unexcused_absences: int = 0


def totals(attendances: Iterable[Attendance]) -> AttendanceTotals:
    """Totals over distinct sessions (a repeated record for a session counts once)."""
    by_session = {a.session_id: a for a in attendances}
    present = [a for a in by_session.values() if a.status is AttendanceStatus.PRESENT]
    return AttendanceTotals(
        sessions_present=len(present),
        minutes_present=sum(a.minutes for a in present),
        excused_absences=sum(
            a.status is AttendanceStatus.EXCUSED_ABSENCE for a in by_session.values()
        ),
        unexcused_absences=sum(
            a.status is AttendanceStatus.UNEXCUSED_ABSENCE for a in by_session.values()
        ),
    )


def meets_rule(
    rule: CompletionRule, attendances: Iterable[Attendance], assessments: Iterable[Assessment]
) -> bool:
    """The completion rule on everything known about the person, from scratch."""
    done = totals(attendances)
    if done.sessions_present < rule.min_sessions or done.minutes_present < rule.min_minutes:
        return False
    return not rule.require_final_assessment or any(
        a.stage is AssessmentStage.FINAL for a in assessments
    )


def completion(
    rule: CompletionRule,
    beneficiary_id: str,
    already_trained: bool,
    attendances: Sequence[Attendance],
    assessments: Sequence[Assessment],
    now: datetime,
) -> BeneficiaryTrainedV1 | None:
    """The trained event on the not-trained → trained transition only: once per person,
    whatever the order or repetition of the records that led there. Trained is never undone."""
    if already_trained or not meets_rule(rule, attendances, assessments):
        return None
    done = totals(attendances)
    return BeneficiaryTrainedV1(
        beneficiary_id=UUID(beneficiary_id),
        sessions_present=done.sessions_present,
        minutes_present=done.minutes_present,
        trained_at=min(now, rule_met_at(rule, attendances, assessments) or now),
    )


def rule_met_at(
    rule: CompletionRule, attendances: Sequence[Attendance], assessments: Sequence[Assessment]
) -> datetime | None:
    """When the person actually met the rule: the start of the session that completed it (or
    the final assessment, when required and later), not when the records reached us — an
    association entering last month's roll-calls today trained people last month."""
    present = sorted(
        (a for a in attendances if a.status is AttendanceStatus.PRESENT),
        key=lambda a: a.session_starts_at,
    )
    sessions = minutes = 0
    met: datetime | None = None
    seen: set[str] = set()
    for attendance in present:
        if attendance.session_id in seen:
            continue
        seen.add(attendance.session_id)
        sessions += 1
        minutes += attendance.minutes
        if sessions >= rule.min_sessions and minutes >= rule.min_minutes:
            met = attendance.session_starts_at
            break
    if met is None or not rule.require_final_assessment:
        return met
    finals = [a.assessed_at for a in assessments if a.stage is AssessmentStage.FINAL]
    return max(met, min(finals)) if finals else None


# -- at risk -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Streak:
    session_ids: tuple[str, ...]  # in session start order


def unexcused_streaks(
    attendances: Iterable[Attendance], threshold: int = AT_RISK_STREAK
) -> list[Streak]:
    """Runs of at least ``threshold`` unexcused absences in a row, by session start time.

    Any other record (present, excused) ends a run: "in a row" means nothing else in between.
    """
    ordered = sorted(
        {a.session_id: a for a in attendances}.values(),
        key=lambda a: (a.session_starts_at, a.session_id),
    )
    streaks: list[Streak] = []
    run: list[str] = []
    for attendance in [*ordered, None]:
        if attendance is not None and attendance.status is AttendanceStatus.UNEXCUSED_ABSENCE:
            run.append(attendance.session_id)
            continue
        if len(run) >= threshold:
            streaks.append(Streak(tuple(run)))
        run = []
    return streaks


@dataclass(frozen=True)
class AbsenceRun:
    """Where a person stands now: the unexcused absences since they last came (or were
    excused), and when they last attended."""

    sessions_missed: int
    last_session_at: datetime | None
    last_present_at: datetime | None


def current_absences(attendances: Iterable[Attendance]) -> AbsenceRun:
    """The run of unexcused absences that ends with the person's latest session: the one to
    follow up. Someone who came back (present or excused since) has none, even if an earlier
    run flagged them."""
    ordered = sorted(
        {a.session_id: a for a in attendances}.values(),
        key=lambda a: (a.session_starts_at, a.session_id),
    )
    missed = 0
    for attendance in reversed(ordered):
        if attendance.status is not AttendanceStatus.UNEXCUSED_ABSENCE:
            break
        missed += 1
    present = [a.session_starts_at for a in ordered if a.status is AttendanceStatus.PRESENT]
    return AbsenceRun(
        sessions_missed=missed,
        last_session_at=ordered[-1].session_starts_at if ordered else None,
        last_present_at=present[-1] if present else None,
    )


def at_risk(
    beneficiary_id: str,
    attendances: Sequence[Attendance],
    flagged_sessions: frozenset[str],
    now: datetime,
    threshold: int = AT_RISK_STREAK,
) -> tuple[frozenset[str], list[BeneficiaryAtRiskV1]]:
    """The sessions now covered by a flagged streak, and an event for each new streak.

    A streak is flagged once: one that grows, or joins another, shares sessions with a
    streak already flagged and is not flagged again, whatever order the records came in.
    """
    flagged = set(flagged_sessions)
    events = []
    for streak in unexcused_streaks(attendances, threshold):
        if not flagged.intersection(streak.session_ids):
            events.append(
                BeneficiaryAtRiskV1(
                    beneficiary_id=UUID(beneficiary_id),
                    consecutive_unexcused_absences=len(streak.session_ids),
                    last_session_id=streak.session_ids[-1],
                    flagged_at=now,
                )
            )
        flagged.update(streak.session_ids)
    return frozenset(flagged), events
