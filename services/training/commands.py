"""Training's use cases, shared by the HTTP API and the Kafka handlers: load, decide (domain),
store and emit — each in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from contracts.api.training import (
    AtRiskView,
    CompetenceProgressView,
    CompletionRuleView,
    MaturityReport,
    ProgressView,
    StageView,
)
from contracts.errors import Conflict, FieldError, InvalidInput, NotFound
from contracts.event import EventData
from contracts.maturity import MaturityRule
from contracts.training import AssessmentStage, AttendanceStatus, SessionKind
from kit.mongo import Session
from services.training import domain, maturity
from services.training.domain import (
    Assessment,
    Attendance,
    AttendanceMark,
    Catalogue,
    CompletionRule,
    Person,
)
from services.training.domain import Session as TrainingSession
from services.training.store import TrainingStore

T = TypeVar("T")


@dataclass(frozen=True)
class Headcount:
    """A collective session's anonymous headcount, reported with its attendance."""

    count: int


Transact = Callable[[Callable[[Session], Awaitable[Any]]], Awaitable[Any]]


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Rules:
    completion: CompletionRule = field(default_factory=CompletionRule)
    maturity: MaturityRule = field(default_factory=MaturityRule)
    at_risk_streak: int = domain.AT_RISK_STREAK


class Training:
    def __init__(
        self, store: TrainingStore, transact: Transact, catalogue: Catalogue, rules: Rules
    ) -> None:
        self.store = store
        self._transact = transact
        self.catalogue = catalogue
        self.rules = rules

    async def _in_transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        result: T = await self._transact(work)
        return result

    async def session(self, session_id: str, session: Session | None = None) -> TrainingSession:
        found = await self.store.get_session(session_id, session)
        if found is None:
            raise NotFound(f"no session {session_id}")
        return found

    # -- sessions ----------------------------------------------------------------------------

    async def schedule(self, plan: domain.SessionPlan) -> TrainingSession:
        [scheduled] = await self.schedule_many([plan])
        return scheduled

    async def schedule_recurring(
        self, plan: domain.SessionPlan, recurrence: domain.Recurrence
    ) -> list[TrainingSession]:
        """Every occurrence of a weekly schedule, all or none (the plan's start is ignored)."""
        starts = domain.recurring_starts(recurrence)
        return await self.schedule_many([replace(plan, starts_at=start) for start in starts])

    async def schedule_many(self, plans: Sequence[domain.SessionPlan]) -> list[TrainingSession]:
        sessions = [
            domain.schedule(plan, self.catalogue, session_id=str(uuid4())) for plan in plans
        ]

        async def work(session: Session) -> None:
            await self._store_sessions(session, sessions)

        await self._in_transaction(work)
        return sessions

    async def schedule_in(
        self, session: Session, plan: domain.SessionPlan, session_id: UUID | None = None
    ) -> TrainingSession:
        """As :meth:`schedule`, inside the caller's transaction (partner intake); a partner may
        choose the id, but not one already in use (:class:`Conflict`)."""
        [outcome] = await self.schedule_many_in(session, [(plan, session_id)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def schedule_many_in(
        self, session: Session, plans: Sequence[tuple[domain.SessionPlan, UUID | None]]
    ) -> list[TrainingSession | InvalidInput | NotFound]:
        """As :meth:`schedule_in` for each plan in order, with one read and one write for the
        lot: each session scheduled, or why not (an id in use, earlier in the list too, is a
        :class:`Conflict`); only the scheduled ones are stored."""
        chosen = [str(session_id) for _, session_id in plans if session_id is not None]
        taken = set(await self.store.sessions_among(chosen, session)) if chosen else set()
        outcomes: list[TrainingSession | InvalidInput | NotFound] = []
        for plan, session_id in plans:
            if session_id is not None and str(session_id) in taken:
                outcomes.append(
                    Conflict(
                        str(session_id),
                        f"session {session_id} already exists; choose a new id for a new session",
                    )
                )
                continue
            try:
                scheduled = domain.schedule(
                    plan, self.catalogue, session_id=str(session_id or uuid4())
                )
            except (InvalidInput, NotFound) as refused:
                outcomes.append(refused)
                continue
            taken.add(scheduled.id)
            outcomes.append(scheduled)
        await self._store_sessions(session, [s for s in outcomes if isinstance(s, TrainingSession)])
        return outcomes

    async def _store_sessions(self, session: Session, sessions: list[TrainingSession]) -> None:
        if sessions:
            await self.store.add_sessions(session, sessions)
            await self.store.emit_many(session, [s.scheduled_event() for s in sessions])

    async def record_anonymous_attendance(self, session_id: str, count: int) -> TrainingSession:
        async def work(session: Session) -> TrainingSession:
            return await self.record_anonymous_attendance_in(session, session_id, count)

        return await self._in_transaction(work)

    async def record_anonymous_attendance_in(
        self, session: Session, session_id: str, count: int
    ) -> TrainingSession:
        """As :meth:`record_anonymous_attendance`, inside the caller's transaction."""
        [outcome] = await self.record_attendance_many(session, [(session_id, Headcount(count))])
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, TrainingSession)
        return outcome

    # -- attendance --------------------------------------------------------------------------

    async def record_attendance(
        self, session_id: str, mark: AttendanceMark
    ) -> tuple[Attendance, bool]:
        """The record and whether it is new; a resend of the same fact returns the stored one."""

        async def work(session: Session) -> tuple[Attendance, bool]:
            return await self.record_attendance_in(session, session_id, mark)

        return await self._in_transaction(work)

    async def record_attendance_in(
        self, session: Session, session_id: str, mark: AttendanceMark
    ) -> tuple[Attendance, bool]:
        """As :meth:`record_attendance`, inside the caller's transaction (partner intake)."""
        training_session = await self.session(session_id, session)
        domain.require_recordable(
            mark.beneficiary_id, await self.store.person(str(mark.beneficiary_id), session)
        )
        roll = await self.store.roll_call_of(session_id, session)
        existing = roll.get(str(mark.beneficiary_id))
        attendance = domain.record_attendance(
            training_session,
            mark,
            existing,
            attendance_id=str(uuid4()),
            now=now(),
            present_count=_present(roll),
        )
        if attendance is None:
            assert existing is not None
            return existing, False
        await self._store_attendance(session, [attendance])
        return attendance, True

    async def record_attendance_many(
        self,
        session: Session,
        marks: Sequence[tuple[str, AttendanceMark | Headcount]],
        *,
        reconsider: bool = True,
    ) -> list[Attendance | TrainingSession | Exception | None]:
        """Many partners' attendance reports and collective headcounts in the caller's
        transaction, each decided as :meth:`record_attendance_in` would (a headcount by
        :func:`domain.record_anonymous_attendance`), in this order (a headcount and the
        attendance of its session share its capacity), with a few reads and writes for the
        lot: per report the new record (a headcount: the session), None (the same fact already
        recorded) or the refusal (returned, not raised: the others still apply)."""
        session_ids = list(dict.fromkeys(session_id for session_id, _ in marks))
        people_ids = list(
            dict.fromkeys(
                str(mark.beneficiary_id) for _, mark in marks if isinstance(mark, AttendanceMark)
            )
        )
        sessions = await self.store.sessions_among(session_ids, session)
        people = await self.store.people_among(people_ids, session) if people_ids else {}
        rolls = await self.store.roll_calls_in(session_ids, session)
        outcomes: list[Attendance | TrainingSession | Exception | None] = []
        added: list[Attendance] = []
        events: list[EventData] = []
        counted: dict[str, TrainingSession] = {}  # sessions whose headcount changed
        at = now()
        for session_id, mark in marks:
            try:
                training_session = sessions.get(session_id)
                if training_session is None:
                    raise NotFound(f"no session {session_id}")
                if isinstance(mark, Headcount):
                    updated, counted_event = domain.record_anonymous_attendance(
                        training_session, mark.count, at
                    )
                    if counted_event is not None:
                        sessions[session_id] = counted[session_id] = updated
                        events.append(counted_event)
                    outcomes.append(updated)
                    continue
                domain.require_recordable(mark.beneficiary_id, people.get(str(mark.beneficiary_id)))
                roll = rolls.setdefault(session_id, {})
                attendance = domain.record_attendance(
                    training_session,
                    mark,
                    roll.get(str(mark.beneficiary_id)),
                    attendance_id=str(uuid4()),
                    now=at,
                    present_count=_present(roll),
                )
            except (NotFound, InvalidInput) as refused:
                outcomes.append(refused)
                continue
            if attendance is not None:
                roll[attendance.beneficiary_id] = attendance
                added.append(attendance)
                events.append(attendance.recorded_event())
            outcomes.append(attendance)
        if added:
            await self.store.add_attendance(session, added)
        await self.store.save_sessions(session, list(counted.values()))
        await self.store.emit_many(session, events)
        staff = {s.association_id for s in counted.values() if s.kind is SessionKind.STAFF}
        for association_id in sorted(staff):  # a staff headcount: upskilled decided again
            await self._reconsider_maturity(session, association_id)
        if added and reconsider:
            await self.reconsider_many(
                session, list(dict.fromkeys(a.beneficiary_id for a in added))
            )
        return outcomes

    async def assess_many(
        self, session: Session, assessments: Sequence[Assessment], *, reconsider: bool = True
    ) -> list[Assessment | Exception | None]:
        """Many partners' assessments in the caller's transaction, each decided as
        :meth:`assess_in` would in this order, with a few reads and writes for the lot: per
        assessment the one stored, None (the same result already recorded) or the refusal."""
        people_ids = list(dict.fromkeys(a.beneficiary_id for a in assessments))
        people = await self.store.people_among(people_ids, session)
        recorded = await self.store.assessments_of_many(people_ids, session)
        latest = {
            (a.beneficiary_id, a.competence, a.stage): a for v in recorded.values() for a in v
        }
        outcomes: list[Assessment | Exception | None] = []
        decided_all: dict[tuple[str, str, Any], Assessment] = {}
        for assessment in assessments:
            key = (assessment.beneficiary_id, assessment.competence, assessment.stage)
            try:
                domain.require_recordable(
                    UUID(assessment.beneficiary_id), people.get(assessment.beneficiary_id)
                )
                decided = domain.assess(assessment, self.catalogue, latest.get(key))
            except InvalidInput as refused:
                outcomes.append(refused)
                continue
            if decided is not None:
                latest[key] = decided
                decided_all[key] = decided
            outcomes.append(decided)
        if decided_all:
            stored = list(decided_all.values())
            await self.store.save_assessments(session, stored)
            await self.store.emit_many(session, [a.assessed_event() for a in stored])
            if reconsider:
                await self.reconsider_many(
                    session, list(dict.fromkeys(a.beneficiary_id for a in stored))
                )
        return outcomes

    async def reconsider_many(self, session: Session, beneficiary_ids: list[str]) -> None:
        """:meth:`_reconsider` for many people, with one read each of who they are, their
        attendance and their assessments."""
        if not beneficiary_ids:
            return
        people = await self.store.people_among(beneficiary_ids, session)
        attendances = await self.store.attendance_of_many(beneficiary_ids, session)
        assessments = await self.store.assessments_of_many(beneficiary_ids, session)
        at = now()
        updates: list[Person] = []
        events: list[Any] = []
        for beneficiary_id in beneficiary_ids:
            person = people.get(beneficiary_id)
            if person is None or person.status in (
                domain.BeneficiaryStatus.ERASED,
                domain.BeneficiaryStatus.MERGED,
            ):
                continue
            updated, decided = self._reconsidered(
                person, attendances[beneficiary_id], assessments[beneficiary_id], at
            )
            if updated != person:
                updates.append(updated)
            events.extend(decided)
        await self.store.save_people(session, updates)
        await self.store.emit_many(session, events)

    def _reconsidered(
        self,
        person: Person,
        attendances: list[Attendance],
        assessments: list[Assessment],
        at: datetime,
    ) -> tuple[Person, list[Any]]:
        """The person with trained and at-risk decided again, and the events of what changed."""
        trained = domain.completion(
            self.rules.completion,
            person.id,
            person.trained_at is not None,
            attendances,
            assessments,
            at,
        )
        flagged, at_risk = domain.at_risk(
            person.id, attendances, person.at_risk_sessions, at, self.rules.at_risk_streak
        )
        updated = replace(
            person,
            trained_at=trained.trained_at if trained else person.trained_at,
            at_risk_sessions=flagged,
        )
        return updated, [*at_risk, *([trained] if trained else [])]

    async def roll_call(
        self, session_id: str, marks: Sequence[AttendanceMark], *, correcting: bool = False
    ) -> list[Attendance]:
        """Record a whole roll-call at once, all or none; the records it added or (when
        ``correcting``) corrected."""

        async def work(session: Session) -> list[Attendance]:
            training_session = await self.session(session_id, session)
            errors: list[FieldError] = []
            for index, mark in enumerate(marks):
                person = await self.store.person(str(mark.beneficiary_id), session)
                try:
                    domain.require_recordable(
                        mark.beneficiary_id, person, f"records[{index}].beneficiaryId"
                    )
                except InvalidInput as refused:
                    errors.extend(refused.errors)
            roll = await self.store.roll_call_of(session_id, session)
            try:
                added = domain.roll_call(
                    training_session,
                    marks,
                    roll,
                    attendance_ids=(str(uuid4()) for _ in marks),
                    now=now(),
                    correcting=correcting,
                )
            except InvalidInput as refused:
                errors.extend(refused.errors)
            if errors:
                raise InvalidInput(*errors)
            corrected = [a for a in added if a.beneficiary_id in roll]
            await self.store.replace_attendance(session, corrected)
            await self._store_attendance(session, [a for a in added if a not in corrected])
            for attendance in corrected:  # same attendance id: readers keep the latest record
                await self.store.emit(session, attendance.recorded_event())
                await self._reconsider(session, attendance.beneficiary_id)
            return added

        return await self._in_transaction(work)

    async def _store_attendance(self, session: Session, records: list[Attendance]) -> None:
        await self.store.add_attendance(session, records)
        for attendance in records:
            await self.store.emit(session, attendance.recorded_event())
        for beneficiary_id in dict.fromkeys(a.beneficiary_id for a in records):
            await self._reconsider(session, beneficiary_id)

    async def _reconsider(self, session: Session, beneficiary_id: str) -> None:
        """Re-decide trained and at-risk on everything known about the person, from scratch;
        events only on transitions, so repeats and any arrival order give the same result."""
        person = await self.store.person(beneficiary_id, session)
        if person is None or person.status in (
            domain.BeneficiaryStatus.ERASED,
            domain.BeneficiaryStatus.MERGED,
        ):
            return
        attendances = await self.store.attendance_of(beneficiary_id, session)
        assessments = await self.store.assessments_of(beneficiary_id, session)
        updated, events = self._reconsidered(person, attendances, assessments, now())
        if updated != person:
            await self.store.save_person(session, updated)
        for event in events:
            await self.store.emit(session, event)

    # -- assessments -------------------------------------------------------------------------

    async def assess(self, assessment: Assessment) -> tuple[Assessment, bool]:
        async def work(session: Session) -> tuple[Assessment, bool]:
            return await self.assess_in(session, assessment)

        return await self._in_transaction(work)

    async def assess_in(self, session: Session, assessment: Assessment) -> tuple[Assessment, bool]:
        """As :meth:`assess`, inside the caller's transaction (partner intake)."""
        beneficiary_id = UUID(assessment.beneficiary_id)
        domain.require_recordable(
            beneficiary_id, await self.store.person(assessment.beneficiary_id, session)
        )
        existing = await self.store.get_assessment(
            session, assessment.beneficiary_id, assessment.competence, assessment.stage
        )
        decided = domain.assess(assessment, self.catalogue, existing)
        if decided is None:
            assert existing is not None
            return existing, False
        await self.store.save_assessment(session, decided)
        await self.store.emit(session, decided.assessed_event())
        await self._reconsider(session, decided.beneficiary_id)
        return decided, True

    # -- association maturity ----------------------------------------------------------------

    async def assess_maturity(
        self, association_id: str, assessment: maturity.SelfAssessment
    ) -> tuple[MaturityReport, bool]:
        """Record a self-assessment; the maturity after it, and whether it was new."""

        async def work(session: Session) -> tuple[MaturityReport, bool]:
            created = await self.assess_maturity_in(session, association_id, assessment)
            return await self.maturity_report(association_id, session), created

        return await self._in_transaction(work)

    async def assess_maturity_in(
        self, session: Session, association_id: str, assessment: maturity.SelfAssessment
    ) -> bool:
        """As :meth:`assess_maturity`, inside the caller's transaction (partner intake)."""
        current = await self.store.maturity_of(association_id, session)
        staff = await self.store.staff_training_of(association_id, session)
        updated, events = maturity.record(current, assessment, staff, self.rules.maturity)
        if not events:
            return False
        await self.store.save_maturity(session, updated)
        for event in events:
            await self.store.emit(session, event)
        return True

    async def _reconsider_maturity(self, session: Session, association_id: str) -> None:
        """A staff headcount changed: upskilled decided again. The maturity record is written
        even when nothing changes, so an assessment recorded at the same moment conflicts with
        this transaction (and is retried) instead of both missing each other's records."""
        current = await self.store.maturity_of(association_id, session)
        staff = await self.store.staff_training_of(association_id, session)
        updated, upskilled = maturity.reconsider(current, staff, self.rules.maturity)
        await self.store.save_maturity(session, updated)
        if upskilled is not None:
            await self.store.emit(session, upskilled)

    async def maturity_report(
        self, association_id: str, session: Session | None = None
    ) -> MaturityReport:
        current = await self.store.maturity_of(association_id, session)
        staff = await self.store.staff_training_of(association_id, session)
        return maturity.report(current, staff, self.rules.maturity)

    # -- registration's facts (called by the handler, inside its idempotent transaction) ----

    async def beneficiary_enrolled(
        self, session: Session, beneficiary_id: str, association_id: str
    ) -> None:
        current = await self.store.person(beneficiary_id, session)
        updated = domain.enrolled(current, beneficiary_id, association_id)
        if updated is not None and updated != current:
            await self.store.save_person(session, updated)

    async def beneficiary_withdrawn(self, session: Session, beneficiary_id: str) -> None:
        updated = domain.withdrawn(await self.store.person(beneficiary_id, session), beneficiary_id)
        if updated is not None:
            await self.store.save_person(session, updated)

    async def beneficiary_erased(self, session: Session, beneficiary_id: str) -> None:
        await self.store.forget(session, beneficiary_id)

    async def beneficiaries_merged(self, session: Session, kept_id: str, merged_id: str) -> None:
        duplicate = await self.store.person(merged_id, session)
        if duplicate is not None and duplicate.status is domain.BeneficiaryStatus.MERGED:
            return
        kept, folded = domain.merged(
            await self.store.person(kept_id, session), duplicate, kept_id, merged_id
        )
        await self.store.move_records(session, merged_id, kept_id)
        await self.store.save_person(session, kept)
        await self.store.save_person(session, folded)
        await self._reconsider(session, kept_id)

    # -- reading -----------------------------------------------------------------------------

    async def person(self, beneficiary_id: str) -> Person | None:
        return await self.store.person(beneficiary_id)

    async def at_risk_now(self, association_id: str | None) -> list[AtRiskView]:
        """People whose latest sessions are at least the at-risk streak of unexcused absences
        (flagged, and not back since), most sessions missed first."""
        people = await self.store.flagged_people(association_id)
        attendances = await self.store.attendance_of_many([person.id for person in people])
        found = []
        for person in people:
            run = domain.current_absences(attendances[person.id])
            if run.sessions_missed >= self.rules.at_risk_streak:
                found.append((person, run))
        found.sort(key=lambda pair: (-pair[1].sessions_missed, pair[0].id))
        return [
            AtRiskView(
                beneficiary_id=person.id,
                association_id=person.association_id,
                sessions_missed=run.sessions_missed,
                last_session_at=run.last_session_at,
                last_present_at=run.last_present_at,
            )
            for person, run in found
        ]

    async def progress(self, beneficiary_id: str) -> ProgressView:
        found = await self.progress_of_many([beneficiary_id])
        if beneficiary_id not in found:
            raise NotFound(f"training knows no beneficiary {beneficiary_id}")
        return found[beneficiary_id]

    async def progress_of_many(self, beneficiary_ids: list[str]) -> dict[str, ProgressView]:
        """Each known person's progress, read with three queries whatever their number;
        unknown and erased people are left out."""
        people = {
            person_id: person
            for person_id, person in (await self.store.people(beneficiary_ids)).items()
            if person.status is not domain.BeneficiaryStatus.ERASED
        }
        known = list(people)
        attendances = await self.store.attendance_of_many(known)
        assessments = await self.store.assessments_of_many(known)
        return {
            person_id: self._progress(person, attendances[person_id], assessments[person_id])
            for person_id, person in people.items()
        }

    def _progress(
        self, person: Person, attendances: list[Attendance], assessments: list[Assessment]
    ) -> ProgressView:
        done = domain.totals(attendances)
        by_competence: dict[str, dict[AssessmentStage, StageView]] = {}
        for assessment in assessments:
            by_competence.setdefault(assessment.competence, {})[assessment.stage] = StageView(
                level=assessment.level,
                autonomy=assessment.autonomy,
                assessed_at=assessment.assessed_at,
            )
        return ProgressView(
            beneficiary_id=person.id,
            association_id=person.association_id,
            status=person.status.value,
            sessions_present=done.sessions_present,
            minutes_present=done.minutes_present,
            excused_absences=done.excused_absences,
            unexcused_absences=done.unexcused_absences,
            trained=person.trained_at is not None,
            trained_at=person.trained_at,
            at_risk=bool(person.at_risk_sessions),
            rule=CompletionRuleView.model_validate(self.rules.completion, from_attributes=True),
            assessments=[
                CompetenceProgressView(
                    competence=competence,
                    initial=stages.get(AssessmentStage.INITIAL),
                    final=stages.get(AssessmentStage.FINAL),
                )
                for competence, stages in sorted(by_competence.items())
            ],
        )


def _present(roll: dict[str, Attendance]) -> int:
    return sum(1 for a in roll.values() if a.status is AttendanceStatus.PRESENT)
