"""Requests partners send on the intake topics; the owning service validates and applies them.

Unlike canonical events these may carry personal data (a partner enrolling someone must give
their name): they live only on ``dn.intake.*``, are applied by the registration service, which
encrypts the personal data on arrival, and never reach a canonical topic.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.event import EventData
from contracts.topics import INTAKE_REGISTRATION


class IntakeConsent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    programme_follow_up: bool = Field(description="Required to enrol")
    share_with_partners: bool
    contact_for_surveys: bool


class EnrolmentRequestedV1(EventData):
    """A partner's system enrols a resident (the same rules as the enrolment form apply)."""

    event_type: ClassVar[str] = "dn.intake.registration.enrolment_requested.v1"
    topic: ClassVar[str] = INTAKE_REGISTRATION

    association_id: str = Field(min_length=1, max_length=100)
    district_id: str = Field(min_length=1, max_length=100)
    first_name: str = Field(min_length=1, max_length=200)
    last_name: str = Field(min_length=1, max_length=200)
    birth_year: int | None = None
    phone: str | None = Field(default=None, max_length=40, description="null: no phone")
    email: str | None = Field(default=None, max_length=320)
    street: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=10)
    insee_code: str | None = Field(default=None, max_length=10)
    gender: Gender
    tracks: list[Track] = Field(min_length=1, max_length=5)
    employment_status: EmploymentStatus | None = None
    qpv_resident: bool = True
    consent: IntakeConsent
    partner_reference: str | None = Field(
        default=None, max_length=100, description="The partner's own id for this person"
    )
    beneficiary_id: UUID | None = Field(
        default=None,
        description=(
            "A random UUID (v4) the partner chooses for the person, to use in its later "
            "attendance or placement requests; the platform assigns one when absent"
        ),
    )
    enrolled_on: date | None = Field(
        default=None,
        description=(
            "The day the person joined the programme at the association, when the partner "
            "records it later (at most 366 days ago, never in the future); null: today"
        ),
    )

    def subject(self) -> str:
        if self.beneficiary_id is not None:
            return str(self.beneficiary_id)
        return self.partner_reference or self.association_id
