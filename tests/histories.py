"""Generated programme histories for the reporting property tests: a few people enrolling,
attending, being assessed, trained, referred, placed, followed up, merged and erased; delivered
in an order Kafka allows (each person's events in order per topic), with redeliveries. Sessions
of every kind are scheduled and given anonymous headcounts that replace each other; those
arrive in any order at all (a headcount before its session, an older one after a newer one).

Also an independent ground truth: key figures computed straight from the events, without the
projection's facts or transitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hypothesis import strategies as st

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.orientation import (
    FollowUpRecordedV1,
    OutcomeClass,
    PartnerKind,
    PlacementKind,
    PlacementRecordedV1,
    ReferralMadeV1,
    WorkshopAttendedV1,
)
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
)
from contracts.training import (
    AnonymousAttendanceRecordedV1,
    AssessmentStage,
    AttendanceRecordedV1,
    AttendanceStatus,
    Autonomy,
    BeneficiaryTrainedV1,
    SessionKind,
    SessionScheduledV1,
    SkillAssessedV1,
)
from services.orientation.domain import outcome_class
from services.reporting.domain import (
    BeneficiaryFacts,
    Bucket,
    SessionFacts,
    beneficiary_of,
    contributions,
    session_contributions,
    session_of,
)
from services.reporting.projector import SessionSet, WorkingSet

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Real district ids: the e2e platform shares the broker and reads these events too.
DISTRICTS = ("qpv-benauge", "qpv-aubiers-lac", "qpv-grand-parc")
ASSOCIATIONS = ("assoc-bastide", "assoc-passerelle")
PEOPLE = tuple(UUID(int=n, version=4) for n in range(1, 7))


@dataclass(frozen=True)
class Delivery:
    topic: str
    event: EventData
    ce: CloudEvent  # the same ce_id when redelivered


def _days(n: int) -> datetime:
    return START + timedelta(days=n)


@st.composite
def person_history(draw: st.DrawFn, person: UUID, index: int) -> dict[str, list[EventData]]:
    """One person's events per topic, each topic's list in the order its service emits them."""
    registration: list[EventData] = []
    training: list[EventData] = []
    orientation: list[EventData] = []
    if draw(st.booleans()) or index == 0:
        dimensions = {
            "association_id": draw(st.sampled_from(ASSOCIATIONS)),
            "district_id": draw(st.sampled_from(DISTRICTS)),
            "gender": draw(st.sampled_from(Gender)),
            "age_band": draw(st.sampled_from(AgeBand)),
            "tracks": draw(st.lists(st.sampled_from(Track), min_size=1, max_size=2, unique=True)),
            "employment_status": EmploymentStatus.REGISTERED_JOB_SEEKER,
        }
        registration.append(
            BeneficiaryEnrolledV1(
                beneficiary_id=person,
                enrolled_at=_days(draw(st.integers(0, 60))),
                qpv_resident=True,
                **dimensions,
            )
        )
        if draw(st.booleans()):
            dimensions["district_id"] = draw(st.sampled_from(DISTRICTS))
            registration.append(
                BeneficiaryUpdatedV1(
                    beneficiary_id=person, updated_at=_days(70), qpv_resident=True, **dimensions
                )
            )
        if draw(st.integers(0, 4)) == 0:
            registration.append(
                BeneficiaryWithdrawnV1(beneficiary_id=person, withdrawn_at=_days(80))
            )
    for n in range(draw(st.integers(0, 5))):
        status = draw(st.sampled_from(AttendanceStatus))
        starts = _days(draw(st.integers(0, 120)))
        training.append(
            AttendanceRecordedV1(
                beneficiary_id=person,
                attendance_id=f"{person}-a{n}",
                session_id=f"session-{n}",
                status=status,
                minutes=draw(st.sampled_from([120, 180]))
                if status == AttendanceStatus.PRESENT
                else 0,
                module_id="m-1",
                association_id="assoc-bastide",
                session_starts_at=starts,
                recorded_at=starts + timedelta(hours=3),
            )
        )
    for competence in draw(
        st.lists(st.sampled_from(["1.1", "2.3", "3.1"]), unique=True, max_size=2)
    ):
        for stage in draw(st.lists(st.sampled_from(AssessmentStage), unique=True, min_size=1)):
            training.append(
                SkillAssessedV1(
                    beneficiary_id=person,
                    competence=competence,
                    stage=stage,
                    level=draw(st.integers(0, 5)),
                    autonomy=Autonomy.ASSISTED,
                    assessed_at=_days(10 if stage == AssessmentStage.INITIAL else 100),
                )
            )
    if draw(st.booleans()):
        training.append(
            BeneficiaryTrainedV1(
                beneficiary_id=person,
                sessions_present=4,
                minutes_present=720,
                trained_at=_days(draw(st.integers(30, 130))),
            )
        )
    if draw(st.booleans()):
        orientation.append(
            WorkshopAttendedV1(
                beneficiary_id=person,
                workshop_id=UUID(int=1000 + index, version=4),
                association_id="assoc-bastide",
                job_families=["M1805"],
                women_focused=False,
                held_at=_days(draw(st.integers(20, 140))),
            )
        )
    if draw(st.booleans()):
        orientation.append(
            ReferralMadeV1(
                beneficiary_id=person,
                referral_id=UUID(int=2000 + index, version=4),
                partner_kind=PartnerKind.FRANCE_TRAVAIL,
                made_at=_days(150),
            )
        )
    for n in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(PlacementKind))
        placement_id = UUID(int=3000 + index * 10 + n, version=4)
        outcome = outcome_class(kind)
        orientation.append(
            PlacementRecordedV1(
                beneficiary_id=person,
                placement_id=placement_id,
                kind=kind,
                outcome_class=outcome,
                directed_to_employment=outcome is not OutcomeClass.OTHER,
                digital_sector=True,
                starts_on=date(2026, 6, 1) + timedelta(days=draw(st.integers(0, 60))),
                recorded_at=_days(160),
            )
        )
        if draw(st.booleans()):
            orientation.append(
                FollowUpRecordedV1(
                    beneficiary_id=person,
                    placement_id=placement_id,
                    months=6,
                    still_in_post=draw(st.booleans()),
                    recorded_at=_days(340),
                )
            )
    return {"registration": registration, "training": training, "orientation": orientation}


@st.composite
def session_history(draw: st.DrawFn, number: int) -> list[EventData]:
    """One session's schedule (maybe) and its headcounts, each replacing the one before."""
    session_id = f"session-{number}"
    events: list[EventData] = []
    if draw(st.integers(0, 4)) > 0:
        events.append(
            SessionScheduledV1(
                session_id=session_id,
                association_id=draw(st.sampled_from(ASSOCIATIONS)),
                district_id=draw(st.sampled_from(DISTRICTS)),
                module_id="m-1",
                kind=draw(st.sampled_from(SessionKind)),
                place_type="association_premises",
                starts_at=_days(draw(st.integers(0, 120))),
                duration_minutes=180,
            )
        )
    for n in range(draw(st.integers(0, 3))):
        events.append(
            AnonymousAttendanceRecordedV1(
                session_id=session_id,
                count=draw(st.integers(0, 12)),
                recorded_at=_days(130) + timedelta(minutes=n),
            )
        )
    return events


@st.composite
def histories(draw: st.DrawFn) -> list[Delivery]:
    """Every person's events, interleaved in an order Kafka allows, some redelivered.

    Merges fold a person into another who is never erased; an erasure is the person's last
    registration fact, but their training and orientation facts may be read after it."""
    per_topic: dict[tuple[UUID, str], list[EventData]] = {}
    merged_into: dict[UUID, UUID] = {}
    erased: set[UUID] = set()
    for index, person in enumerate(PEOPLE):
        history = draw(person_history(person, index))
        for topic, events in history.items():
            per_topic[(person, topic)] = events
    for person in PEOPLE[3:]:
        if draw(st.integers(0, 2)) == 0:
            kept = draw(st.sampled_from(PEOPLE[:3]))
            merged_into[person] = kept
            per_topic[(person, "registration")].append(
                BeneficiariesMergedV1(beneficiary_id=kept, merged_id=person, merged_at=_days(200))
            )
    for person in PEOPLE[:3]:
        if person not in merged_into.values() and draw(st.integers(0, 3)) == 0:
            erased.add(person)
            # The last registration fact; training and orientation facts may still follow.
            erasure = BeneficiaryErasedV1(
                beneficiary_id=person, erased_at=_days(365), reason="retention"
            )
            per_topic[(person, "registration")].append(erasure)

    queues = {key: list(events) for key, events in per_topic.items() if events}
    order: list[tuple[UUID, str]] = []
    for key, events in queues.items():
        order += [key] * len(events)
    shuffled = draw(st.permutations(order))
    stream = []
    for person, topic in shuffled:
        event = queues[(person, topic)].pop(0)
        stream.append(Delivery(topic, event, event.to_event(f"dn/{topic}")))
    for number in range(3):  # anywhere in the stream, in any order
        for event in draw(st.permutations(draw(session_history(number)))):
            delivery = Delivery("training", event, event.to_event("dn/training"))
            stream.insert(draw(st.integers(0, len(stream))), delivery)
    for original in draw(st.lists(st.integers(0, max(len(stream) - 1, 0)), max_size=6)):
        if stream:
            stream.insert(draw(st.integers(original + 1, len(stream))), stream[original])
    return stream


def ground_truth(stream: list[Delivery]) -> Counter[str]:
    """Programme-wide figures read straight off the events (not through the projection)."""
    unique = {delivery.ce.id: delivery.event for delivery in stream}.values()
    root: dict[str, str] = {}
    for event in unique:
        if isinstance(event, BeneficiariesMergedV1):
            root[str(event.merged_id)] = str(event.beneficiary_id)

    def who(event: EventData) -> str:
        person = str(event.beneficiary_id)  # type: ignore[attr-defined]
        return root.get(person, person)

    enrolled = {str(e.beneficiary_id) for e in unique if isinstance(e, BeneficiaryEnrolledV1)}
    attendance = {e.attendance_id: e for e in unique if isinstance(e, AttendanceRecordedV1)}
    truth: Counter[str] = Counter()
    truth["enrolled"] = len(enrolled - set(root))
    truth["trained"] = len({who(e) for e in unique if isinstance(e, BeneficiaryTrainedV1)})
    truth["attended"] = len(
        {who(e) for e in attendance.values() if e.status == AttendanceStatus.PRESENT}
    )
    truth["sessions_present"] = sum(
        e.status == AttendanceStatus.PRESENT for e in attendance.values()
    )
    truth["sessions_unexcused"] = sum(
        e.status == AttendanceStatus.UNEXCUSED_ABSENCE for e in attendance.values()
    )
    truth["minutes_present"] = sum(
        e.minutes for e in attendance.values() if e.status == AttendanceStatus.PRESENT
    )
    placements = [e for e in unique if isinstance(e, PlacementRecordedV1)]
    truth["placed"] = len({who(e) for e in placements})
    truth["directed_to_employment"] = len({who(e) for e in placements if e.directed_to_employment})
    truth["career_workshop"] = len({who(e) for e in unique if isinstance(e, WorkshopAttendedV1)})
    truth["in_post_6m"] = len(
        {who(e) for e in unique if isinstance(e, FollowUpRecordedV1) and e.still_in_post}
    )
    collective = {
        e.session_id
        for e in unique
        if isinstance(e, SessionScheduledV1) and e.kind is SessionKind.COLLECTIVE
    }
    latest: dict[str, AnonymousAttendanceRecordedV1] = {}
    for e in unique:
        if isinstance(e, AnonymousAttendanceRecordedV1):
            known = latest.get(e.session_id)
            if known is None or (e.recorded_at, e.count) > (known.recorded_at, known.count):
                latest[e.session_id] = e
    truth["anonymous_attendees"] = sum(
        e.count for session_id, e in latest.items() if session_id in collective
    )
    return +truth


def from_scratch(stream: list[Delivery]) -> dict[tuple[Bucket, str], int]:
    """Every distinct event applied once in memory, then each record's and each session's
    final facts summed."""
    working = WorkingSet(nothing_stored)
    sessions = SessionSet(no_session_stored)
    seen: set[str] = set()

    async def run() -> None:
        for delivery in stream:
            if str(delivery.ce.id) in seen:
                continue
            seen.add(str(delivery.ce.id))
            if (key := beneficiary_of(delivery.event)) is not None:
                await working.apply(key, delivery.event)
            if (session_id := session_of(delivery.event)) is not None:
                await sessions.apply(session_id, delivery.event)

    finish(run())
    final = [f for f in working.now.values() if f is not None]
    counters: Counter[tuple[Bucket, str]] = Counter()
    for person in final:
        counters.update(contributions(person))
    for session in sessions.now.values():
        counters.update(session_contributions(session))
    return {key: count for key, count in counters.items() if count}


async def nothing_stored(keys: list[str]) -> dict[str, BeneficiaryFacts | None]:
    return {}


async def no_session_stored(keys: list[str]) -> dict[str, SessionFacts]:
    return {}


def finish(work: Coroutine[object, object, None]) -> None:
    """Run a coroutine that never waits (an in-memory store) without an event loop, so sync
    and async tests alike can compute expectations."""
    try:
        work.send(None)
    except StopIteration:
        return
    work.close()
    raise RuntimeError("the computation waited on something; it must run in memory")
