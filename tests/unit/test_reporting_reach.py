"""People reached: enrolled people plus the anonymous headcounts of collective sessions. A
session's headcount replaces the one before it, whatever order the schedule and the headcounts
arrive in, however often."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts.event import EventData
from contracts.training import (
    AnonymousAttendanceRecordedV1,
    AssociationUpskilledV1,
    SessionKind,
    SessionScheduledV1,
)
from services.reporting.domain import (
    ALL,
    Bucket,
    SessionFacts,
    apply_to_session,
    session_contributions,
    session_of,
    session_transition,
)
from services.reporting.figures import impact
from services.reporting.projector import SessionSet
from tests.unit.test_reporting_composer import TARGETS, TODAY

HELD = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)  # ISO week 10
SESSION = "session-1"


def scheduled(
    kind: SessionKind = SessionKind.COLLECTIVE,
    session_id: str = SESSION,
    association: str = "asso-saige-en-ligne",
    district: str = "qpv-saige",
) -> SessionScheduledV1:
    return SessionScheduledV1(
        session_id=session_id,
        association_id=association,
        district_id=district,
        module_id="mod-premiers-pas",
        kind=kind,
        place_type="association_premises",
        starts_at=HELD,
        duration_minutes=120,
    )


def headcount(count: int, minutes_after: int = 0, session_id: str = SESSION) -> EventData:
    return AnonymousAttendanceRecordedV1(
        session_id=session_id,
        count=count,
        recorded_at=HELD + timedelta(hours=2, minutes=minutes_after),
    )


def facts(*events: EventData) -> SessionFacts:
    result = SessionFacts(SESSION)
    for event in events:
        result = apply_to_session(result, event)
    return result


def anonymous(contributions: dict[tuple[Bucket, str], int], bucket: Bucket) -> int:
    return contributions.get((bucket, "anonymous_attendees"), 0)


def test_a_collective_session_s_headcount_counts_where_the_session_was_held() -> None:
    counts = session_contributions(facts(scheduled(), headcount(7)))

    for scope in (ALL, "association:asso-saige-en-ligne", "district:qpv-saige"):
        assert anonymous(counts, (scope, None, None)) == 7
        assert anonymous(counts, (scope, "association", "asso-saige-en-ligne")) == 7
        assert anonymous(counts, (scope, "district", "qpv-saige")) == 7
        assert anonymous(counts, (scope, "week", "2026-W10")) == 7
        assert anonymous(counts, (scope, "month", "2026-03")) == 7
    # A headcount has no gender, age band, track or cohort: no other cell, no track scope.
    assert {d for ((_, d, _), _) in counts} == {None, "association", "district", "week", "month"}
    assert {s for ((s, _, _), _) in counts} == {
        ALL,
        "association:asso-saige-en-ligne",
        "district:qpv-saige",
    }
    assert set(counts.values()) == {7}


def test_staff_and_individual_sessions_reach_no_one_anonymously() -> None:
    for kind in (SessionKind.STAFF, SessionKind.INDIVIDUAL):
        assert session_contributions(facts(scheduled(kind), headcount(4))) == Counter()


def test_a_later_headcount_replaces_the_earlier_one_never_adds_to_it() -> None:
    first = facts(scheduled(), headcount(5))
    corrected = apply_to_session(first, headcount(8, minutes_after=10))

    assert corrected.headcount == 8
    assert anonymous(session_transition(first, corrected), (ALL, None, None)) == 3
    assert anonymous(session_contributions(corrected), (ALL, None, None)) == 8


def test_a_headcount_lowered_to_zero_takes_the_session_out() -> None:
    counted = facts(scheduled(), headcount(5))
    cleared = apply_to_session(counted, headcount(0, minutes_after=10))

    assert session_contributions(cleared) == Counter()
    assert anonymous(session_transition(counted, cleared), (ALL, None, None)) == -5


def test_an_older_headcount_arriving_late_changes_nothing() -> None:
    latest = facts(scheduled(), headcount(8, minutes_after=10))

    assert apply_to_session(latest, headcount(5)) == latest


def test_a_headcount_before_its_schedule_counts_once_the_schedule_says_collective() -> None:
    unscheduled = facts(headcount(6))
    assert session_contributions(unscheduled) == Counter()

    known = apply_to_session(unscheduled, scheduled())

    assert known == facts(scheduled(), headcount(6))
    assert anonymous(session_transition(unscheduled, known), (ALL, None, None)) == 6


def test_redelivered_events_change_nothing() -> None:
    once = facts(scheduled(), headcount(6))

    assert apply_to_session(once, scheduled()) == once
    assert apply_to_session(once, headcount(6)) == once
    assert session_transition(once, apply_to_session(once, headcount(6))) == {}


def test_only_schedules_and_headcounts_are_about_a_session() -> None:
    assert session_of(scheduled()) == SESSION
    assert session_of(headcount(3)) == SESSION
    upskilled = AssociationUpskilledV1(
        association_id="asso-saige-en-ligne", baseline_score=20, score=45, upskilled_at=HELD
    )
    assert session_of(upskilled) is None
    assert apply_to_session(SessionFacts(SESSION), upskilled) == SessionFacts(SESSION)


def test_people_reached_is_enrolled_plus_anonymous_attendees_in_each_cell() -> None:
    counters = [
        {"scope": ALL, "dimension": None, "value": None, "enrolled": 31,
         "anonymous_attendees": 9},
        {"scope": ALL, "dimension": "district", "value": "qpv-saige", "enrolled": 20,
         "anonymous_attendees": 9},
        {"scope": ALL, "dimension": "district", "value": "qpv-benauge", "enrolled": 11},
    ]  # fmt: skip

    answer = impact(ALL, counters, TARGETS, TODAY)

    assert answer.totals.people_reached == 40
    reached = {c.value: c.figures.people_reached for c in answer.cells}
    assert reached == {"qpv-saige": 29, "qpv-benauge": 11}


# -- any order, any redelivery, any batching: the same counters ------------------------------

SESSIONS = ("session-1", "session-2")


@st.composite
def session_streams(draw: st.DrawFn) -> list[EventData]:
    """Schedules and headcounts of two sessions in any order, some delivered twice."""
    events: list[EventData] = []
    for session_id in SESSIONS:
        if draw(st.booleans()):
            kind = draw(st.sampled_from(SessionKind))
            district = draw(st.sampled_from(("qpv-saige", "qpv-benauge")))
            events.append(scheduled(kind, session_id, district=district))
        for n in range(draw(st.integers(0, 4))):
            count = draw(st.integers(0, 20))
            events.append(headcount(count, minutes_after=n, session_id=session_id))
    stream = draw(st.permutations(events))
    for original in draw(st.lists(st.integers(0, max(len(stream) - 1, 0)), max_size=4)):
        if stream:
            stream.insert(draw(st.integers(0, len(stream))), stream[original])
    return stream


def in_batches(stream: list[EventData], size: int) -> dict[tuple[Bucket, str], int]:
    """The projector's SessionSet over an in-memory store, ``size`` events per batch."""
    stored: dict[str, SessionFacts] = {}
    counters: Counter[tuple[Bucket, str]] = Counter()

    async def load(keys: list[str]) -> dict[str, SessionFacts]:
        return {key: stored[key] for key in keys if key in stored}

    async def run() -> None:
        for start in range(0, len(stream), size):
            sessions = SessionSet(load)
            for event in stream[start : start + size]:
                session_id = session_of(event)
                assert session_id is not None
                await sessions.apply(session_id, event)
            counters.update(sessions.deltas())
            stored.update({facts.session_id: facts for facts in sessions.changed()})

    asyncio.run(run())
    return {key: count for key, count in counters.items() if count}


def expected(stream: list[EventData]) -> int:
    """Straight off the events: each collective session's last recorded headcount."""
    collective = {
        e.session_id
        for e in stream
        if isinstance(e, SessionScheduledV1) and e.kind is SessionKind.COLLECTIVE
    }
    last: dict[str, tuple[datetime, int]] = {}
    for e in stream:
        if isinstance(e, AnonymousAttendanceRecordedV1):
            last[e.session_id] = max(last.get(e.session_id, (e.recorded_at, 0)),
                                     (e.recorded_at, e.count))  # fmt: skip
    return sum(count for session_id, (_, count) in last.items() if session_id in collective)


@given(session_streams(), st.integers(1, 5))
def test_counters_do_not_depend_on_order_redelivery_or_batching(
    stream: list[EventData], size: int
) -> None:
    counters = in_batches(stream, size)

    assert counters == in_batches(list(reversed(stream)), 1)
    assert counters.get(((ALL, None, None), "anonymous_attendees"), 0) == expected(stream)
    assert all(count > 0 for count in counters.values())
