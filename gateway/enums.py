"""The contracts' enums registered as GraphQL enums, exposed by member name (FEMALE…)."""

from __future__ import annotations

import strawberry

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.registration import ConsentPurpose, ErasureReason

__all__ = ["AgeBand", "ConsentPurpose", "EmploymentStatus", "ErasureReason", "Gender", "Track"]

strawberry.enum(Gender, description="Gender as the person declares it")
strawberry.enum(Track, description="Programme track")
strawberry.enum(EmploymentStatus, description="Employment status at entry")
strawberry.enum(AgeBand, description="Age band, from the birth year")
strawberry.enum(ConsentPurpose, description="What a person may consent to, purpose by purpose")
strawberry.enum(ErasureReason, description="Why a person's data was erased")
