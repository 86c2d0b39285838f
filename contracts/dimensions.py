"""The non-identifying dimensions events carry so reporting can break figures down."""

from __future__ import annotations

from enum import StrEnum


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    UNDISCLOSED = "undisclosed"


class Track(StrEnum):
    DIGITAL_INCLUSION = "digital_inclusion"
    DIGITAL_CAREERS = "digital_careers"


class EmploymentStatus(StrEnum):
    REGISTERED_JOB_SEEKER = "registered_job_seeker"
    UNEMPLOYED_NOT_REGISTERED = "unemployed_not_registered"
    EMPLOYED = "employed"
    IN_EDUCATION = "in_education"
    RETIRED = "retired"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"


class AgeBand(StrEnum):
    UNDER_18 = "under_18"
    FROM_18_TO_25 = "18_25"
    FROM_26_TO_44 = "26_44"
    FROM_45_TO_64 = "45_64"
    FROM_65 = "65_plus"
    UNKNOWN = "unknown"


def age_band(birth_year: int | None, on_year: int) -> AgeBand:
    """The age band of someone born in ``birth_year``, as of ``on_year`` (age in whole years)."""
    if birth_year is None:
        return AgeBand.UNKNOWN
    age = on_year - birth_year
    if age < 18:
        return AgeBand.UNDER_18
    if age <= 25:
        return AgeBand.FROM_18_TO_25
    if age <= 44:
        return AgeBand.FROM_26_TO_44
    if age <= 64:
        return AgeBand.FROM_45_TO_64
    return AgeBand.FROM_65
