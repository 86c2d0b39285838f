"""Orientation rules: IAE outcome classes, the consent gate on referrals, refusal reasons,
follow-up due dates and the due list — pure, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import Conflict, InvalidInput
from contracts.orientation import (
    OutcomeClass,
    PartnerKind,
    PlacementKind,
    ReferralOutcome,
)
from services.orientation import domain
from services.orientation.domain import (
    Person,
    PersonStatus,
    Placement,
    PlacementRequest,
    ReferenceData,
    ReferralStatus,
    WorkshopRequest,
)
from services.orientation.store import REFERENCE_FILE

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
REFERENCE = ReferenceData.from_json(json.loads(REFERENCE_FILE.read_text(encoding="utf-8")))


def person(shares: bool = True, status: PersonStatus = PersonStatus.ACTIVE) -> Person:
    return Person(str(uuid4()), "asso-a", shares_with_partners=shares, status=status)


def placement(
    kind: PlacementKind = PlacementKind.CDI, starts_on: date = date(2026, 1, 15)
) -> Placement:
    return Placement(
        id=uuid4(),
        beneficiary_id=str(uuid4()),
        kind=kind,
        starts_on=starts_on,
        digital_sector=True,
        recorded_at=NOW,
    )


# -- outcome classes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (PlacementKind.CDI, OutcomeClass.DURABLE_EMPLOYMENT),
        (PlacementKind.CDD_6M_PLUS, OutcomeClass.DURABLE_EMPLOYMENT),
        (PlacementKind.INTERIM_6M_PLUS, OutcomeClass.DURABLE_EMPLOYMENT),
        (PlacementKind.BUSINESS_CREATION, OutcomeClass.DURABLE_EMPLOYMENT),
        (PlacementKind.CDD_UNDER_6M, OutcomeClass.TRANSITIONAL_EMPLOYMENT),
        (PlacementKind.INTERIM_UNDER_6M, OutcomeClass.TRANSITIONAL_EMPLOYMENT),
        (PlacementKind.SUBSIDISED_CONTRACT, OutcomeClass.TRANSITIONAL_EMPLOYMENT),
        (PlacementKind.QUALIFYING_TRAINING, OutcomeClass.POSITIVE_EXIT),
        (PlacementKind.APPRENTICESHIP, OutcomeClass.POSITIVE_EXIT),
        (PlacementKind.SIAE_HIRING, OutcomeClass.POSITIVE_EXIT),
        (PlacementKind.OTHER, OutcomeClass.OTHER),
    ],
)
def test_each_placement_kind_has_its_iae_outcome_class(
    kind: PlacementKind, expected: OutcomeClass
) -> None:
    assert domain.outcome_class(kind) is expected


@pytest.mark.parametrize("kind", list(PlacementKind))
def test_every_placement_kind_but_other_is_directed_to_employment(kind: PlacementKind) -> None:
    assert domain.directed_to_employment(kind) is (kind is not PlacementKind.OTHER)


def test_placement_event_carries_outcome_class_and_no_employer_name() -> None:
    someone = person()
    request = PlacementRequest(
        someone.id, PlacementKind.CDD_UNDER_6M, date(2026, 3, 1), True, "Boulangerie Dupont"
    )
    recorded = domain.record_placement(someone, request, placement_id=uuid4(), now=NOW)
    event = recorded.recorded_event()
    assert recorded.employer == "Boulangerie Dupont"
    assert event.outcome_class is OutcomeClass.TRANSITIONAL_EMPLOYMENT
    assert event.directed_to_employment is True
    assert "Dupont" not in event.model_dump_json()
    assert "employer" not in event.model_dump()


@pytest.mark.parametrize("employer", ["<script>x</script>", "a" * 201, "ACME ${jndi}"])
def test_employer_name_with_markup_or_too_long_is_refused(employer: str) -> None:
    someone = person()
    request = PlacementRequest(someone.id, PlacementKind.CDI, date(2026, 3, 1), employer=employer)
    with pytest.raises(InvalidInput) as refused:
        domain.record_placement(someone, request, placement_id=uuid4(), now=NOW)
    assert refused.value.errors[0].field == "employer"


def test_placement_starting_years_away_is_refused_as_a_typo() -> None:
    someone = person()
    request = PlacementRequest(someone.id, PlacementKind.CDI, date(2036, 3, 1))
    with pytest.raises(InvalidInput, match="startsOn"):
        domain.record_placement(someone, request, placement_id=uuid4(), now=NOW)


def test_same_placement_twice_is_a_conflict_naming_the_first() -> None:
    with pytest.raises(Conflict) as conflict:
        domain.refuse_duplicate_placement("p-1")
    assert conflict.value.existing_id == "p-1"


# -- referrals -------------------------------------------------------------------------------


def test_referral_without_consent_to_share_is_refused_naming_the_consent() -> None:
    with pytest.raises(InvalidInput, match="share_with_partners") as refused:
        domain.make_referral(
            person(shares=False), PartnerKind.EMPLOYER, referral_id=uuid4(), now=NOW
        )
    assert refused.value.status == 422


def test_referral_with_consent_is_made_open() -> None:
    someone = person()
    referral, event = domain.make_referral(
        someone, PartnerKind.FRANCE_TRAVAIL, referral_id=uuid4(), now=NOW
    )
    assert referral.status is ReferralStatus.OPEN
    assert event.beneficiary_id == UUID(someone.id)
    assert event.partner_kind is PartnerKind.FRANCE_TRAVAIL


def test_referral_of_someone_withdrawn_is_refused() -> None:
    with pytest.raises(InvalidInput, match="left the programme"):
        domain.make_referral(
            person(status=PersonStatus.WITHDRAWN),
            PartnerKind.EMPLOYER,
            referral_id=uuid4(),
            now=NOW,
        )


def test_open_referral_can_be_resolved_even_after_consent_is_withdrawn() -> None:
    referral, _ = domain.make_referral(person(), PartnerKind.EMPLOYER, referral_id=uuid4(), now=NOW)
    # The resolution depends on the referral only: consent gates making, not resolving.
    resolved, event = domain.resolve_referral(
        referral, ReferralOutcome.ACCEPTED, None, REFERENCE, NOW
    )
    assert resolved.status is ReferralStatus.ACCEPTED
    assert event.refusal_reason is None


def test_refusal_with_a_configured_reason_is_recorded() -> None:
    referral, _ = domain.make_referral(
        person(), PartnerKind.TRAINING_ORGANISATION, referral_id=uuid4(), now=NOW
    )
    resolved, event = domain.resolve_referral(
        referral, ReferralOutcome.REFUSED, "no_places_left", REFERENCE, NOW
    )
    assert resolved.status is ReferralStatus.REFUSED
    assert event.refusal_reason == "no_places_left"


def test_refusal_with_an_unknown_reason_lists_the_accepted_ones() -> None:
    referral, _ = domain.make_referral(person(), PartnerKind.EMPLOYER, referral_id=uuid4(), now=NOW)
    with pytest.raises(InvalidInput) as refused:
        domain.resolve_referral(referral, ReferralOutcome.REFUSED, "too_old", REFERENCE, NOW)
    message = refused.value.errors[0].message
    assert refused.value.errors[0].field == "refusalReason"
    assert all(reason in message for reason in REFERENCE.refusal_reasons)


def test_refusal_without_a_reason_is_refused() -> None:
    referral, _ = domain.make_referral(person(), PartnerKind.EMPLOYER, referral_id=uuid4(), now=NOW)
    with pytest.raises(InvalidInput, match="refusalReason"):
        domain.resolve_referral(referral, ReferralOutcome.REFUSED, None, REFERENCE, NOW)


def test_a_resolved_referral_cannot_be_resolved_again() -> None:
    referral, _ = domain.make_referral(person(), PartnerKind.EMPLOYER, referral_id=uuid4(), now=NOW)
    resolved, _ = domain.resolve_referral(referral, ReferralOutcome.ACCEPTED, None, REFERENCE, NOW)
    with pytest.raises(InvalidInput, match="already accepted") as refused:
        domain.resolve_referral(resolved, ReferralOutcome.REFUSED, "other", REFERENCE, NOW)
    assert refused.value.status == 409


# -- workshops and interests -----------------------------------------------------------------


def test_workshop_emits_one_attendance_per_participant() -> None:
    a, b = person(), person()
    request = WorkshopRequest(
        "asso-a", NOW - timedelta(hours=2), ("M1805",), True, (a.id, b.id, a.id)
    )
    workshop = domain.record_workshop(
        request, {a.id: a, b.id: b}, REFERENCE, workshop_id=uuid4(), now=NOW
    )
    events = workshop.attended_events()
    assert [str(e.beneficiary_id) for e in events] == [a.id, b.id]
    assert all(e.women_focused and e.job_families == ["M1805"] for e in events)


def test_workshop_with_an_unknown_participant_is_refused() -> None:
    stranger = str(uuid4())
    request = WorkshopRequest("asso-a", NOW, ("M1805",), False, (stranger,))
    with pytest.raises(InvalidInput, match=stranger):
        domain.record_workshop(request, {}, REFERENCE, workshop_id=uuid4(), now=NOW)


def test_interests_in_an_unknown_job_family_are_refused_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as refused:
        domain.record_interests(person(), ["M1805", "Z9999"], REFERENCE, NOW)
    message = refused.value.errors[0].message
    assert "Z9999" in message
    assert "M1805" in message


def test_interests_are_recorded_without_repeats() -> None:
    event = domain.record_interests(person(), ["M1805", "E1205", "M1805"], REFERENCE, NOW)
    assert event.job_families == ["M1805", "E1205"]


def test_reference_data_has_job_families_and_refusal_reasons() -> None:
    assert len(REFERENCE.job_families) >= 8
    assert "prerequisites_not_met" in REFERENCE.refusal_reasons
    assert all(f.rome_codes and f.code in f.rome_codes for f in REFERENCE.job_families.values())


# -- follow-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts_on", "months", "due_on"),
    [
        (date(2026, 1, 15), 3, date(2026, 4, 15)),
        (date(2026, 1, 15), 6, date(2026, 7, 15)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2026, 10, 15), 3, date(2027, 1, 15)),  # across the year
        (date(2026, 5, 31), 3, date(2026, 8, 31)),
    ],
)
def test_follow_up_falls_due_calendar_months_later_clamped_to_month_end(
    starts_on: date, months: int, due_on: date
) -> None:
    assert domain.follow_up_due_on(starts_on, months) == due_on


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.sampled_from([3, 6]))
def test_follow_up_due_date_is_in_the_target_month_and_never_before_the_start(
    starts_on: date, months: int
) -> None:
    due = domain.follow_up_due_on(starts_on, months)
    months_apart = (due.year - starts_on.year) * 12 + due.month - starts_on.month
    assert months_apart == months
    assert due > starts_on
    assert due.day == starts_on.day or due.day < starts_on.day  # clamped, never later


def test_due_list_holds_what_is_due_by_today_and_not_recorded() -> None:
    early, late = placement(starts_on=date(2025, 9, 1)), placement(starts_on=date(2025, 12, 1))
    recorded = {(str(early.id), 3)}
    due = domain.due_follow_ups([early, late], recorded, today=date(2026, 3, 1))
    assert {(d.placement_id, d.months, d.due_on) for d in due} == {
        (late.id, 3, date(2026, 3, 1)),
        (early.id, 6, date(2026, 3, 1)),
    }
    assert [d.due_on for d in due] == sorted(d.due_on for d in due)
    assert domain.due_follow_ups([early, late], recorded, today=date(2026, 2, 28)) == []


def test_placements_not_directed_to_employment_are_not_followed_up() -> None:
    other = placement(PlacementKind.OTHER, starts_on=date(2025, 1, 1))
    assert domain.due_follow_ups([other], set(), today=date(2026, 3, 1)) == []


def test_follow_up_is_recorded_once_per_placement_and_months() -> None:
    started = placement(starts_on=date(2025, 11, 1))
    event = domain.record_follow_up(started, 3, True, already_recorded=False, now=NOW)
    assert (event.months, event.still_in_post) == (3, True)
    with pytest.raises(InvalidInput, match="recorded") as refused:
        domain.record_follow_up(started, 3, False, already_recorded=True, now=NOW)
    assert refused.value.status == 409


def test_follow_up_other_than_3_or_6_months_is_refused() -> None:
    with pytest.raises(InvalidInput, match="3 or 6"):
        domain.record_follow_up(placement(), 4, True, already_recorded=False, now=NOW)


def test_follow_up_weeks_before_it_is_due_is_refused_with_the_date() -> None:
    recent = placement(starts_on=date(2026, 2, 1))
    with pytest.raises(InvalidInput, match="2026-05-01"):
        domain.record_follow_up(recent, 3, True, already_recorded=False, now=NOW)
