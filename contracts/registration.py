"""Events emitted by the registration service on ``dn.registration.events``."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.event import EventData
from contracts.topics import REGISTRATION_EVENTS


class BeneficiaryEnrolledV1(EventData):
    """A resident joined the programme through an association. Carries no personal data."""

    event_type: ClassVar[str] = "dn.registration.beneficiary_enrolled.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    beneficiary_id: UUID = Field(description="Pseudonymous id; the only link to the person")
    association_id: str = Field(min_length=1, description="Association that enrolled the person")
    district_id: str = Field(min_length=1, description="Priority district (QPV) of residence")
    gender: Gender
    age_band: AgeBand
    tracks: list[Track] = Field(min_length=1, description="Programme tracks joined")
    employment_status: EmploymentStatus = Field(description="Employment status at entry")
    enrolled_at: datetime

    def subject(self) -> str:
        return str(self.beneficiary_id)
