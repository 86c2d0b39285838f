"""Registration rules: who may be enrolled, where, with which consent (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track, age_band
from contracts.errors import FieldError, InvalidInput
from contracts.registration import BeneficiaryEnrolledV1

MAX_NAME_LENGTH = 100
OLDEST_AGE = 110
YOUNGEST_AGE = 11  # the programme's workshops welcome pupils from middle school on
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PHONE_DIGITS = 6
PHONE = re.compile(r"^\+?[0-9 .\-()]{6,24}$")


@dataclass(frozen=True)
class District:
    id: str
    name: str
    commune: str
    insee_code: str
    qpv_code: str


@dataclass(frozen=True)
class Association:
    id: str
    name: str
    districts: tuple[str, ...]
    rna: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class ReferenceData:
    districts: dict[str, District]
    associations: dict[str, Association]


@dataclass(frozen=True)
class Consent:
    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


@dataclass(frozen=True)
class PersonalData:
    first_name: str
    last_name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class EnrolmentRequest:
    association_id: str
    district_id: str
    personal: PersonalData
    birth_year: int | None
    gender: Gender
    tracks: tuple[Track, ...]
    employment_status: EmploymentStatus | None
    consent: Consent


@dataclass(frozen=True)
class Beneficiary:
    id: UUID
    association_id: str
    district_id: str
    personal: PersonalData
    birth_year: int | None
    gender: Gender
    age_band: AgeBand
    tracks: tuple[Track, ...]
    employment_status: EmploymentStatus
    consent: Consent
    enrolled_at: datetime

    def enrolled_event(self) -> BeneficiaryEnrolledV1:
        """What the rest of the platform may know: dimensions only, no personal data."""
        return BeneficiaryEnrolledV1(
            beneficiary_id=self.id,
            association_id=self.association_id,
            district_id=self.district_id,
            gender=self.gender,
            age_band=self.age_band,
            tracks=list(self.tracks),
            employment_status=self.employment_status,
            enrolled_at=self.enrolled_at,
        )


def enrol(
    request: EnrolmentRequest, reference: ReferenceData, *, beneficiary_id: UUID, now: datetime
) -> Beneficiary:
    """The new beneficiary, or :class:`InvalidInput` listing every problem with the request."""
    errors = [
        *_check_placement(request, reference),
        *_check_personal(request.personal),
        *_check_birth_year(request.birth_year, now.year),
        *_check_tracks(request.tracks),
    ]
    if not request.consent.programme_follow_up:
        errors.append(
            FieldError(
                "consent.programmeFollowUp",
                "consent to programme follow-up is required to enrol; the other purposes are "
                "optional",
            )
        )
    if errors:
        raise InvalidInput(*errors)
    personal = request.personal
    return Beneficiary(
        id=beneficiary_id,
        association_id=request.association_id,
        district_id=request.district_id,
        personal=PersonalData(
            first_name=personal.first_name.strip(),
            last_name=personal.last_name.strip(),
            phone=(personal.phone or "").strip() or None,
            email=(personal.email or "").strip().lower() or None,
        ),
        birth_year=request.birth_year,
        gender=request.gender,
        age_band=age_band(request.birth_year, now.year),
        tracks=tuple(dict.fromkeys(request.tracks)),
        employment_status=request.employment_status or EmploymentStatus.UNKNOWN,
        consent=request.consent,
        enrolled_at=now,
    )


def _check_placement(request: EnrolmentRequest, reference: ReferenceData) -> list[FieldError]:
    association = reference.associations.get(request.association_id)
    if association is None:
        known = ", ".join(sorted(reference.associations))
        return [FieldError("associationId", f"unknown association; known: {known}")]
    if request.district_id not in reference.districts:
        known = ", ".join(sorted(reference.districts))
        return [FieldError("districtId", f"unknown district; known: {known}")]
    if request.district_id not in association.districts:
        served = ", ".join(association.districts)
        return [
            FieldError(
                "districtId",
                f"{association.name} does not serve this district; it serves: {served}",
            )
        ]
    return []


def _check_personal(personal: PersonalData) -> list[FieldError]:
    errors = []
    for name, value in (("firstName", personal.first_name), ("lastName", personal.last_name)):
        if not value.strip():
            errors.append(FieldError(name, "must not be empty"))
        elif len(value) > MAX_NAME_LENGTH:
            errors.append(FieldError(name, f"at most {MAX_NAME_LENGTH} characters"))
    phone = (personal.phone or "").strip()
    if phone and not (PHONE.match(phone) and sum(c.isdigit() for c in phone) >= MIN_PHONE_DIGITS):
        errors.append(
            FieldError(
                "phone", "digits with optional +, spaces, dots or dashes, e.g. 06 12 34 56 78"
            )
        )
    if personal.email and not EMAIL.match(personal.email.strip()):
        errors.append(FieldError("email", "an address like name@example.org"))
    return errors


def _check_birth_year(birth_year: int | None, this_year: int) -> list[FieldError]:
    if birth_year is None:
        return []
    earliest, latest = this_year - OLDEST_AGE, this_year - YOUNGEST_AGE
    if not earliest <= birth_year <= latest:
        return [FieldError("birthYear", f"a year between {earliest} and {latest}, or leave empty")]
    return []


def _check_tracks(tracks: tuple[Track, ...]) -> list[FieldError]:
    if not tracks:
        choices = ", ".join(t.name for t in Track)
        return [FieldError("tracks", f"choose at least one track: {choices}")]
    return []
