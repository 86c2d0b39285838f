"""Training's Kafka subscribers: registration's facts about beneficiaries (ids and status
only) from ``dn.registration.events``, and partners' attendance reports from
``dn.intake.training``.

Both apply each event once (its ``ce_id`` is recorded in the transaction of its effect), so a
redelivered request changes nothing. Partners may report sessions, attendance, anonymous
headcounts, assessments and their association's maturity self-assessment, each through the
same use case as its form. A request naming a session or a person training does not know yet
waits for it (kit.parking: applied when it arrives, ``unknown_session`` /
``unknown_beneficiary`` only after ``DN_PARKED_MAX_WAIT_S``). A request that cannot be applied
is dead-lettered with a reason: ``unknown_beneficiary`` (an erased person), ``merged_beneficiary``,
``conflicting_attendance``, ``duplicate_session`` (a partner-chosen session id already in use),
``conflicting_maturity_assessment`` (a partner-chosen assessment id already recorded with other
answers) or ``invalid_request``; an identical resend of an applied attendance report or
assessment changes nothing either. An applied attendance
report or assessment is in the access log (``kit.audit``) with the partner as actor, written in
the transaction of its effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

from contracts import catalogue, topics
from contracts.envelope import CloudEvent
from contracts.errors import Conflict, InvalidInput, NotFound
from contracts.event import EventData
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
)
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AttendanceReportedV1,
    MaturityAssessmentReportedV1,
    SessionReportedV1,
)
from kit.audit import Action, Actor, AuditLog, RecordKind
from kit.consumer import IdempotentConsumer, Rejected, apply_batch
from kit.intake import known_ids, named_refs
from kit.mongo import Session
from kit.parking import Parking, Ref, Waiting, ref
from services.training.commands import Headcount, Training, now
from services.training.domain import (
    Assessment,
    AttendanceMark,
    Person,
    RefusedBeneficiary,
    SessionPlan,
    enrolled,
)
from services.training.maturity import SelfAssessment

BENEFICIARIES_GROUP_ID = "dn-training-beneficiaries"
BENEFICIARIES_TOPICS = (topics.REGISTRATION_EVENTS,)
INTAKE_GROUP_ID = "dn-training-intake"
INTAKE_TOPICS = (topics.INTAKE_TRAINING,)
ACCEPTED_REQUESTS = catalogue.intake_types(topics.INTAKE_TRAINING)
INTAKE_ROUTE = f"kafka {topics.INTAKE_TRAINING}"
# Requests about one person's records, and the kind of record each writes (the access log).
PERSONAL_REQUESTS: dict[type[EventData], RecordKind] = {
    AttendanceReportedV1: RecordKind.ATTENDANCE,
    AssessmentReportedV1: RecordKind.ASSESSMENT,
}


class BeneficiaryHandler:
    """Keeps training's copy of who is enrolled where, and honours merges and erasures."""

    def __init__(
        self, training: Training, consumer: IdempotentConsumer, parking: Parking | None = None
    ) -> None:
        self.training = training
        self.consumer = consumer
        self.parking = parking

    async def __call__(self, event: CloudEvent) -> bool:
        data = catalogue.decode(event)
        if isinstance(data, BeneficiaryErasedV1) and self.parking is not None:
            # What partners sent about the person and still waits goes with them.
            await self.parking.drop_about(ref("beneficiary", data.beneficiary_id))
        training = self.training

        async def effect(_: CloudEvent, session: Session) -> None:
            if isinstance(data, BeneficiaryEnrolledV1 | BeneficiaryUpdatedV1):
                await training.beneficiary_enrolled(
                    session, str(data.beneficiary_id), data.association_id
                )
            elif isinstance(data, BeneficiaryWithdrawnV1):
                await training.beneficiary_withdrawn(session, str(data.beneficiary_id))
            elif isinstance(data, BeneficiariesMergedV1):
                await training.beneficiaries_merged(
                    session, str(data.beneficiary_id), str(data.merged_id)
                )
            elif isinstance(data, BeneficiaryErasedV1):
                await training.beneficiary_erased(session, str(data.beneficiary_id))

        if not isinstance(
            data,
            BeneficiaryEnrolledV1
            | BeneficiaryUpdatedV1
            | BeneficiaryWithdrawnV1
            | BeneficiariesMergedV1
            | BeneficiaryErasedV1,
        ):
            return False  # districts, associations, consent: not training's concern
        return await self.consumer.apply(event, effect)

    async def many(self, events: list[CloudEvent]) -> None:
        """A batch in one transaction: runs of enrolments and updates (nearly all of what
        registration says) with one read and one write of the people for the lot, the rest
        one by one."""

        await apply_batch(
            self.consumer.client,
            events,
            catalogue.decode,
            _enrolment_or_update,
            self._enrolments,
            self,
        )

    async def _enrolments(self, session: Session, run: list[tuple[CloudEvent, EventData]]) -> None:
        fresh = [
            (event, data)
            for event, data in await self.consumer.fresh(run, session)
            if isinstance(data, BeneficiaryEnrolledV1 | BeneficiaryUpdatedV1)
        ]
        store = self.training.store
        ids = list(dict.fromkeys(str(data.beneficiary_id) for _, data in fresh))
        people: dict[str, Person | None] = dict(await store.people_among(ids, session))
        changed: dict[str, Person] = {}
        for _, data in fresh:
            beneficiary_id = str(data.beneficiary_id)
            current = people.get(beneficiary_id)
            updated = enrolled(current, beneficiary_id, data.association_id)
            if updated is not None and updated != current:
                people[beneficiary_id] = changed[beneficiary_id] = updated
        await store.save_people(session, list(changed.values()))
        await self.consumer.mark_applied([event for event, _ in fresh], session)


def _decided_together(data: EventData) -> bool:
    return isinstance(
        data, AttendanceReportedV1 | AnonymousAttendanceReportedV1 | AssessmentReportedV1
    )


class StepKind(Enum):
    SESSIONS = "sessions"  # session reports, scheduled together
    TOGETHER = "together"  # attendance reports, headcounts and assessments, decided together
    ALONE = "alone"  # an association's self-assessment


@dataclass(frozen=True)
class Step:
    kind: StepKind
    indexes: list[int]


def batch_steps(batch: Sequence[EventData]) -> list[Step]:
    """A batch of training's requests as steps applied in turn, with the outcomes of applying
    the requests one by one in order, in as few steps as that allows.

    Session reports go first: a report only creates (an id in use is refused wherever it
    stands), and a request naming a session the batch creates comes after it (or it would be
    waiting, not here). Attendance reports, headcounts and assessments are decided together,
    in order. An association's self-assessment stands alone between them: upskilled depends
    on it and on the staff sessions' headcounts before it.
    """
    steps = [Step(StepKind.SESSIONS, [])]
    run: list[int] = []
    for index, data in enumerate(batch):
        if isinstance(data, SessionReportedV1):
            steps[0].indexes.append(index)
        elif _decided_together(data):
            run.append(index)
        else:
            if run:
                steps.append(Step(StepKind.TOGETHER, run.copy()))
                run.clear()
            steps.append(Step(StepKind.ALONE, [index]))
    if run:
        steps.append(Step(StepKind.TOGETHER, run))
    return [step for step in steps if step.indexes]


def _enrolment_or_update(data: EventData) -> bool:
    return isinstance(data, BeneficiaryEnrolledV1 | BeneficiaryUpdatedV1)


def session_plan(data: SessionReportedV1) -> SessionPlan:
    return SessionPlan(
        association_id=data.association_id,
        district_id=data.district_id,
        module_id=data.module_id,
        kind=data.kind,
        place_type=data.place_type,
        starts_at=data.starts_at,
        duration_minutes=data.duration_minutes,
        capacity=data.capacity,
    )


def assessment_of(data: AssessmentReportedV1) -> Assessment:
    return Assessment(
        beneficiary_id=str(data.beneficiary_id),
        competence=data.competence,
        stage=data.stage,
        level=data.level,
        autonomy=data.autonomy,
        assessed_at=data.assessed_at or now(),
    )


def self_assessment_of(data: MaturityAssessmentReportedV1) -> SelfAssessment:
    at = now()
    return SelfAssessment(
        id=str(data.assessment_id or uuid4()),
        assessed_at=data.assessed_at or at,
        recorded_at=at,
        answers=dict(data.answers),
    )


async def _attendance(training: Training, session: Session, data: AttendanceReportedV1) -> None:
    mark = AttendanceMark(data.beneficiary_id, data.status, data.minutes)
    await training.record_attendance_in(session, data.session_id, mark)


async def _session(training: Training, session: Session, data: SessionReportedV1) -> None:
    await training.schedule_in(session, session_plan(data), data.session_id)


async def _headcount(
    training: Training, session: Session, data: AnonymousAttendanceReportedV1
) -> None:
    await training.record_anonymous_attendance_in(session, data.session_id, data.count)


async def _assessment(training: Training, session: Session, data: AssessmentReportedV1) -> None:
    await training.assess_in(session, assessment_of(data))


async def _maturity(
    training: Training, session: Session, data: MaturityAssessmentReportedV1
) -> None:
    await training.assess_maturity_in(session, data.association_id, self_assessment_of(data))


# The use case each partner request type runs (every type of the training intake topic).
USE_CASES: dict[type[EventData], Callable[[Training, Session, Any], Awaitable[None]]] = {
    AttendanceReportedV1: _attendance,
    SessionReportedV1: _session,
    AnonymousAttendanceReportedV1: _headcount,
    AssessmentReportedV1: _assessment,
    MaturityAssessmentReportedV1: _maturity,
}


CONFLICT_REASONS = {
    SessionReportedV1: "duplicate_session",
    MaturityAssessmentReportedV1: "conflicting_maturity_assessment",
}


def refusal_of(data: EventData, error: Exception) -> Rejected | Waiting:
    """What a use case's refusal means for a partner's request: wait for what it names (a
    session, a person not known yet) or refuse it with a reason."""
    if isinstance(error, NotFound):
        return Waiting(named_refs(data)[:1], f"sessionId: {error}")
    if isinstance(error, RefusedBeneficiary):
        if error.waitable:
            return Waiting([ref("beneficiary", getattr(data, "beneficiary_id", ""))], str(error))
        return Rejected(error.reason, str(error))
    if isinstance(error, Conflict):
        return Rejected(CONFLICT_REASONS.get(type(data), "conflicting_attendance"), str(error))
    if isinstance(error, InvalidInput):
        return Rejected("invalid_request", str(error))
    raise error


def outcomes_of(
    run: list[tuple[CloudEvent, EventData]], decided: Mapping[UUID, object]
) -> tuple[list[bool | Rejected | Waiting], list[tuple[CloudEvent, EventData]]]:
    """Each request's outcome from what its use case decided (by ``ce_id``: the record, None
    for a fact already recorded, or the refusal), and the requests applied. A request with
    nothing decided was applied before, or earlier in this batch (the same ``ce_id``)."""
    outcomes: list[bool | Rejected | Waiting] = []
    applied: list[tuple[CloudEvent, EventData]] = []
    taken: set[UUID] = set()
    for event, data in run:
        if event.id not in decided or event.id in taken:
            outcomes.append(False)
            continue
        taken.add(event.id)
        result = decided[event.id]
        if isinstance(result, Exception):
            outcomes.append(refusal_of(data, result))
        else:
            outcomes.append(True)
            applied.append((event, data))
    return outcomes, applied


class IntakeRules:
    """Partners' requests to training (kit.intake): each applied once per ``ce_id`` with the
    same rules as its form; one naming a session or a person training does not know yet waits
    for it (kit.parking)."""

    accepted = ACCEPTED_REQUESTS

    def __init__(self, training: Training, consumer: IdempotentConsumer, audit: AuditLog) -> None:
        self.training = training
        self.consumer = consumer
        self.audit = audit

    def creates(self, data: EventData) -> list[Ref]:
        if isinstance(data, SessionReportedV1) and data.session_id is not None:
            return [ref("session", data.session_id)]
        return []

    async def known(self, refs: set[Ref]) -> set[Ref]:
        """Sessions and people training has a record of (an erased person's too: a request
        about them is refused when applied, it does not wait)."""
        store = self.training.store
        return await known_ids(
            refs, {"session": store.sessions, "beneficiary": store.beneficiaries}
        )

    async def apply(self, event: CloudEvent, data: EventData) -> bool:
        async def effect(_: CloudEvent, session: Session) -> None:
            try:
                await self.apply_in(session, data)
            except (NotFound, InvalidInput) as error:
                raise refusal_of(data, error) from error
            record = PERSONAL_REQUESTS.get(type(data))
            if record is not None:
                await self.audit.write(
                    Actor.partner(event.source),
                    Action.RECORD,
                    record,
                    [str(getattr(data, "beneficiary_id", ""))],
                    INTAKE_ROUTE,
                    session,
                )

        return await self.consumer.apply(event, effect)

    async def apply_many(
        self, session: Session, requests: Sequence[tuple[CloudEvent, EventData]]
    ) -> list[bool | Rejected | Waiting]:
        """A batch in the caller's transaction, with the outcomes of applying it in order
        (:func:`batch_steps`): its session reports together, then each run of attendance
        reports, headcounts and assessments (most of what partners send) together with a few
        reads and writes, a self-assessment alone."""

        async def alone(event: CloudEvent, data: EventData) -> bool | Rejected | Waiting:
            try:
                return await self.apply(event, data)
            except (Rejected, Waiting) as outcome:
                return outcome

        outcomes: dict[int, bool | Rejected | Waiting] = {}
        for step in batch_steps([data for _, data in requests]):
            items = [requests[i] for i in step.indexes]
            if step.kind is StepKind.SESSIONS:
                decided = await self._sessions(session, items)
            elif step.kind is StepKind.TOGETHER:
                decided = await self._run(session, items)
            else:
                decided = [await alone(*item) for item in items]
            outcomes.update(zip(step.indexes, decided, strict=True))
        return [outcomes[i] for i in range(len(requests))]

    async def _sessions(
        self, session: Session, run: list[tuple[CloudEvent, EventData]]
    ) -> list[bool | Rejected | Waiting]:
        """Session reports scheduled together: one read, one write of sessions and events."""
        fresh = await self.consumer.fresh(run, session)
        plans = [
            (session_plan(data), data.session_id)
            for _, data in fresh
            if isinstance(data, SessionReportedV1)
        ]
        scheduled = await self.training.schedule_many_in(session, plans)
        decided = dict(zip([event.id for event, _ in fresh], scheduled, strict=True))
        outcomes, applied = outcomes_of(run, decided)
        await self.consumer.mark_applied([event for event, _ in applied], session)
        return outcomes

    async def _run(
        self, session: Session, run: list[tuple[CloudEvent, EventData]]
    ) -> list[bool | Rejected | Waiting]:
        """Attendance reports, headcounts and assessments decided together. Assessments do not
        depend on the others but through completion and at-risk, decided once at the end for
        everyone touched; attendance and headcounts are decided in order (they share their
        session's capacity): the result is the one of applying them one by one in this order."""
        fresh = await self.consumer.fresh(run, session)
        marks: list[tuple[str, AttendanceMark | Headcount]] = []
        for _, d in fresh:
            if isinstance(d, AttendanceReportedV1):
                marks.append((d.session_id, AttendanceMark(d.beneficiary_id, d.status, d.minutes)))
            elif isinstance(d, AnonymousAttendanceReportedV1):
                marks.append((d.session_id, Headcount(d.count)))
        assessments = [assessment_of(d) for _, d in fresh if isinstance(d, AssessmentReportedV1)]
        training = self.training
        attended = iter(await training.record_attendance_many(session, marks, reconsider=False))
        assessed = iter(await training.assess_many(session, assessments, reconsider=False))
        decided = {
            event.id: next(assessed if isinstance(data, AssessmentReportedV1) else attended)
            for event, data in fresh
        }
        outcomes, applied = outcomes_of(run, decided)
        personal = [(e, d) for e, d in applied if type(d) in PERSONAL_REQUESTS]
        people = [str(getattr(data, "beneficiary_id", "")) for _, data in personal]
        await training.reconsider_many(session, list(dict.fromkeys(people)))
        await self.consumer.mark_applied([event for event, _ in applied], session)
        by_kind: dict[tuple[str, RecordKind], list[str]] = {}
        for (event, data), person in zip(personal, people, strict=True):
            kind = PERSONAL_REQUESTS[type(data)]
            by_kind.setdefault((event.source, kind), []).append(person)
        for (partner, kind), named in by_kind.items():
            await self.audit.write(
                Actor.partner(partner), Action.RECORD, kind, named, INTAKE_ROUTE, session
            )
        return outcomes

    async def apply_in(self, session: Session, data: EventData) -> None:
        """The use case for the request's type, inside the consumer's transaction."""
        use_case = USE_CASES.get(type(data))
        if use_case is None:  # a type added to the contracts but not here: a bug, not a refusal
            raise TypeError(f"no use case for {type(data).__name__}")
        await use_case(self.training, session, data)
