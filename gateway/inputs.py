"""GraphQL input types: the impact filter, enrolment, rectification, districts, associations."""

from __future__ import annotations

import strawberry

from .enums import EmploymentStatus, Gender, Track


@strawberry.input(description="Limit the figures to one association, district or track")
class ImpactFilter:
    association_id: strawberry.ID | None = None
    district_id: strawberry.ID | None = None
    track: Track | None = None


@strawberry.input
class ConsentInput:
    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


@strawberry.input
class EnrolBeneficiaryInput:
    association_id: strawberry.ID
    district_id: strawberry.ID
    first_name: str
    last_name: str
    gender: Gender
    tracks: list[Track]
    consent: ConsentInput
    birth_year: int | None = None
    phone: str | None = None
    email: str | None = None
    street: str | None = None
    postcode: str | None = None
    insee_code: str | None = strawberry.field(default=None, description="INSEE code of the commune")
    qpv_resident: bool = strawberry.field(
        default=True, description="Lives inside a priority district"
    )
    employment_status: EmploymentStatus | None = None
    request_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="An id the sender chooses for this enrolment (e.g. a UUID made on the "
        "device): sent again, the same request returns the record it created and changes "
        "nothing",
    )


@strawberry.input(
    description="Corrections to a record: omitted fields stay as they are; null clears a contact "
    "or address field (phone, email, street, postcode, inseeCode)"
)
class RectifyBeneficiaryInput:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    birth_year: int | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    street: str | None = strawberry.UNSET
    postcode: str | None = strawberry.UNSET
    insee_code: str | None = strawberry.UNSET
    district_id: strawberry.ID | None = strawberry.UNSET
    gender: Gender | None = strawberry.UNSET
    tracks: list[Track] | None = strawberry.UNSET
    employment_status: EmploymentStatus | None = strawberry.UNSET
    qpv_resident: bool | None = strawberry.UNSET


@strawberry.input
class DistrictInput:
    name: str
    commune: str
    insee_code: str = strawberry.field(description="Five characters, e.g. 33063")
    qpv_code: str = strawberry.field(description="National QPV code, e.g. QN03306M")


@strawberry.input
class AssociationInput:
    name: str
    districts: list[strawberry.ID] = strawberry.field(description="Ids of the districts served")
    siret: str | None = strawberry.field(
        default=None,
        description="14 digits (spaces allowed), checked with its Luhn key (La Poste's: digits "
        "adding up to a multiple of 5)",
    )
    rna: str | None = strawberry.field(
        default=None, description="RNA number: W followed by 9 digits (Corsica: W2A…, W2B…)"
    )
    contact: str | None = None
