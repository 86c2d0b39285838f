"""What registration's HTTP routes answer the gateway (``services/registration/api.py``): a
person's record with its personal fields opened, pages and batches of them, what a right of
access exports, erasure receipts, retention runs, and the districts and associations every
answer names.

A record is always answered whole and flat (``BeneficiaryView``): every route that reads or
changes one person answers it, so the gateway has one way to show a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.registration import ConsentPurpose, ErasureReason

from . import Answer


class ConsentView(Answer):
    """What the person agreed to, purpose by purpose (``contracts.registration.ConsentPurpose``)."""

    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


class BeneficiaryView(Answer):
    """One person's record: what ``POST /beneficiaries``, ``GET``/``PATCH
    /beneficiaries/{id}`` and the withdrawal, consent and merge routes answer, and what pages,
    batches and exports hold."""

    id: str  # a UUID
    first_name: str
    last_name: str
    phone: str | None  # None: the person has no phone
    email: str | None
    street: str | None
    postcode: str | None
    insee_code: str | None  # the commune's
    birth_year: int | None
    association_id: str
    district_id: str
    gender: Gender
    age_band: AgeBand
    tracks: list[Track]
    employment_status: EmploymentStatus
    qpv_resident: bool  # lives inside a priority district
    consent: ConsentView
    enrolled_at: datetime
    last_contact_at: datetime  # the enrolment when nothing happened since
    status: str  # active or withdrawn (merged and erased records are never answered)


class BeneficiaryBatch(Answer):
    """``POST /beneficiaries/batch``: the records found, by id; an id unknown, erased or of
    another association is absent."""

    beneficiaries: dict[str, BeneficiaryView]


class ConsentChange(Answer):
    """One entry of a person's consent history (given at enrolment, changed since)."""

    beneficiary_id: str
    purpose: ConsentPurpose
    given: bool
    at: datetime
    by: str  # the token subject, or a partner's event source


class BeneficiaryExport(Answer):
    """``GET /beneficiaries/{id}/export``: everything registration holds about the person
    (right of access)."""

    service: str  # "registration"
    record: BeneficiaryView
    consent_history: list[ConsentChange]
    # kit.audit entries as JSON (kit.audit.as_json): who read or changed the record here.
    access_log: list[dict[str, Any]]


class ErasureReceiptView(Answer):
    """Proof of an erasure (``DELETE /beneficiaries/{id}``, ``GET /erasures/{id}``): no
    personal data."""

    id: str
    beneficiary_id: str
    erased_at: datetime
    reason: ErasureReason
    requested_by: str  # the token subject, or the retention job's name
    erased: list[str]  # what was destroyed, in words
    notified: str  # which event told the other services to forget


class RetentionRun(Answer):
    """``POST /retention``: the people without contact for the period, listed (dry run) or
    anonymised."""

    dry_run: bool
    older_than_days: int
    beneficiary_ids: list[str]


class DistrictView(Answer):
    """A priority district (``GET /districts``, ``PUT /districts/{id}``)."""

    id: str
    name: str
    commune: str
    insee_code: str
    qpv_code: str  # the national QPV code, QN…


class AssociationView(Answer):
    """An association (``GET /associations``, ``PUT /associations/{id}``)."""

    id: str
    name: str
    districts: list[str]  # ids of the districts it serves
    rna: str | None
    siret: str | None
    contact: str | None
