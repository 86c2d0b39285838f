"""Events emitted by the registration service on ``dn.registration.events``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.event import AboutBeneficiary, EventData
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
    qpv_resident: bool = Field(
        default=True, description="Lives inside the priority district's perimeter"
    )
    enrolled_at: datetime
    shares_with_partners: bool = Field(
        default=False,
        description=(
            "Consent at enrolment to share with orientation partners (later changes come as "
            "consent_changed); consent purposes are not personal data"
        ),
    )

    def subject(self) -> str:
        return str(self.beneficiary_id)


class BeneficiaryUpdatedV1(AboutBeneficiary):
    """A record was rectified; carries the dimensions as they now stand (no personal data)."""

    event_type: ClassVar[str] = "dn.registration.beneficiary_updated.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    association_id: str = Field(min_length=1)
    district_id: str = Field(min_length=1)
    gender: Gender
    age_band: AgeBand
    tracks: list[Track] = Field(min_length=1)
    employment_status: EmploymentStatus
    qpv_resident: bool
    updated_at: datetime


class BeneficiaryWithdrawnV1(AboutBeneficiary):
    """The person left the programme; what they did so far still counts."""

    event_type: ClassVar[str] = "dn.registration.beneficiary_withdrawn.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    withdrawn_at: datetime


class BeneficiariesMergedV1(AboutBeneficiary):
    """Two records were the same person: ``merged_id`` is folded into ``beneficiary_id``.

    Keyed by ``merged_id`` so it follows every earlier event about the record that disappears.
    """

    event_type: ClassVar[str] = "dn.registration.beneficiaries_merged.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    merged_id: UUID = Field(description="The duplicate record, which no longer exists")
    merged_at: datetime

    def subject(self) -> str:
        return str(self.merged_id)


class ErasureReason(StrEnum):
    """Why a person's data was erased (recorded on the receipt and in the erased event)."""

    REQUEST_OF_PERSON = "request_of_person"
    RETENTION = "retention"
    COORDINATOR_DECISION = "coordinator_decision"


class BeneficiaryErasedV1(AboutBeneficiary):
    """The person's personal data was destroyed; services drop or pseudonymise what they hold."""

    event_type: ClassVar[str] = "dn.registration.beneficiary_erased.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    erased_at: datetime
    reason: str = Field(description="request_of_person, retention or coordinator_decision")


class ConsentPurpose(StrEnum):
    PROGRAMME_FOLLOW_UP = "programme_follow_up"
    SHARE_WITH_PARTNERS = "share_with_partners"
    CONTACT_FOR_SURVEYS = "contact_for_surveys"


class ConsentChangedV1(AboutBeneficiary):
    """Consent for one purpose was given or withdrawn (other services gate on it)."""

    event_type: ClassVar[str] = "dn.registration.consent_changed.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    purpose: ConsentPurpose
    given: bool
    changed_at: datetime


class DistrictUpsertedV1(EventData):
    """A priority district was created or edited."""

    event_type: ClassVar[str] = "dn.registration.district_upserted.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    district_id: str = Field(min_length=1)
    name: str
    commune: str
    insee_code: str
    qpv_code: str

    def subject(self) -> str:
        return self.district_id


class AssociationUpsertedV1(EventData):
    """An association was created or edited (organisation data, no person's data)."""

    event_type: ClassVar[str] = "dn.registration.association_upserted.v1"
    topic: ClassVar[str] = REGISTRATION_EVENTS

    association_id: str = Field(min_length=1)
    name: str
    districts: list[str]
    siret: str | None = None
    rna: str | None = None

    def subject(self) -> str:
        return self.association_id
