"""Registration rules: enrolment, rectification, consent, duplicates, merge, withdrawal,
erasure and retention — decisions only, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track, age_band
from contracts.errors import Conflict, FieldError, InvalidInput
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    ConsentChangedV1,
    ConsentPurpose,
)
from contracts.registration import ErasureReason as ErasureReason  # re-exported: api, commands
from contracts.text import MARKUP, is_plain_text

MAX_NAME_LENGTH = 100
OLDEST_AGE = 110
YOUNGEST_AGE = 11  # the programme's workshops welcome pupils from middle school on
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PHONE_DIGITS = 6
PHONE = re.compile(r"^\+?[0-9 .\-()]{6,24}$")
POSTCODE = re.compile(r"^[0-9]{5}$")
INSEE_CODE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
MAX_ADDRESS_LENGTH = 200
DEFAULT_RETENTION = timedelta(days=2 * 365)  # CNIL benchmark for social support records
NAME_ACCEPTS = f"letters, with spaces, apostrophes, hyphens or dots; not {MARKUP}"


class Status(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"
    ERASED = "erased"


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
    siret: str | None = None
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
    """Everything that identifies the person; stored only encrypted under their own key."""

    first_name: str
    last_name: str
    phone: str | None = None  # None: the person has no phone
    email: str | None = None
    street: str | None = None
    postcode: str | None = None
    insee_code: str | None = None


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
    qpv_resident: bool = True
    # A partner recording an enrolment after the fact says when it happened.
    enrolled_on: date | None = None


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
    qpv_resident: bool = True
    status: Status = Status.ACTIVE
    last_contact_at: datetime | None = field(default=None, compare=False)

    def dimensions(self) -> dict[str, Any]:
        """What the rest of the platform may know about the person: no personal data."""
        return {
            "association_id": self.association_id,
            "district_id": self.district_id,
            "gender": self.gender,
            "age_band": self.age_band,
            "tracks": list(self.tracks),
            "employment_status": self.employment_status,
            "qpv_resident": self.qpv_resident,
        }

    def enrolled_event(self) -> BeneficiaryEnrolledV1:
        return BeneficiaryEnrolledV1(
            beneficiary_id=self.id,
            enrolled_at=self.enrolled_at,
            shares_with_partners=self.consent.share_with_partners,
            **self.dimensions(),
        )

    def updated_event(self, now: datetime) -> BeneficiaryUpdatedV1:
        return BeneficiaryUpdatedV1(beneficiary_id=self.id, updated_at=now, **self.dimensions())


def enrol(
    request: EnrolmentRequest, reference: ReferenceData, *, beneficiary_id: UUID, now: datetime
) -> Beneficiary:
    """The new beneficiary, or :class:`InvalidInput` listing every problem with the request."""
    errors = [
        *_check_placement(request, reference),
        *_check_personal(request.personal),
        *_check_birth_year(request.birth_year, now.year),
        *_check_tracks(request.tracks),
        *_check_enrolled_on(request.enrolled_on, now.date()),
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
    return Beneficiary(
        id=beneficiary_id,
        association_id=request.association_id,
        district_id=request.district_id,
        personal=_cleaned(request.personal),
        birth_year=request.birth_year,
        gender=request.gender,
        age_band=age_band(request.birth_year, now.year),
        tracks=tuple(dict.fromkeys(request.tracks)),
        employment_status=request.employment_status or EmploymentStatus.UNKNOWN,
        consent=request.consent,
        enrolled_at=_enrolment_time(request.enrolled_on, now),
        qpv_resident=request.qpv_resident,
        last_contact_at=now,
    )


ENROLLED_ON_MAX_DAYS_AGO = 366


def _check_enrolled_on(enrolled_on: date | None, today: date) -> list[FieldError]:
    if enrolled_on is None:
        return []
    earliest = today - timedelta(days=ENROLLED_ON_MAX_DAYS_AGO)
    if not earliest <= enrolled_on <= today:
        return [
            FieldError(
                "enrolledOn",
                f"a day between {earliest.isoformat()} and {today.isoformat()}, or leave empty "
                "for today",
            )
        ]
    return []


def _enrolment_time(enrolled_on: date | None, now: datetime) -> datetime:
    """Noon UTC of the day given (the same calendar day in France), else now."""
    if enrolled_on is None or enrolled_on == now.date():
        return now
    return datetime.combine(enrolled_on, time(12, 0), tzinfo=UTC)


def _cleaned(personal: PersonalData) -> PersonalData:
    def text(value: str | None) -> str | None:
        return (value or "").strip() or None

    return PersonalData(
        first_name=personal.first_name.strip(),
        last_name=personal.last_name.strip(),
        phone=text(personal.phone),
        email=(text(personal.email) or "").lower() or None,
        street=text(personal.street),
        postcode=text(personal.postcode),
        insee_code=(text(personal.insee_code) or "").upper() or None,
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
        elif not is_plain_text(value.strip()) or not any(c.isalpha() for c in value):
            errors.append(FieldError(name, NAME_ACCEPTS))
    phone = (personal.phone or "").strip()
    if phone and not (PHONE.match(phone) and sum(c.isdigit() for c in phone) >= MIN_PHONE_DIGITS):
        errors.append(
            FieldError(
                "phone", "digits with optional +, spaces, dots or dashes, e.g. 06 12 34 56 78"
            )
        )
    if personal.email and not EMAIL.match(personal.email.strip()):
        errors.append(FieldError("email", "an address like name@example.org"))
    if personal.street and len(personal.street) > MAX_ADDRESS_LENGTH:
        errors.append(FieldError("street", f"at most {MAX_ADDRESS_LENGTH} characters"))
    elif personal.street and not is_plain_text(personal.street.strip()):
        errors.append(FieldError("street", f"letters, digits and punctuation, without {MARKUP}"))
    if personal.postcode and not POSTCODE.match(personal.postcode.strip()):
        errors.append(FieldError("postcode", "five digits, e.g. 33000"))
    if personal.insee_code and not INSEE_CODE.match(personal.insee_code.strip().upper()):
        errors.append(
            FieldError("inseeCode", "the commune's five-character INSEE code, e.g. 33063")
        )
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


# -- duplicates --------------------------------------------------------------------------------


def duplicate_keys(personal: PersonalData, birth_year: int | None) -> dict[str, str]:
    """What makes two enrolments the same person: name with birth year, phone, or email.

    Values are normalised by the caller's blind index; only present keys are returned.
    """
    keys = {}
    if birth_year is not None:
        keys["name_birth_year"] = f"{personal.first_name} {personal.last_name} {birth_year}"
    if personal.phone:
        keys["phone"] = _phone_digits(personal.phone)
    if personal.email:
        keys["email"] = personal.email.strip().lower()
    return keys


def _phone_digits(phone: str) -> str:
    """+33 6…, +33 (0)6…, 0033 6… and 06… are the same French number."""
    digits = "".join(c for c in phone if c.isdigit())
    if phone.strip().startswith("+33"):
        digits = digits[2:]
    elif digits.startswith("0033"):
        digits = digits[4:]
    else:
        return digits
    return digits if digits.startswith("0") else "0" + digits


def refuse_duplicate(existing_id: str | None) -> None:
    if existing_id is not None:
        raise Conflict(
            existing_id,
            "this person is already enrolled in this association "
            f"(beneficiary {existing_id}); update that record or merge the two",
        )


# -- rectification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rectification:
    """Fields to change; None leaves a field as it is."""

    personal: PersonalData | None = None
    birth_year: int | None = None
    district_id: str | None = None
    gender: Gender | None = None
    tracks: tuple[Track, ...] | None = None
    employment_status: EmploymentStatus | None = None
    qpv_resident: bool | None = None


def rectify(
    beneficiary: Beneficiary, change: Rectification, reference: ReferenceData, now: datetime
) -> tuple[Beneficiary, BeneficiaryUpdatedV1 | None]:
    """The corrected record, and an event when a dimension other services see has changed."""
    require_active(beneficiary)
    personal = change.personal or beneficiary.personal
    birth_year = change.birth_year if change.birth_year is not None else beneficiary.birth_year
    district_id = change.district_id or beneficiary.district_id
    tracks = change.tracks if change.tracks is not None else beneficiary.tracks
    errors = [
        *_check_personal(personal),
        *_check_birth_year(birth_year, now.year),
        *_check_tracks(tracks),
    ]
    association = reference.associations.get(beneficiary.association_id)
    if district_id not in reference.districts:
        errors.append(FieldError("districtId", "unknown district"))
    elif association is not None and district_id not in association.districts:
        served = ", ".join(association.districts)
        errors.append(FieldError("districtId", f"the association serves: {served}"))
    if errors:
        raise InvalidInput(*errors)
    updated = replace(
        beneficiary,
        personal=_cleaned(personal),
        birth_year=birth_year,
        age_band=age_band(birth_year, beneficiary.enrolled_at.year),
        district_id=district_id,
        gender=change.gender or beneficiary.gender,
        tracks=tuple(dict.fromkeys(tracks)),
        employment_status=change.employment_status or beneficiary.employment_status,
        qpv_resident=(
            change.qpv_resident if change.qpv_resident is not None else beneficiary.qpv_resident
        ),
        last_contact_at=now,
    )
    return updated, updated.updated_event(now) if dimensions_changed(beneficiary, updated) else None


def dimensions_changed(before: Beneficiary, after: Beneficiary) -> bool:
    """Whether anything other services see (the enrolment event's dimensions) differs."""
    return after.dimensions() != before.dimensions()


def require_active(beneficiary: Beneficiary) -> None:
    if beneficiary.status is not Status.ACTIVE:
        raise InvalidInput(
            FieldError("id", f"this record is {beneficiary.status.value}; it cannot change"),
            status=409,
        )


# -- consent, withdrawal -----------------------------------------------------------------------


def change_consent(
    beneficiary: Beneficiary, purpose: ConsentPurpose, given: bool, now: datetime
) -> tuple[Beneficiary, ConsentChangedV1 | None]:
    """Give or withdraw one purpose; no event when nothing changes."""
    require_active(beneficiary)
    current = getattr(beneficiary.consent, purpose.value)
    if current == given:
        return beneficiary, None
    consent = replace(beneficiary.consent, **{purpose.value: given})
    event = ConsentChangedV1(
        beneficiary_id=beneficiary.id, purpose=purpose, given=given, changed_at=now
    )
    return replace(beneficiary, consent=consent, last_contact_at=now), event


def withdraw(beneficiary: Beneficiary, now: datetime) -> tuple[Beneficiary, BeneficiaryWithdrawnV1]:
    require_active(beneficiary)
    return (
        replace(beneficiary, status=Status.WITHDRAWN, last_contact_at=now),
        BeneficiaryWithdrawnV1(beneficiary_id=beneficiary.id, withdrawn_at=now),
    )


# -- associations --------------------------------------------------------------------------------

# La Poste's establishments (SIREN 356000000) are numbered so that the SIRET's digits add up to
# a multiple of 5, not with the Luhn key every other SIRET carries.
SIREN_LA_POSTE = "356000000"
SIRET_FORMAT = re.compile(r"[0-9]{14}")
# W, the prefecture's three characters (Corsica: 2A or 2B and a digit), then six digits.
RNA_FORMAT = re.compile(r"W(?:[0-9]{3}|2[AB][0-9])[0-9]{6}")
SIRET_ACCEPTED = "14 digits (spaces allowed), as on the association's INSEE notice"
RNA_ACCEPTED = (
    "W followed by 9 digits: the prefecture's 3-digit code then a 6-digit number (Corsica: "
    "W2A… or W2B…)"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn check that SIREN and SIRET numbers carry in their last digit."""
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(digits)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def siret_problem(siret: str) -> str | None:
    """What is wrong with a (normalised) SIRET, or None when it is valid."""
    if not SIRET_FORMAT.fullmatch(siret):
        return f"{SIRET_ACCEPTED}; got {len(siret)} characters"
    if siret.startswith(SIREN_LA_POSTE):
        if sum(int(d) for d in siret) % 5 == 0 or luhn_valid(siret):
            return None
        return (
            "not a SIRET of La Poste (SIREN 356000000): their digits add up to a multiple of 5; "
            "check for a typing error"
        )
    if not luhn_valid(siret[:9]):
        return "the SIREN (first 9 digits) fails its check digit; check for a typing error"
    if not luhn_valid(siret):
        return "this SIRET fails its check digit (Luhn key); check for a typing error"
    return None


def rna_problem(rna: str) -> str | None:
    """What is wrong with a (normalised) RNA number, or None when it is valid."""
    return None if RNA_FORMAT.fullmatch(rna) else RNA_ACCEPTED


def normalised_siret(siret: str | None) -> str | None:
    """Spaces and dots people type between the digit groups removed; blank is no SIRET."""
    cleaned = re.sub(r"[\s.]", "", siret or "")
    return cleaned or None


def normalised_rna(rna: str | None) -> str | None:
    cleaned = re.sub(r"\s", "", rna or "").upper()
    return cleaned or None


def association(
    association_id: str,
    name: str,
    districts: tuple[str, ...],
    reference: ReferenceData,
    *,
    siret: str | None = None,
    rna: str | None = None,
    contact: str | None = None,
) -> Association:
    """The association as saved (identifiers normalised), or :class:`InvalidInput` naming
    every field that is wrong: districts not in the reference data, SIRET, RNA."""
    errors: list[FieldError] = []
    unknown = [d for d in districts if d not in reference.districts]
    if unknown:
        known = ", ".join(sorted(reference.districts))
        errors.append(FieldError("districts", f"unknown {', '.join(unknown)}; known: {known}"))
    siret, rna = normalised_siret(siret), normalised_rna(rna)
    if siret is not None and (problem := siret_problem(siret)):
        errors.append(FieldError("siret", problem))
    if rna is not None and (problem := rna_problem(rna)):
        errors.append(FieldError("rna", problem))
    if errors:
        raise InvalidInput(*errors)
    return Association(
        id=association_id,
        name=name,
        districts=districts,
        rna=rna,
        siret=siret,
        contact=contact,
    )


# -- merge, erasure, retention -----------------------------------------------------------------


def merge(
    kept: Beneficiary, duplicate: Beneficiary, now: datetime
) -> tuple[Beneficiary, BeneficiariesMergedV1]:
    """Fold ``duplicate`` into ``kept``: tracks are joined, the earlier enrolment date stays.

    Consent stays as ``kept`` records it: a purpose given on one record only is not assumed.
    """
    if kept.id == duplicate.id:
        raise InvalidInput(FieldError("duplicateId", "a record cannot be merged into itself"))
    require_active(kept)
    require_active(duplicate)
    if kept.association_id != duplicate.association_id:
        raise InvalidInput(
            FieldError("duplicateId", "both records must belong to the same association")
        )
    enrolled_at = min(kept.enrolled_at, duplicate.enrolled_at)
    merged = replace(
        kept,
        tracks=tuple(dict.fromkeys((*kept.tracks, *duplicate.tracks))),
        enrolled_at=enrolled_at,
        age_band=age_band(kept.birth_year, enrolled_at.year),
        last_contact_at=now,
    )
    return merged, BeneficiariesMergedV1(
        beneficiary_id=kept.id, merged_id=duplicate.id, merged_at=now
    )


ERASED_ITEMS = (
    "personal data (names, phone, email, address, birth year)",
    "personal data encryption key",
    "duplicate-detection indexes",
    "consent history",
)


def erase(beneficiary: Beneficiary, reason: ErasureReason, now: datetime) -> BeneficiaryErasedV1:
    """Erasure is allowed in any state but once; the event tells every service to forget."""
    if beneficiary.status is Status.ERASED:
        raise InvalidInput(FieldError("id", "this record was already erased"), status=409)
    return BeneficiaryErasedV1(beneficiary_id=beneficiary.id, erased_at=now, reason=reason.value)


def due_for_retention(
    last_contacts: dict[str, datetime], now: datetime, period: timedelta = DEFAULT_RETENTION
) -> list[str]:
    """Ids of people without contact for longer than ``period``, oldest contact first."""
    cutoff = now - period
    due = [(at, beneficiary_id) for beneficiary_id, at in last_contacts.items() if at < cutoff]
    return [beneficiary_id for _, beneficiary_id in sorted(due)]
