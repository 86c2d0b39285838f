"""Registration lifecycle rules: rectification, consent, withdrawal, merge, erasure, retention
and duplicate detection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.errors import Conflict, InvalidInput
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    ConsentChangedV1,
    ConsentPurpose,
)
from services.registration.domain import (
    DEFAULT_RETENTION,
    Association,
    Beneficiary,
    Consent,
    District,
    EnrolmentRequest,
    ErasureReason,
    PersonalData,
    Rectification,
    ReferenceData,
    Status,
    change_consent,
    due_for_retention,
    duplicate_keys,
    enrol,
    erase,
    merge,
    rectify,
    refuse_duplicate,
    withdraw,
)
from services.registration.vault import Vault

NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
YASMINE = UUID("0b5e3a52-7c1d-4d8e-9a51-3f0c2b6d1e77")
DUPLICATE = UUID("5d0c6f1e-2a4b-4c8d-8e9f-0a1b2c3d4e5f")

UPDATE_EVENT_FIELDS = {
    "beneficiary_id",
    "association_id",
    "district_id",
    "gender",
    "age_band",
    "tracks",
    "employment_status",
    "qpv_resident",
    "updated_at",
}

BENAUGE = District("qpv-benauge", "La Benauge", "Bordeaux", "33063", "QN03301M")
AUBIERS = District("qpv-aubiers", "Les Aubiers", "Bordeaux", "33063", "QN03302M")
GRAND_PARC = District("qpv-grand-parc", "Grand Parc", "Bordeaux", "33063", "QN03303M")
BASTIDE = Association("assoc-bastide", "Bastide Numérique", (BENAUGE.id,))
PASSERELLE = Association("assoc-passerelle", "Passerelle Emploi", (BENAUGE.id, AUBIERS.id))

REFERENCE = ReferenceData(
    districts={d.id: d for d in (BENAUGE, AUBIERS, GRAND_PARC)},
    associations={a.id: a for a in (BASTIDE, PASSERELLE)},
)

PERSONAL = PersonalData(
    first_name="Yasmine",
    last_name="Belkacem",
    phone="06 12 34 56 78",
    email="yasmine.belkacem@example.org",
    street="12 rue de la Benauge",
    postcode="33100",
)
CONSENT = Consent(programme_follow_up=True, share_with_partners=True, contact_for_surveys=False)


def enrolled(
    beneficiary_id: UUID = YASMINE,
    *,
    now: datetime = NOW,
    association_id: str = PASSERELLE.id,
    **changes: Any,
) -> Beneficiary:
    """A beneficiary enrolled through the ordinary rules, with some request fields changed."""
    request = EnrolmentRequest(
        association_id=association_id,
        district_id=BENAUGE.id,
        personal=PERSONAL,
        birth_year=1990,
        gender=Gender.FEMALE,
        tracks=(Track.DIGITAL_CAREERS,),
        employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
        consent=CONSENT,
    )
    return enrol(replace(request, **changes), REFERENCE, beneficiary_id=beneficiary_id, now=now)


def withdrawn() -> Beneficiary:
    record, _ = withdraw(enrolled(), NOW)
    return record


def refusal(action: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        action()
    return refused.value


def refused_fields(action: Callable[[], object]) -> list[str]:
    return [error.field for error in refusal(action).errors]


# -- rectification --------------------------------------------------------------------------


def test_rectifying_only_the_phone_changes_the_record_but_emits_no_event() -> None:
    beneficiary = enrolled()
    change = Rectification(personal=replace(beneficiary.personal, phone=" 07 98 76 54 32 "))

    updated, event = rectify(beneficiary, change, REFERENCE, LATER)

    assert event is None
    assert updated.personal == replace(beneficiary.personal, phone="07 98 76 54 32")
    assert updated.last_contact_at == LATER
    assert replace(updated, personal=beneficiary.personal) == beneficiary


def test_rectifying_the_birth_year_moves_the_age_band_and_emits_an_update() -> None:
    beneficiary = enrolled(birth_year=1990)  # 36 at enrolment

    updated, event = rectify(beneficiary, Rectification(birth_year=2005), REFERENCE, LATER)

    assert (updated.birth_year, updated.age_band) == (2005, AgeBand.FROM_18_TO_25)
    assert event == BeneficiaryUpdatedV1(
        beneficiary_id=YASMINE,
        association_id=PASSERELLE.id,
        district_id=BENAUGE.id,
        gender=Gender.FEMALE,
        age_band=AgeBand.FROM_18_TO_25,
        tracks=[Track.DIGITAL_CAREERS],
        employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
        qpv_resident=True,
        updated_at=LATER,
    )


def test_update_event_carries_no_personal_data() -> None:
    beneficiary = enrolled(birth_year=1987)
    personal = PersonalData(
        first_name="Philomène",
        last_name="Ravoajanahary",
        phone="+33 7 98 76 54 32",
        email="philomene.r@quartier.example",
        street="3 allée des Peupliers",
        postcode="33300",
        insee_code="33063",
    )

    _, event = rectify(
        beneficiary,
        Rectification(personal=personal, birth_year=1999, district_id=AUBIERS.id),
        REFERENCE,
        LATER,
    )

    assert event is not None
    assert set(event.model_dump()) == UPDATE_EVENT_FIELDS
    serialised = event.model_dump_json()
    revealing = [
        personal.first_name,
        personal.last_name,
        personal.phone,
        "7 98 76 54 32",
        personal.email,
        personal.street,
        "1999",
        "1987",
    ]
    assert [value for value in revealing if value and value in serialised] == []


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        (Rectification(district_id=AUBIERS.id), "district_id", AUBIERS.id),
        (Rectification(gender=Gender.NON_BINARY), "gender", Gender.NON_BINARY),
        (
            Rectification(tracks=(Track.DIGITAL_INCLUSION, Track.DIGITAL_INCLUSION)),
            "tracks",
            [Track.DIGITAL_INCLUSION],
        ),
        (
            Rectification(employment_status=EmploymentStatus.EMPLOYED),
            "employment_status",
            EmploymentStatus.EMPLOYED,
        ),
        (Rectification(qpv_resident=False), "qpv_resident", False),
    ],
    ids=["district", "gender", "tracks", "employment status", "qpv resident"],
)
def test_rectifying_a_dimension_emits_an_update_with_its_new_value(
    change: Rectification, field: str, value: object
) -> None:
    _, event = rectify(enrolled(), change, REFERENCE, LATER)

    assert event is not None
    assert getattr(event, field) == value


def test_rectifying_to_the_same_values_emits_no_event() -> None:
    beneficiary = enrolled()
    change = Rectification(
        district_id=beneficiary.district_id,
        birth_year=beneficiary.birth_year,
        gender=beneficiary.gender,
        tracks=beneficiary.tracks,
    )

    updated, event = rectify(beneficiary, change, REFERENCE, LATER)

    assert event is None
    assert updated == beneficiary


def test_moving_to_a_district_not_served_is_refused_naming_district_id() -> None:
    beneficiary = enrolled(association_id=BASTIDE.id)

    refused = refusal(
        lambda: rectify(beneficiary, Rectification(district_id=AUBIERS.id), REFERENCE, LATER)
    )

    assert [error.field for error in refused.errors] == ["districtId"]
    assert BENAUGE.id in refused.errors[0].message
    assert refused.status == 422


def test_moving_to_an_unknown_district_is_refused_naming_district_id() -> None:
    beneficiary = enrolled()

    fields = refused_fields(
        lambda: rectify(beneficiary, Rectification(district_id="qpv-nowhere"), REFERENCE, LATER)
    )

    assert fields == ["districtId"]


def test_rectification_lists_every_invalid_field() -> None:
    beneficiary = enrolled()
    personal = replace(beneficiary.personal, first_name=" ", phone="call me", postcode="331")

    fields = refused_fields(
        lambda: rectify(
            beneficiary,
            Rectification(personal=personal, birth_year=1800, tracks=()),
            REFERENCE,
            LATER,
        )
    )

    assert sorted(fields) == ["birthYear", "firstName", "phone", "postcode", "tracks"]


# -- a record that may no longer change -----------------------------------------------------

OPERATIONS: dict[str, Callable[[Beneficiary], object]] = {
    "rectify": lambda record: rectify(record, Rectification(gender=Gender.MALE), REFERENCE, LATER),
    "withdraw": lambda record: withdraw(record, LATER),
    "give consent": lambda record: change_consent(
        record, ConsentPurpose.CONTACT_FOR_SURVEYS, True, LATER
    ),
    "withdraw consent": lambda record: change_consent(
        record, ConsentPurpose.SHARE_WITH_PARTNERS, False, LATER
    ),
    "merge into it": lambda record: merge(record, enrolled(DUPLICATE), LATER),
    "merge it away": lambda record: merge(enrolled(DUPLICATE), record, LATER),
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
def test_a_withdrawn_record_cannot_change(operation: Callable[[Beneficiary], object]) -> None:
    refused = refusal(lambda: operation(withdrawn()))

    assert refused.status == 409
    assert [error.field for error in refused.errors] == ["id"]
    assert "withdrawn" in refused.errors[0].message


@pytest.mark.parametrize("status", [Status.MERGED, Status.ERASED])
@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
def test_a_merged_or_erased_record_cannot_change(
    operation: Callable[[Beneficiary], object], status: Status
) -> None:
    record = replace(enrolled(), status=status)

    refused = refusal(lambda: operation(record))

    assert refused.status == 409
    assert status.value in refused.errors[0].message


# -- consent and withdrawal -----------------------------------------------------------------


@pytest.mark.parametrize("purpose", list(ConsentPurpose))
def test_changing_consent_to_its_current_value_emits_no_event(purpose: ConsentPurpose) -> None:
    beneficiary = enrolled()
    current = getattr(beneficiary.consent, purpose.value)

    unchanged, event = change_consent(beneficiary, purpose, current, LATER)

    assert event is None
    assert unchanged == beneficiary
    assert unchanged.last_contact_at == NOW


def test_withdrawing_consent_to_share_with_partners_emits_consent_changed_not_given() -> None:
    beneficiary = enrolled()

    updated, event = change_consent(beneficiary, ConsentPurpose.SHARE_WITH_PARTNERS, False, LATER)

    assert event == ConsentChangedV1(
        beneficiary_id=YASMINE,
        purpose=ConsentPurpose.SHARE_WITH_PARTNERS,
        given=False,
        changed_at=LATER,
    )
    assert updated.consent == replace(CONSENT, share_with_partners=False)
    assert updated.last_contact_at == LATER
    assert updated.status is Status.ACTIVE


def test_giving_consent_to_surveys_emits_consent_changed_given() -> None:
    updated, event = change_consent(enrolled(), ConsentPurpose.CONTACT_FOR_SURVEYS, True, LATER)

    assert event is not None
    assert (event.purpose, event.given) == (ConsentPurpose.CONTACT_FOR_SURVEYS, True)
    assert updated.consent == replace(CONSENT, contact_for_surveys=True)


def test_withdrawal_marks_the_record_withdrawn_and_keeps_its_dimensions() -> None:
    beneficiary = enrolled()

    record, event = withdraw(beneficiary, LATER)

    assert event == BeneficiaryWithdrawnV1(beneficiary_id=YASMINE, withdrawn_at=LATER)
    assert record.status is Status.WITHDRAWN
    assert record.last_contact_at == LATER
    assert replace(record, status=Status.ACTIVE) == beneficiary


# -- merge ----------------------------------------------------------------------------------


def test_merge_joins_the_tracks_once_each_keeping_the_kept_record_first() -> None:
    kept = enrolled(tracks=(Track.DIGITAL_CAREERS,))
    duplicate = enrolled(DUPLICATE, tracks=(Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS))

    merged, event = merge(kept, duplicate, LATER)

    assert merged.tracks == (Track.DIGITAL_CAREERS, Track.DIGITAL_INCLUSION)
    assert event == BeneficiariesMergedV1(
        beneficiary_id=YASMINE, merged_id=DUPLICATE, merged_at=LATER
    )


@pytest.mark.parametrize(
    ("kept_at", "duplicate_at"),
    [(NOW, NOW - timedelta(days=40)), (NOW - timedelta(days=40), NOW)],
    ids=["duplicate enrolled first", "kept enrolled first"],
)
def test_merge_keeps_the_earlier_enrolment_date(kept_at: datetime, duplicate_at: datetime) -> None:
    kept = enrolled(now=kept_at)
    duplicate = enrolled(DUPLICATE, now=duplicate_at)

    merged, _ = merge(kept, duplicate, LATER)

    assert merged.enrolled_at == min(kept_at, duplicate_at)
    assert merged.last_contact_at == LATER


def test_merge_keeps_the_kept_record_identity_placement_and_consent() -> None:
    kept = enrolled(consent=replace(CONSENT, share_with_partners=False))
    duplicate = enrolled(
        DUPLICATE,
        district_id=AUBIERS.id,
        gender=Gender.UNDISCLOSED,
        consent=replace(CONSENT, contact_for_surveys=True),
    )

    merged, _ = merge(kept, duplicate, LATER)

    assert merged == kept
    assert merged.consent == replace(CONSENT, share_with_partners=False)


def test_a_record_cannot_be_merged_into_itself() -> None:
    beneficiary = enrolled()

    assert refused_fields(lambda: merge(beneficiary, beneficiary, LATER)) == ["duplicateId"]


def test_records_of_different_associations_cannot_be_merged() -> None:
    kept = enrolled(association_id=PASSERELLE.id)
    duplicate = enrolled(DUPLICATE, association_id=BASTIDE.id)

    refused = refusal(lambda: merge(kept, duplicate, LATER))

    assert [error.field for error in refused.errors] == ["duplicateId"]
    assert "same association" in refused.errors[0].message


def test_rectifying_only_the_phone_after_a_merge_emits_no_event() -> None:
    kept = enrolled(birth_year=2000)  # 26 in 2026
    duplicate = enrolled(DUPLICATE, birth_year=2000, now=datetime(2025, 6, 1, tzinfo=UTC))
    merged, _ = merge(kept, duplicate, LATER)
    change = Rectification(personal=replace(merged.personal, phone="07 98 76 54 32"))

    updated, event = rectify(merged, change, REFERENCE, LATER)

    assert updated.age_band == merged.age_band
    assert event is None


# -- erasure --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(ErasureReason))
def test_erasure_event_states_the_reason(reason: ErasureReason) -> None:
    event = erase(enrolled(), reason, LATER)

    assert event == BeneficiaryErasedV1(beneficiary_id=YASMINE, erased_at=LATER, reason=reason)
    assert event.reason == reason.value


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.WITHDRAWN, Status.MERGED])
def test_a_record_may_be_erased_in_any_state_before_erasure(status: Status) -> None:
    event = erase(replace(enrolled(), status=status), ErasureReason.RETENTION, LATER)

    assert event.beneficiary_id == YASMINE


def test_an_erased_record_cannot_be_erased_again() -> None:
    erased = replace(enrolled(), status=Status.ERASED)

    refused = refusal(lambda: erase(erased, ErasureReason.REQUEST_OF_PERSON, LATER))

    assert refused.status == 409
    assert [error.field for error in refused.errors] == ["id"]


# -- retention ------------------------------------------------------------------------------


def test_only_records_without_contact_for_longer_than_the_period_are_due_oldest_first() -> None:
    period = timedelta(days=730)
    cutoff = LATER - period
    last_contacts = {
        "recent": LATER - timedelta(days=3),
        "exactly-at-cutoff": cutoff,
        "just-past-cutoff": cutoff - timedelta(microseconds=1),
        "oldest": cutoff - timedelta(days=400),
        "old": cutoff - timedelta(days=10),
        "just-before-cutoff": cutoff + timedelta(microseconds=1),
    }

    due = due_for_retention(last_contacts, LATER, period)

    assert due == ["oldest", "old", "just-past-cutoff"]


def test_default_retention_period_is_two_years() -> None:
    last_contacts = {
        "two-years-ago": LATER - timedelta(days=730),
        "a-day-more": LATER - timedelta(days=731),
    }

    assert timedelta(days=730) == DEFAULT_RETENTION
    assert due_for_retention(last_contacts, LATER) == ["a-day-more"]


def test_nothing_is_due_without_records() -> None:
    assert due_for_retention({}, LATER) == []


moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@given(
    st.dictionaries(st.uuids().map(str), moments, max_size=20),
    moments,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3 * 365)),
)
def test_due_records_are_exactly_those_past_the_cutoff_sorted_by_last_contact(
    last_contacts: dict[str, datetime], now: datetime, period: timedelta
) -> None:
    due = due_for_retention(last_contacts, now, period)

    assert set(due) == {key for key, at in last_contacts.items() if at < now - period}
    assert len(due) == len(set(due))
    contacts = [last_contacts[key] for key in due]
    assert contacts == sorted(contacts)


# -- duplicates -----------------------------------------------------------------------------


def keys_for(birth_year: int | None = 1990, **personal: Any) -> dict[str, str]:
    return duplicate_keys(replace(PERSONAL, **personal), birth_year)


@pytest.mark.parametrize(
    "phone",
    ["+33 6 12 34 56 78", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "0612345678"],
)
def test_phone_key_is_the_same_for_every_way_of_writing_a_french_number(phone: str) -> None:
    assert keys_for(phone=phone)["phone"] == "0612345678"


@pytest.mark.parametrize(
    "phone",
    ["+33 (0)6 12 34 56 78", "0033 6 12 34 56 78", "+33 6 12 34 56 78"],
)
def test_phone_key_is_the_same_for_international_forms_of_a_french_number(phone: str) -> None:
    assert keys_for(phone=phone)["phone"] == keys_for(phone="06 12 34 56 78")["phone"]


def test_phone_key_of_a_foreign_number_keeps_its_digits() -> None:
    assert keys_for(phone="+44 7700 900123")["phone"] == "447700900123"


def test_email_key_is_trimmed_and_lower_cased() -> None:
    assert keys_for(email=" Yasmine.Belkacem@Example.ORG ")["email"] == (
        "yasmine.belkacem@example.org"
    )


def test_name_key_includes_the_birth_year() -> None:
    assert keys_for(1990)["name_birth_year"] != keys_for(1991)["name_birth_year"]


def test_without_birth_year_there_is_no_name_key() -> None:
    assert set(keys_for(None)) == {"phone", "email"}


def test_only_present_identifiers_give_keys() -> None:
    assert keys_for(None, phone=None, email=None) == {}
    assert set(keys_for(1990, phone=None, email=None)) == {"name_birth_year"}


def test_name_keys_match_across_case_accents_and_hyphens_once_blind_indexed() -> None:
    vault = Vault(bytes(32))
    first = keys_for(first_name="Zoé", last_name="Martin-Durand")
    second = keys_for(first_name="ZOE", last_name="martin durand")

    assert vault.blind_index("name_birth_year", first["name_birth_year"]) == vault.blind_index(
        "name_birth_year", second["name_birth_year"]
    )


def test_no_existing_record_is_no_duplicate() -> None:
    refuse_duplicate(None)


def test_an_existing_record_is_refused_as_a_conflict_naming_it() -> None:
    existing_id = str(DUPLICATE)

    with pytest.raises(Conflict) as refused:
        refuse_duplicate(existing_id)

    assert isinstance(refused.value, InvalidInput)
    assert refused.value.existing_id == existing_id
    assert refused.value.status == 409
    assert [error.field for error in refused.value.errors] == ["id"]
    assert existing_id in refused.value.errors[0].message
