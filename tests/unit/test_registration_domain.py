"""Registration rules: who may be enrolled, where, with which consent; what the event reveals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.errors import InvalidInput
from services.registration.domain import (
    Association,
    Beneficiary,
    Consent,
    District,
    EnrolmentRequest,
    PersonalData,
    ReferenceData,
    enrol,
)

NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
BENEFICIARY_ID = UUID("0b5e3a52-7c1d-4d8e-9a51-3f0c2b6d1e77")

BENAUGE = District("qpv-benauge", "La Benauge", "Bordeaux", "33063", "QN03301M")
AUBIERS = District("qpv-aubiers", "Les Aubiers", "Bordeaux", "33063", "QN03302M")
BASTIDE = Association("assoc-bastide", "Bastide Numérique", (BENAUGE.id,))
PASSERELLE = Association("assoc-passerelle", "Passerelle Emploi", (BENAUGE.id, AUBIERS.id))

REFERENCE = ReferenceData(
    districts={d.id: d for d in (BENAUGE, AUBIERS)},
    associations={a.id: a for a in (BASTIDE, PASSERELLE)},
)

VALID = EnrolmentRequest(
    association_id=BASTIDE.id,
    district_id=BENAUGE.id,
    personal=PersonalData(
        first_name="Yasmine", last_name="Belkacem", phone="06 12 34 56 78", email="y@example.org"
    ),
    birth_year=1990,
    gender=Gender.FEMALE,
    tracks=(Track.DIGITAL_CAREERS,),
    employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
    consent=Consent(programme_follow_up=True, share_with_partners=False, contact_for_surveys=False),
)


def request(personal: dict[str, Any] | None = None, **changes: Any) -> EnrolmentRequest:
    """The valid request with some fields (and some personal data) changed."""
    return replace(VALID, personal=replace(VALID.personal, **(personal or {})), **changes)


def enrolled(enrolment: EnrolmentRequest) -> Beneficiary:
    return enrol(enrolment, REFERENCE, beneficiary_id=BENEFICIARY_ID, now=NOW)


def refusal(enrolment: EnrolmentRequest) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        enrolled(enrolment)
    return refused.value


def refused_fields(enrolment: EnrolmentRequest) -> list[str]:
    return [error.field for error in refusal(enrolment).errors]


def message_for(enrolment: EnrolmentRequest, field: str) -> str:
    [message] = [e.message for e in refusal(enrolment).errors if e.field == field]
    return message


# -- a valid enrolment ----------------------------------------------------------------------


def test_valid_enrolment_produces_the_beneficiary_with_the_requested_dimensions() -> None:
    beneficiary = enrolled(VALID)

    assert beneficiary.id == BENEFICIARY_ID
    assert beneficiary.association_id == BASTIDE.id
    assert beneficiary.district_id == BENAUGE.id
    assert beneficiary.gender is Gender.FEMALE
    assert beneficiary.tracks == (Track.DIGITAL_CAREERS,)
    assert beneficiary.employment_status is EmploymentStatus.REGISTERED_JOB_SEEKER
    assert beneficiary.consent == VALID.consent
    assert beneficiary.birth_year == 1990
    assert beneficiary.enrolled_at == NOW


def test_enrolment_trims_names_and_phone_and_lower_cases_email() -> None:
    beneficiary = enrolled(
        request(
            personal={
                "first_name": "  Yasmine ",
                "last_name": "\tBelkacem  ",
                "phone": " +33 6 12 34 56 78 ",
                "email": "  Yasmine.Belkacem@Example.ORG ",
            }
        )
    )

    assert beneficiary.personal == PersonalData(
        first_name="Yasmine",
        last_name="Belkacem",
        phone="+33 6 12 34 56 78",
        email="yasmine.belkacem@example.org",
    )


def test_empty_phone_and_email_are_stored_as_absent() -> None:
    beneficiary = enrolled(request(personal={"phone": "", "email": None}))

    assert beneficiary.personal.phone is None
    assert beneficiary.personal.email is None


@pytest.mark.parametrize(
    ("birth_year", "band"),
    [
        (2009, AgeBand.UNDER_18),  # 17 in 2026
        (2008, AgeBand.FROM_18_TO_25),  # 18
        (2001, AgeBand.FROM_18_TO_25),  # 25
        (2000, AgeBand.FROM_26_TO_44),  # 26
        (1982, AgeBand.FROM_26_TO_44),  # 44
        (1981, AgeBand.FROM_45_TO_64),  # 45
        (1962, AgeBand.FROM_45_TO_64),  # 64
        (1961, AgeBand.FROM_65),  # 65
        (None, AgeBand.UNKNOWN),
    ],
)
def test_age_band_is_derived_from_birth_year_as_of_the_enrolment_year(
    birth_year: int | None, band: AgeBand
) -> None:
    assert enrolled(request(birth_year=birth_year)).age_band is band


def test_employment_status_is_unknown_when_none_is_given() -> None:
    beneficiary = enrolled(request(employment_status=None))

    assert beneficiary.employment_status is EmploymentStatus.UNKNOWN


def test_duplicate_tracks_are_collapsed_keeping_first_order() -> None:
    tracks = (Track.DIGITAL_CAREERS, Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS)

    beneficiary = enrolled(request(tracks=tracks))

    assert beneficiary.tracks == (Track.DIGITAL_CAREERS, Track.DIGITAL_INCLUSION)
    assert beneficiary.enrolled_event().tracks == [Track.DIGITAL_CAREERS, Track.DIGITAL_INCLUSION]


def test_optional_consents_may_be_refused() -> None:
    consent = Consent(
        programme_follow_up=True, share_with_partners=False, contact_for_surveys=False
    )

    assert enrolled(request(consent=consent)).consent == consent


def test_association_may_enrol_in_any_district_it_serves() -> None:
    beneficiary = enrolled(request(association_id=PASSERELLE.id, district_id=AUBIERS.id))

    assert (beneficiary.association_id, beneficiary.district_id) == (PASSERELLE.id, AUBIERS.id)


# -- the event ------------------------------------------------------------------------------


def test_enrolled_event_carries_the_dimensions_of_the_beneficiary() -> None:
    beneficiary = enrolled(request(tracks=(Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS)))

    event = beneficiary.enrolled_event()

    assert event.beneficiary_id == BENEFICIARY_ID
    assert event.association_id == BASTIDE.id
    assert event.district_id == BENAUGE.id
    assert event.gender is Gender.FEMALE
    assert event.age_band is AgeBand.FROM_26_TO_44
    assert event.tracks == [Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS]
    assert event.employment_status is EmploymentStatus.REGISTERED_JOB_SEEKER
    assert event.enrolled_at == NOW


def test_enrolled_event_carries_no_personal_data() -> None:
    personal = {
        "first_name": "Philomène",
        "last_name": "Ravoajanahary",
        "phone": "+33 7 98 76 54 32",
        "email": "philomene.r@quartier.example",
    }
    birth_year = 1987
    beneficiary = enrolled(request(personal=personal, birth_year=birth_year))

    serialised = beneficiary.enrolled_event().model_dump_json()

    revealing = [
        *personal.values(),
        personal["phone"].replace(" ", ""),
        str(birth_year),
    ]
    leaked = [value for value in revealing if value.lower() in serialised.lower()]
    assert leaked == [], f"personal data in the event: {leaked} in {serialised}"


# -- refusals -------------------------------------------------------------------------------


def test_refusal_is_an_unprocessable_input_error() -> None:
    refused = refusal(request(association_id="assoc-nowhere"))

    assert refused.status == 422
    assert "associationId" in str(refused)


def test_unknown_association_is_refused_naming_the_known_ones() -> None:
    enrolment = request(association_id="assoc-nowhere")

    assert refused_fields(enrolment) == ["associationId"]
    message = message_for(enrolment, "associationId")
    assert BASTIDE.id in message
    assert PASSERELLE.id in message


def test_unknown_district_is_refused_naming_the_known_ones() -> None:
    enrolment = request(district_id="qpv-nowhere")

    assert refused_fields(enrolment) == ["districtId"]
    message = message_for(enrolment, "districtId")
    assert BENAUGE.id in message
    assert AUBIERS.id in message


def test_district_not_served_by_the_association_is_refused_naming_the_served_districts() -> None:
    enrolment = request(association_id=BASTIDE.id, district_id=AUBIERS.id)

    assert refused_fields(enrolment) == ["districtId"]
    message = message_for(enrolment, "districtId")
    assert BASTIDE.name in message
    assert message.endswith(f"it serves: {BENAUGE.id}")


@pytest.mark.parametrize(
    ("attribute", "field"), [("first_name", "firstName"), ("last_name", "lastName")]
)
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_empty_name_is_refused(attribute: str, field: str, blank: str) -> None:
    assert refused_fields(request(personal={attribute: blank})) == [field]


@pytest.mark.parametrize(
    ("attribute", "field"), [("first_name", "firstName"), ("last_name", "lastName")]
)
def test_name_longer_than_100_characters_is_refused(attribute: str, field: str) -> None:
    accepted = enrolled(request(personal={attribute: "a" * 100})).personal
    assert len(getattr(accepted, attribute)) == 100
    assert refused_fields(request(personal={attribute: "a" * 101})) == [field]


@pytest.mark.parametrize(
    "phone",
    ["call me", "12345", "06 12 34 56 78 90 12 34 56", "06/12/34/56/78", "+33 6 12 34 56 78 ext"],
)
def test_malformed_phone_is_refused(phone: str) -> None:
    assert refused_fields(request(personal={"phone": phone})) == ["phone"]


@pytest.mark.parametrize(
    "phone", ["0612345678", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "+33 (0)6 12"]
)
def test_usual_phone_spellings_are_accepted(phone: str) -> None:
    assert enrolled(request(personal={"phone": phone})).personal.phone == phone


@pytest.mark.parametrize("phone", ["------", "(....)", "+ - - -"])
def test_phone_without_any_digit_is_refused(phone: str) -> None:
    assert refused_fields(request(personal={"phone": phone})) == ["phone"]


@pytest.mark.parametrize(
    "email",
    ["name", "name@", "@example.org", "name@example", "na me@example.org", "a@b@example.org"],
)
def test_malformed_email_is_refused(email: str) -> None:
    assert refused_fields(request(personal={"email": email})) == ["email"]


def test_birth_year_range_includes_both_ends() -> None:
    oldest, youngest = NOW.year - 110, NOW.year - 11

    assert enrolled(request(birth_year=oldest)).birth_year == oldest
    assert enrolled(request(birth_year=youngest)).birth_year == youngest


@pytest.mark.parametrize("birth_year", [NOW.year - 111, NOW.year - 10, NOW.year, 0, 26])
def test_birth_year_outside_the_range_is_refused_naming_the_range(birth_year: int) -> None:
    enrolment = request(birth_year=birth_year)

    assert refused_fields(enrolment) == ["birthYear"]
    assert f"between {NOW.year - 110} and {NOW.year - 11}" in message_for(enrolment, "birthYear")


def test_enrolment_without_any_track_is_refused_naming_the_tracks() -> None:
    enrolment = request(tracks=())

    assert refused_fields(enrolment) == ["tracks"]
    message = message_for(enrolment, "tracks")
    assert all(track.name in message for track in Track)


def test_enrolment_without_programme_consent_is_refused() -> None:
    consent = Consent(programme_follow_up=False, share_with_partners=True, contact_for_surveys=True)

    assert refused_fields(request(consent=consent)) == ["consent.programmeFollowUp"]


def test_every_problem_of_a_request_is_reported_together() -> None:
    enrolment = request(
        district_id="qpv-nowhere",
        personal={"first_name": " ", "last_name": "", "phone": "call me", "email": "name@"},
        birth_year=NOW.year,
        tracks=(),
        consent=Consent(
            programme_follow_up=False, share_with_partners=False, contact_for_surveys=False
        ),
    )

    assert refused_fields(enrolment) == [
        "districtId",
        "firstName",
        "lastName",
        "phone",
        "email",
        "birthYear",
        "tracks",
        "consent.programmeFollowUp",
    ]


def test_an_enrolment_recorded_later_keeps_the_day_it_happened() -> None:
    from datetime import UTC, date, datetime

    from services.registration.domain import _check_enrolled_on, _enrolment_time

    now = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
    assert _enrolment_time(date(2026, 9, 14), now) == datetime(2026, 9, 14, 12, 0, tzinfo=UTC)
    assert _enrolment_time(None, now) == now
    assert _check_enrolled_on(date(2026, 9, 14), now.date()) == []
    future = _check_enrolled_on(date(2026, 11, 27), now.date())
    too_old = _check_enrolled_on(date(2025, 11, 1), now.date())
    assert [e.field for e in future + too_old] == ["enrolledOn", "enrolledOn"]
