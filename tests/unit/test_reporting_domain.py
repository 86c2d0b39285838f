"""Reporting rules: facts per beneficiary, counter transitions, and the impact answer."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from random import Random
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.event import EventData
from contracts.orientation import OutcomeClass, PlacementKind, PlacementRecordedV1
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    DistrictUpsertedV1,
)
from contracts.training import BeneficiaryTrainedV1
from services.reporting.domain import (
    ALL,
    DIMENSIONS,
    BeneficiaryFacts,
    Bucket,
    absorb,
    apply,
    beneficiary_of,
    contributions,
    transition,
)
from services.reporting.projector import WorkingSet

ENROLLED_AT = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
PEOPLE = (
    UUID("0b5e3a52-7c1d-4d8e-9a51-3f0c2b6d1e77"),
    UUID("5d0c6f1e-2a4b-4c8d-8e9f-0a1b2c3d4e5f"),
    UUID("9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"),
    UUID("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
)
DISTRICTS = ("qpv-benauge", "qpv-aubiers", "qpv-grand-parc")
ASSOCIATIONS = ("assoc-bastide", "assoc-passerelle")


def enrolment(
    beneficiary: UUID = PEOPLE[0],
    *,
    district: str = "qpv-benauge",
    association: str = "assoc-bastide",
    gender: Gender = Gender.FEMALE,
    tracks: Iterable[Track] = (Track.DIGITAL_CAREERS,),
    age_band: AgeBand = AgeBand.FROM_26_TO_44,
) -> BeneficiaryEnrolledV1:
    return BeneficiaryEnrolledV1(
        beneficiary_id=beneficiary,
        association_id=association,
        district_id=district,
        gender=gender,
        age_band=age_band,
        tracks=list(tracks),
        employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
        enrolled_at=ENROLLED_AT,
    )


def fresh(beneficiary: UUID = PEOPLE[0]) -> BeneficiaryFacts:
    return BeneficiaryFacts(str(beneficiary))


def enrolled(bucket: Bucket) -> tuple[Bucket, str]:
    return (bucket, "enrolled")


# -- apply ----------------------------------------------------------------------------------


def test_enrolment_records_the_dimensions_as_facts() -> None:
    event = enrolment(tracks=(Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS))

    facts = apply(fresh(), event)

    assert facts == BeneficiaryFacts(
        beneficiary_id=str(PEOPLE[0]),
        enrolled=True,
        association_id="assoc-bastide",
        district_id="qpv-benauge",
        gender="female",
        age_band="26_44",
        tracks=("digital_inclusion", "digital_careers"),
        employment_status="registered_job_seeker",
        enrolled_on="2026-01-31",
    )


def test_unenrolled_facts_contribute_nothing() -> None:
    assert contributions(fresh()) == Counter()


# -- transition -----------------------------------------------------------------------------


def test_enrolling_adds_one_to_the_total_and_to_each_breakdown_of_each_scope() -> None:
    event = enrolment(tracks=(Track.DIGITAL_CAREERS, Track.DIGITAL_INCLUSION))

    deltas = transition(fresh(), apply(fresh(), event))

    assert set(deltas.values()) == {1}
    assert deltas[enrolled((ALL, None, None))] == 1
    assert deltas[enrolled((ALL, "district", "qpv-benauge"))] == 1
    assert deltas[enrolled(("association:assoc-bastide", "gender", "female"))] == 1
    assert deltas[enrolled(("track:digital_careers", "careers_gender", "female"))] == 1
    expected_values = {
        "district": {"qpv-benauge"},
        "association": {"assoc-bastide"},
        "gender": {"female"},
        "age_band": {"26_44"},
        "track": {"digital_careers", "digital_inclusion"},
        "careers_gender": {"female"},
        "cohort": {"2026-01"},
        "week": {"2026-W05"},
        "month": {"2026-01"},
    }
    scopes = {
        ALL,
        "association:assoc-bastide",
        "district:qpv-benauge",
        "track:digital_careers",
        "track:digital_inclusion",
    }
    assert {scope for ((scope, _, _), _) in deltas} == scopes
    for scope in scopes:
        for dimension in DIMENSIONS:
            values = {v for ((s, d, v), _) in deltas if s == scope and d == dimension}
            assert values == expected_values[dimension], (scope, dimension)
    expected_buckets = len(scopes) * (1 + sum(len(v) for v in expected_values.values()))
    assert len(deltas) == expected_buckets


def test_careers_gender_is_counted_only_for_the_careers_track() -> None:
    event = enrolment(tracks=(Track.DIGITAL_INCLUSION,))

    deltas = transition(fresh(), apply(fresh(), event))

    assert [key for key in deltas if key[0][1] == "careers_gender"] == []
    assert not any(scope == "track:digital_careers" for ((scope, _, _), _) in deltas)
    assert deltas[enrolled(("track:digital_inclusion", "gender", "female"))] == 1


def test_applying_the_same_enrolment_twice_changes_nothing_the_second_time() -> None:
    event = enrolment()
    once = apply(fresh(), event)

    twice = apply(once, event)

    assert twice == once
    assert transition(once, twice) == {}


def test_re_enrolment_in_another_district_moves_the_count_between_districts() -> None:
    before = apply(fresh(), enrolment(district="qpv-benauge"))
    after = apply(before, enrolment(district="qpv-aubiers"))

    deltas = transition(before, after)

    for scope in (ALL, "association:assoc-bastide", "track:digital_careers"):
        assert deltas[enrolled((scope, "district", "qpv-benauge"))] == -1
        assert deltas[enrolled((scope, "district", "qpv-aubiers"))] == 1
        assert enrolled((scope, None, None)) not in deltas
        assert enrolled((scope, "gender", "female")) not in deltas
    assert deltas[enrolled(("district:qpv-benauge", None, None))] == -1
    assert deltas[enrolled(("district:qpv-aubiers", None, None))] == 1
    assert sum(deltas.values()) == 0


def test_repeated_track_in_an_event_counts_the_person_once() -> None:
    event = enrolment(tracks=(Track.DIGITAL_CAREERS, Track.DIGITAL_CAREERS))

    deltas = transition(fresh(), apply(fresh(), event))

    assert set(deltas.values()) == {1}


# -- incremental == from scratch ------------------------------------------------------------

events = st.builds(
    enrolment,
    st.sampled_from(PEOPLE),
    district=st.sampled_from(DISTRICTS),
    association=st.sampled_from(ASSOCIATIONS),
    gender=st.sampled_from(Gender),
    tracks=st.lists(st.sampled_from(Track), min_size=1, max_size=2, unique=True),
    age_band=st.sampled_from(AgeBand),
)


@st.composite
def streams(draw: st.DrawFn) -> list[BeneficiaryEnrolledV1]:
    """Enrolments for a few people, some delivered again later (at-least-once delivery)."""
    stream = draw(st.lists(events, max_size=12))
    for original in draw(st.lists(st.integers(0, max(len(stream) - 1, 0)), max_size=4)):
        if stream:
            copy = stream[original]
            stream.insert(draw(st.integers(original + 1, len(stream))), copy)
    return stream


def subject(event: EventData) -> str:
    key = beneficiary_of(event)
    assert key is not None
    return key


def projected(stream: list[EventData]) -> dict[tuple[Bucket, str], int]:
    """Counters as the projector moves them, one event per batch, over an in-memory store."""
    stored: dict[str, BeneficiaryFacts | None] = {}
    counters: Counter[tuple[Bucket, str]] = Counter()

    async def load(keys: list[str]) -> dict[str, BeneficiaryFacts | None]:
        return {key: stored[key] for key in keys if key in stored}

    async def run() -> None:
        for event in stream:
            working = WorkingSet(load)
            await working.apply(subject(event), event)
            counters.update(working.deltas())
            # In memory an erased person's facts stay under their key: the link never expires.
            stored.update(dict(working.changed()))

    asyncio.run(run())
    return {key: count for key, count in counters.items() if count}


def rebuilt(stream: list[EventData]) -> dict[tuple[Bucket, str], int]:
    """Counters computed from scratch: the whole stream moves facts in memory (one batch, as
    a rebuild does), then every record's final facts are summed, erased ones included."""
    working = WorkingSet(nothing_stored)

    async def run() -> None:
        for event in stream:
            await working.apply(subject(event), event)

    asyncio.run(run())
    final = [f for f in working.now.values() if f is not None]
    counters: Counter[tuple[Bucket, str]] = Counter()
    for person in final:
        counters.update(contributions(person))
    return {key: count for key, count in counters.items() if count}


async def nothing_stored(keys: list[str]) -> dict[str, BeneficiaryFacts | None]:
    return {}


@given(streams())
def test_incremental_counters_equal_counters_rebuilt_from_final_facts(
    stream: list[BeneficiaryEnrolledV1],
) -> None:
    counters = projected(stream)

    assert counters == rebuilt(stream)
    assert all(count > 0 for count in counters.values())
    people = {event.beneficiary_id for event in stream}
    assert counters.get(enrolled((ALL, None, None)), 0) == len(people)


@given(streams(), st.randoms(use_true_random=False))
def test_counters_do_not_depend_on_interleaving_across_beneficiaries(
    stream: list[BeneficiaryEnrolledV1], random: Random
) -> None:
    per_person: dict[UUID, list[BeneficiaryEnrolledV1]] = defaultdict(list)
    for event in stream:
        per_person[event.beneficiary_id].append(event)
    turns = [event.beneficiary_id for event in stream]
    random.shuffle(turns)
    interleaved = [per_person[person].pop(0) for person in turns]

    assert projected(interleaved) == projected(stream)


@given(events)
def test_first_enrolment_adds_exactly_one_everywhere_it_counts(
    event: BeneficiaryEnrolledV1,
) -> None:
    deltas = transition(fresh(event.beneficiary_id), apply(fresh(event.beneficiary_id), event))

    assert set(deltas.values()) == {1}
    assert deltas == dict(contributions(apply(fresh(event.beneficiary_id), event)))


# -- lifecycle: updates, withdrawals, merges --------------------------------------------------

UPDATED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def update(
    beneficiary: UUID = PEOPLE[0],
    *,
    district: str = "qpv-benauge",
    association: str = "assoc-bastide",
    gender: Gender = Gender.FEMALE,
    tracks: Iterable[Track] = (Track.DIGITAL_CAREERS,),
    age_band: AgeBand = AgeBand.FROM_26_TO_44,
) -> BeneficiaryUpdatedV1:
    same = enrolment(
        beneficiary,
        district=district,
        association=association,
        gender=gender,
        tracks=tracks,
        age_band=age_band,
    )
    return BeneficiaryUpdatedV1(
        **same.model_dump(exclude={"enrolled_at", "shares_with_partners"}), updated_at=UPDATED_AT
    )


def withdrawal(beneficiary: UUID = PEOPLE[0]) -> BeneficiaryWithdrawnV1:
    return BeneficiaryWithdrawnV1(beneficiary_id=beneficiary, withdrawn_at=UPDATED_AT)


def merger(kept: UUID = PEOPLE[1], merged: UUID = PEOPLE[0]) -> BeneficiariesMergedV1:
    return BeneficiariesMergedV1(beneficiary_id=kept, merged_id=merged, merged_at=UPDATED_AT)


def erasure(beneficiary: UUID = PEOPLE[0]) -> BeneficiaryErasedV1:
    return BeneficiaryErasedV1(beneficiary_id=beneficiary, erased_at=UPDATED_AT, reason="retention")


def test_update_to_another_district_moves_the_counts_and_keeps_the_total() -> None:
    before = apply(fresh(), enrolment(district="qpv-benauge"))
    after = apply(before, update(district="qpv-aubiers"))

    deltas = transition(before, after)

    assert after.district_id == "qpv-aubiers"
    for scope in (ALL, "association:assoc-bastide", "track:digital_careers"):
        assert deltas[enrolled((scope, "district", "qpv-benauge"))] == -1
        assert deltas[enrolled((scope, "district", "qpv-aubiers"))] == 1
        assert enrolled((scope, None, None)) not in deltas
    assert deltas[enrolled(("district:qpv-benauge", None, None))] == -1
    assert deltas[enrolled(("district:qpv-aubiers", None, None))] == 1
    assert sum(deltas.values()) == 0


def test_update_changing_no_reported_dimension_moves_no_counter() -> None:
    before = apply(fresh(), enrolment())

    assert transition(before, apply(before, update())) == {}


def test_update_changing_tracks_moves_the_track_scopes() -> None:
    before = apply(fresh(), enrolment(tracks=(Track.DIGITAL_CAREERS,)))
    after = apply(before, update(tracks=(Track.DIGITAL_INCLUSION,)))

    deltas = transition(before, after)

    assert deltas[enrolled(("track:digital_careers", None, None))] == -1
    assert deltas[enrolled(("track:digital_inclusion", None, None))] == 1
    assert deltas[enrolled((ALL, "careers_gender", "female"))] == -1
    assert enrolled((ALL, None, None)) not in deltas


def test_withdrawal_counts_the_person_as_withdrawn_and_keeps_them_enrolled() -> None:
    before = apply(fresh(), enrolment())

    after = apply(before, withdrawal())

    assert after == replace(before, withdrawn=True)
    deltas = transition(before, after)
    assert {indicator for (_, indicator) in deltas} == {"withdrawn"}
    assert deltas[((ALL, None, None), "withdrawn")] == 1
    assert set(deltas.values()) == {1}


def test_merge_removes_the_merged_record_contribution_entirely() -> None:
    before = apply(fresh(PEOPLE[0]), enrolment(PEOPLE[0], tracks=list(Track)))

    after = apply(before, merger(kept=PEOPLE[1], merged=PEOPLE[0]))

    assert after.merged_into == str(PEOPLE[1])
    assert contributions(after) == Counter()
    assert transition(before, after) == {
        key: -count for key, count in contributions(before).items()
    }


def test_a_later_update_does_not_count_a_merged_record_again() -> None:
    merged = apply(apply(fresh(), enrolment()), merger())

    assert transition(merged, apply(merged, update(district="qpv-aubiers"))) == {}


def test_erasure_leaves_the_facts_and_counters_as_they_are() -> None:
    before = apply(fresh(), enrolment())

    assert apply(before, erasure()) == before


def test_beneficiary_of_a_merge_is_the_merged_record() -> None:
    assert beneficiary_of(merger(kept=PEOPLE[1], merged=PEOPLE[0])) == str(PEOPLE[0])


@pytest.mark.parametrize(
    "event",
    [enrolment(PEOPLE[2]), update(PEOPLE[2]), withdrawal(PEOPLE[2]), erasure(PEOPLE[2])],
    ids=["enrolled", "updated", "withdrawn", "erased"],
)
def test_beneficiary_of_an_event_about_one_person_is_that_person(event: EventData) -> None:
    assert beneficiary_of(event) == str(PEOPLE[2])


def test_reference_data_events_are_about_no_beneficiary() -> None:
    district = DistrictUpsertedV1(
        district_id="qpv-benauge",
        name="La Benauge",
        commune="Bordeaux",
        insee_code="33063",
        qpv_code="QN03301M",
    )

    assert beneficiary_of(district) is None


def dimension_events(person: UUID) -> st.SearchStrategy[EventData]:
    """An enrolment or a rectification of ``person``, with any reported dimensions."""
    dimensions: dict[str, st.SearchStrategy[Any]] = {
        "district": st.sampled_from(DISTRICTS),
        "association": st.sampled_from(ASSOCIATIONS),
        "gender": st.sampled_from(Gender),
        "tracks": st.lists(st.sampled_from(Track), min_size=1, max_size=2, unique=True),
        "age_band": st.sampled_from(AgeBand),
    }
    return st.one_of(
        st.builds(enrolment, st.just(person), **dimensions),
        st.builds(update, st.just(person), **dimensions),
    )


@st.composite
def lifecycle_streams(draw: st.DrawFn) -> list[EventData]:
    """Histories of a few people (enrolment, updates, withdrawal, erasure, merge into another),
    interleaved in any order that keeps each record's own order, some events delivered again."""
    histories: dict[UUID, list[EventData]] = {}
    for person in PEOPLE:
        history: list[EventData] = []
        if draw(st.booleans()):
            history.append(draw(dimension_events(person)))
        history += draw(
            st.lists(
                st.one_of(
                    dimension_events(person),
                    st.just(withdrawal(person)),
                    st.just(erasure(person)),
                ),
                max_size=3,
            )
        )
        kept = draw(st.none() | st.sampled_from([p for p in PEOPLE if p != person]))
        if kept is not None:
            history.append(merger(kept=kept, merged=person))
        histories[person] = history
    turns = [person for person, history in histories.items() for _ in history]
    stream = [histories[person].pop(0) for person in draw(st.permutations(turns))]
    for original in draw(st.lists(st.integers(0, max(len(stream) - 1, 0)), max_size=4)):
        if stream:
            stream.insert(draw(st.integers(original + 1, len(stream))), stream[original])
    return stream


def expected_districts(stream: list[EventData]) -> Counter[str]:
    """Read straight off the events: each person counts in the district of their last enrolment
    or update, unless their record was merged into another; an erasure changes no figure."""
    district: dict[str, str] = {}
    merged: set[str] = set()
    for event in stream:
        if isinstance(event, BeneficiaryEnrolledV1 | BeneficiaryUpdatedV1):
            district[str(event.beneficiary_id)] = event.district_id
        elif isinstance(event, BeneficiariesMergedV1):
            merged.add(str(event.merged_id))
    return Counter(where for person, where in district.items() if person not in merged)


@given(lifecycle_streams())
def test_incremental_counters_equal_rebuilt_counters_through_updates_withdrawals_and_merges(
    stream: list[EventData],
) -> None:
    counters = projected(stream)

    assert counters == rebuilt(stream)
    assert all(count > 0 for count in counters.values())
    districts = expected_districts(stream)
    assert counters.get(enrolled((ALL, None, None)), 0) == sum(districts.values())
    for district in DISTRICTS:
        assert counters.get(enrolled((ALL, "district", district)), 0) == districts[district]


@given(lifecycle_streams(), st.randoms(use_true_random=False))
def test_lifecycle_counters_do_not_depend_on_interleaving_across_records(
    stream: list[EventData], random: Random
) -> None:
    per_record: dict[str, list[EventData]] = defaultdict(list)
    for event in stream:
        per_record[subject(event)].append(event)
    turns = [subject(event) for event in stream]
    random.shuffle(turns)
    interleaved = [per_record[key].pop(0) for key in turns]

    assert projected(interleaved) == projected(stream)


# -- trained, directed towards employment ------------------------------------------------------


def trained(beneficiary: UUID = PEOPLE[0]) -> BeneficiaryTrainedV1:
    return BeneficiaryTrainedV1(
        beneficiary_id=beneficiary, sessions_present=4, minutes_present=720, trained_at=UPDATED_AT
    )


def placement(kind: PlacementKind, beneficiary: UUID = PEOPLE[0]) -> PlacementRecordedV1:
    return PlacementRecordedV1(
        beneficiary_id=beneficiary,
        placement_id=UUID(int=7),
        kind=kind,
        outcome_class=OutcomeClass.OTHER
        if kind is PlacementKind.OTHER
        else OutcomeClass.DURABLE_EMPLOYMENT,
        directed_to_employment=kind is not PlacementKind.OTHER,
        digital_sector=True,
        starts_on=UPDATED_AT.date(),
        recorded_at=UPDATED_AT,
    )


def test_training_before_enrolment_counts_under_unknown_then_moves() -> None:
    early = apply(fresh(), trained())
    assert transition(fresh(), early) == {
        ((scope, dimension, value), "trained"): 1
        for scope in ("all", "association:unknown", "district:unknown")
        for dimension, value in (
            (None, None),
            ("district", "unknown"),
            ("association", "unknown"),
            ("gender", "unknown"),
            ("age_band", "unknown"),
            ("track", "unknown"),
            ("cohort", "unknown"),
            ("week", "2026-W10"),  # when they were trained
            ("month", "2026-03"),
        )
    }
    later = apply(early, enrolment())
    moved = transition(early, later)
    assert moved[(("all", "district", "unknown"), "trained")] == -1
    assert moved[(("all", "district", "qpv-benauge"), "trained")] == 1
    assert (("all", None, None), "trained") not in moved, "the total does not change"


def test_a_second_trained_event_changes_nothing() -> None:
    once = apply(apply(fresh(), enrolment()), trained())
    assert transition(once, apply(once, trained())) == {}


@pytest.mark.parametrize("kind", list(PlacementKind))
def test_every_placement_but_other_counts_as_directed_towards_employment(
    kind: PlacementKind,
) -> None:
    before = apply(fresh(), enrolment())
    after = apply(before, placement(kind))
    change = transition(before, after).get((("all", None, None), "directed_to_employment"), 0)
    assert change == (0 if kind is PlacementKind.OTHER else 1)


def test_merge_carries_training_and_placement_to_the_kept_record_once() -> None:
    kept = apply(fresh(PEOPLE[0]), enrolment(PEOPLE[0]))
    merged = apply(apply(fresh(PEOPLE[1]), enrolment(PEOPLE[1])), trained(PEOPLE[1]))
    merged = apply(merged, placement(PlacementKind.CDI, PEOPLE[1]))
    absorbed = absorb(kept, merged)
    assert absorbed.trained
    assert absorbed.directed_to_employment
    assert absorb(absorbed, merged) == absorbed, "absorbing twice changes nothing"


# -- a transition spreads only what moved ---------------------------------------------------

attendance_records = st.dictionaries(
    st.sampled_from([f"session-{n}|person" for n in range(6)]),
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(["present", "excused_absence", "unexcused_absence"]),
            "minutes": st.integers(0, 180),
            "on": st.sampled_from(["2026-01-05", "2026-01-12", "2026-02-02", "2026-03-30"]),
        }
    ),
    max_size=5,
)
people_facts = st.builds(
    BeneficiaryFacts,
    st.just("person-1"),
    enrolled=st.booleans(),
    enrolled_on=st.sampled_from(["2026-01-05", "2026-02-02"]),
    association_id=st.sampled_from(ASSOCIATIONS),
    district_id=st.sampled_from(DISTRICTS),
    gender=st.sampled_from([g.value for g in Gender]),
    tracks=st.sampled_from([(Track.DIGITAL_INCLUSION.value,), (Track.DIGITAL_CAREERS.value,)]),
    attendances=attendance_records,
    trained_on=st.sampled_from([None, "2026-03-30"]),
)


@given(people_facts, attendance_records, st.booleans(), st.sampled_from(DISTRICTS))
def test_transition_equals_the_difference_of_whole_contributions(
    old: BeneficiaryFacts, changed: dict[str, dict[str, Any]], move: bool, district: str
) -> None:
    """Attendance added, corrected or (in a merge's absorb) replaced, with the person in the
    same cells or moved: the quick way and the whole way give the same deltas."""
    new = replace(old, attendances={**old.attendances, **changed})
    if move:
        new = replace(new, district_id=district)
    whole = Counter(contributions(new))
    whole.subtract(contributions(old))

    assert transition(old, new) == {key: n for key, n in whole.items() if n}
