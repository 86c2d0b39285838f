"""What orientation's HTTP routes answer the gateway (``services.orientation.api``): reference
lists, workshops, interests, referrals, placements and follow-ups, one person's records in a
batch, and the pages of placements and referrals.

Ids are the service's text ids (UUIDs for what orientation records, registration's ids for
people); times are aware datetimes, days are dates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from contracts.orientation import FollowUpMonths, OutcomeClass, PartnerKind, PlacementKind

from . import Answer

# services.orientation.domain.ReferralStatus: a referral is open until the partner answers.
ReferralStatus = Literal["open", "accepted", "refused"]


class JobFamilyView(Answer):
    """One family of ``GET /job-families``."""

    code: str
    title: str
    rome_codes: list[str]


class WorkshopView(Answer):
    """A career-discovery workshop (``POST /workshops``, a person's records)."""

    id: str
    association_id: str
    held_at: datetime
    job_families: list[str]  # codes of GET /job-families
    women_focused: bool
    participants: list[str]  # beneficiary ids
    recorded_at: datetime


class InterestsView(Answer):
    """The job families a person is interested in (``PUT /beneficiaries/{id}/interests``)."""

    beneficiary_id: str
    job_families: list[str]
    recorded_at: datetime


class ReferralView(Answer):
    """A referral to a partner (``POST /referrals``, its resolution, ``GET /referrals``)."""

    id: str
    beneficiary_id: str
    partner_kind: PartnerKind
    status: ReferralStatus
    refusal_reason: str | None  # a code of GET /refusal-reasons, when refused
    made_at: datetime
    resolved_at: datetime | None


class PlacementView(Answer):
    """What a person went on to (``POST /placements``, ``GET /placements``)."""

    id: str
    beneficiary_id: str
    kind: PlacementKind
    outcome_class: OutcomeClass  # the IAE exit class of ``kind``
    directed_to_employment: bool  # counts towards the programme's employment target
    digital_sector: bool
    starts_on: date
    employer: str | None  # free text, shown here only (never in an event)
    recorded_at: datetime


class FollowUpDueView(Answer):
    """A follow-up due and not yet recorded (``GET /follow-ups/due``)."""

    placement_id: str
    beneficiary_id: str
    months: FollowUpMonths
    due_on: date


class FollowUpView(Answer):
    """A follow-up recorded (``POST /placements/{id}/follow-ups``, a person's records)."""

    placement_id: str
    months: FollowUpMonths
    still_in_post: bool
    recorded_at: datetime


class PersonRecords(Answer):
    """Everything orientation shows about one person, each list in its own order: workshops by
    date, referrals as made, placements by start, follow-ups as recorded."""

    workshops: list[WorkshopView]
    interests: InterestsView | None  # None until some are recorded
    referrals: list[ReferralView]
    placements: list[PlacementView]
    follow_ups: list[FollowUpView]


class RecordsOfPeople(Answer):
    """``POST /beneficiaries/records``: each person asked for that the caller may see, by
    beneficiary id (association staff: their association's people only, the others left out;
    someone orientation never heard of has empty records)."""

    records: dict[str, PersonRecords]
