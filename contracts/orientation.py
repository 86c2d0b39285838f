"""Events emitted by the orientation service on ``dn.orientation.events``, and partner
requests accepted on ``dn.intake.orientation``.

No event carries personal data: people are pseudonymous ids, job families are ROME-based
codes, and a placement's employer name never leaves the orientation service (in a small
district, an employer's name can be enough to identify the person).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.event import AboutBeneficiary, EventData
from contracts.topics import INTAKE_ORIENTATION, ORIENTATION_EVENTS


class PlacementKind(StrEnum):
    """What the person went on to: the categories of the IAE exit classes."""

    CDI = "cdi"
    CDD_6M_PLUS = "cdd_6m_plus"
    CDD_UNDER_6M = "cdd_under_6m"
    INTERIM_6M_PLUS = "interim_6m_plus"
    INTERIM_UNDER_6M = "interim_under_6m"
    SUBSIDISED_CONTRACT = "subsidised_contract"
    BUSINESS_CREATION = "business_creation"
    APPRENTICESHIP = "apprenticeship"
    QUALIFYING_TRAINING = "qualifying_training"
    SIAE_HIRING = "siae_hiring"
    OTHER = "other"


class OutcomeClass(StrEnum):
    """The IAE exit class of a placement kind."""

    DURABLE_EMPLOYMENT = "durable_employment"
    TRANSITIONAL_EMPLOYMENT = "transitional_employment"
    POSITIVE_EXIT = "positive_exit"
    OTHER = "other"


class PartnerKind(StrEnum):
    """Who a person is referred to."""

    TRAINING_ORGANISATION = "training_organisation"
    EMPLOYER = "employer"
    FRANCE_TRAVAIL = "france_travail"
    MISSION_LOCALE = "mission_locale"


class ReferralOutcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


FollowUpMonths = Literal[3, 6]


class WorkshopAttendedV1(AboutBeneficiary):
    """A person took part in a career-discovery workshop (one event per participant)."""

    event_type: ClassVar[str] = "dn.orientation.workshop_attended.v1"
    topic: ClassVar[str] = ORIENTATION_EVENTS

    workshop_id: UUID
    association_id: str = Field(min_length=1, description="Association that ran the workshop")
    job_families: list[str] = Field(
        description="Job families presented (ROME-based codes of the orientation reference data)"
    )
    women_focused: bool = Field(description="The workshop was aimed at women")
    held_at: datetime


class InterestRecordedV1(AboutBeneficiary):
    """A person's interest profile: the job families they want to explore (replaces earlier)."""

    event_type: ClassVar[str] = "dn.orientation.interest_recorded.v1"
    topic: ClassVar[str] = ORIENTATION_EVENTS

    job_families: list[str] = Field(min_length=1, description="ROME-based job family codes")
    recorded_at: datetime


class ReferralMadeV1(AboutBeneficiary):
    """A person was referred to a partner (made only with their consent to share)."""

    event_type: ClassVar[str] = "dn.orientation.referral_made.v1"
    topic: ClassVar[str] = ORIENTATION_EVENTS

    referral_id: UUID
    partner_kind: PartnerKind
    made_at: datetime


class ReferralResolvedV1(AboutBeneficiary):
    """The partner accepted or refused a referral; a refusal names a configured reason."""

    event_type: ClassVar[str] = "dn.orientation.referral_resolved.v1"
    topic: ClassVar[str] = ORIENTATION_EVENTS

    referral_id: UUID
    outcome: ReferralOutcome
    refusal_reason: str | None = Field(
        default=None, description="A code from the configured list when refused, else null"
    )
    resolved_at: datetime


class PlacementRecordedV1(AboutBeneficiary):
    """A person started a job, a business, an apprenticeship or a qualifying training.

    Carries the IAE outcome class and whether it counts as directed towards employment
    (every kind but ``other``); never the employer's name.
    """

    event_type: ClassVar[str] = "dn.orientation.placement_recorded.v1"
    topic: ClassVar[str] = ORIENTATION_EVENTS

    placement_id: UUID
    kind: PlacementKind
    outcome_class: OutcomeClass
    directed_to_employment: bool
    digital_sector: bool = Field(description="The job or training is in the digital sector")
    starts_on: date
    recorded_at: datetime


class FollowUpDueV1(AboutBeneficiary):
    """A placement's 3- or 6-month follow-up is due (emitted once per follow-up)."""

    event_type: ClassVar[str] = "dn.orientation.follow_up_due.v1"
    topic: ClassVar[str] = ORIENTATION_EVENTS

    placement_id: UUID
    months: FollowUpMonths
    due_on: date


class FollowUpRecordedV1(AboutBeneficiary):
    """Whether the person was still in post at a placement's 3- or 6-month follow-up."""

    event_type: ClassVar[str] = "dn.orientation.follow_up_recorded.v1"
    topic: ClassVar[str] = ORIENTATION_EVENTS

    placement_id: UUID
    months: FollowUpMonths
    still_in_post: bool
    recorded_at: datetime


class PlacementReportedV1(EventData):
    """A partner's system reports a placement (the same rules as the placement form apply).

    The employer's name is kept by the orientation service only, never re-emitted.
    """

    event_type: ClassVar[str] = "dn.intake.orientation.placement_reported.v1"
    topic: ClassVar[str] = INTAKE_ORIENTATION

    beneficiary_id: UUID = Field(description="The person's id, as registration gave it")
    kind: PlacementKind
    starts_on: date
    digital_sector: bool = False
    employer: str | None = Field(
        default=None, max_length=200, description="Employer or training organisation name"
    )
    partner_reference: str | None = Field(
        default=None, max_length=100, description="The partner's own id for this placement"
    )
    placement_id: UUID | None = Field(
        default=None,
        description=(
            "A random UUID (v4) the partner chooses for the placement, to name it in its later "
            "follow-up reports; orientation assigns one when absent"
        ),
    )

    def subject(self) -> str:
        return str(self.beneficiary_id)


class WorkshopReportedV1(EventData):
    """A partner's system reports a career-discovery workshop that took place (the same rules
    as ``POST /workshops``; participants must be the association's own beneficiaries)."""

    event_type: ClassVar[str] = "dn.intake.orientation.workshop_reported.v1"
    topic: ClassVar[str] = INTAKE_ORIENTATION

    association_id: str = Field(min_length=1, max_length=100)
    held_at: datetime
    job_families: list[Annotated[str, Field(max_length=50)]] = Field(
        default=[], max_length=20, description="ROME-based job family codes presented"
    )
    women_focused: bool = False
    participants: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        max_length=200, description="Beneficiary ids"
    )

    def subject(self) -> str:
        return self.association_id


class InterestsReportedV1(AboutBeneficiary):
    """A partner's system reports a person's interest profile (replaces the earlier one)."""

    event_type: ClassVar[str] = "dn.intake.orientation.interests_reported.v1"
    topic: ClassVar[str] = INTAKE_ORIENTATION

    job_families: list[Annotated[str, Field(max_length=50)]] = Field(
        max_length=20, description="ROME-based job family codes"
    )


class ReferralRequestedV1(AboutBeneficiary):
    """A partner's system refers a person to a partner (only with their consent to share)."""

    event_type: ClassVar[str] = "dn.intake.orientation.referral_requested.v1"
    topic: ClassVar[str] = INTAKE_ORIENTATION

    partner_kind: PartnerKind
    referral_id: UUID | None = Field(
        default=None,
        description=(
            "A random UUID (v4) the partner chooses for the referral, to name it in its later "
            "resolution report; orientation assigns one when absent"
        ),
    )


class ReferralResolutionReportedV1(EventData):
    """A partner's system reports that a referral was accepted or refused (with a reason)."""

    event_type: ClassVar[str] = "dn.intake.orientation.referral_resolution_reported.v1"
    topic: ClassVar[str] = INTAKE_ORIENTATION

    referral_id: UUID
    outcome: ReferralOutcome
    refusal_reason: str | None = Field(
        default=None, max_length=50, description="A configured reason code when refused"
    )

    def subject(self) -> str:
        return str(self.referral_id)


class FollowUpReportedV1(EventData):
    """A partner's system reports whether the person was still in post at a placement's 3- or
    6-month follow-up (once each)."""

    event_type: ClassVar[str] = "dn.intake.orientation.follow_up_reported.v1"
    topic: ClassVar[str] = INTAKE_ORIENTATION

    placement_id: UUID
    months: FollowUpMonths
    still_in_post: bool

    def subject(self) -> str:
        return str(self.placement_id)


# Every canonical event type, then every intake request type. The catalogue reads both tuples.
EVENTS: tuple[type[EventData], ...] = (
    WorkshopAttendedV1,
    InterestRecordedV1,
    ReferralMadeV1,
    ReferralResolvedV1,
    PlacementRecordedV1,
    FollowUpDueV1,
    FollowUpRecordedV1,
)
INTAKE_REQUESTS: tuple[type[EventData], ...] = (
    PlacementReportedV1,
    WorkshopReportedV1,
    InterestsReportedV1,
    ReferralRequestedV1,
    ReferralResolutionReportedV1,
    FollowUpReportedV1,
)
