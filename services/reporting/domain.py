"""Reporting rules: what each beneficiary's facts are, and how a change of facts moves counters.

Every aggregate is derived from the transition of one beneficiary's facts (old → new), so the
order events arrive in cannot change the result, and a dimension that is not known yet is
counted under ``unknown`` until the enrolment arrives, then moves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from contracts.dimensions import Gender, Track
from contracts.event import EventData
from contracts.orientation import PlacementRecordedV1
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
)
from contracts.training import BeneficiaryTrainedV1

UNKNOWN = "unknown"
ALL = "all"
# Breakdowns shown for every scope; careers_gender counts careers-track people by gender.
DIMENSIONS = ("district", "association", "gender", "age_band", "track", "careers_gender")
INDICATORS = ("enrolled", "trained", "directed_to_employment")

Bucket = tuple[str, str | None, str | None]  # (scope, dimension, value); no dimension = total
Deltas = dict[tuple[Bucket, str], int]


@dataclass(frozen=True)
class BeneficiaryFacts:
    """What reporting knows about one person; never personal data, only dimensions."""

    beneficiary_id: str
    enrolled: bool = False
    association_id: str | None = None
    district_id: str | None = None
    gender: str | None = None
    age_band: str | None = None
    tracks: tuple[str, ...] = ()
    employment_status: str | None = None
    withdrawn: bool = False
    trained: bool = False
    directed_to_employment: bool = False
    # Folded into another record: counted there, not here.
    merged_into: str | None = None


def apply(facts: BeneficiaryFacts, data: EventData) -> BeneficiaryFacts:
    """The facts after ``data``; event types reporting does not use leave them unchanged."""
    if isinstance(data, BeneficiaryEnrolledV1 | BeneficiaryUpdatedV1):
        return replace(
            facts,
            enrolled=True,
            association_id=data.association_id,
            district_id=data.district_id,
            gender=data.gender.value,
            age_band=data.age_band.value,
            # A partner may repeat a track; a person counts once per track.
            tracks=tuple(dict.fromkeys(track.value for track in data.tracks)),
            employment_status=data.employment_status.value,
        )
    if isinstance(data, BeneficiaryWithdrawnV1):
        return replace(facts, withdrawn=True)  # what they did so far still counts
    if isinstance(data, BeneficiariesMergedV1):
        return replace(facts, merged_into=str(data.beneficiary_id))
    if isinstance(data, BeneficiaryTrainedV1):
        return replace(facts, trained=True)
    if isinstance(data, PlacementRecordedV1) and data.directed_to_employment:
        return replace(facts, directed_to_employment=True)
    return facts


def absorb(kept: BeneficiaryFacts, merged: BeneficiaryFacts) -> BeneficiaryFacts:
    """The kept record after a merge: what either record achieved counts once, for it."""
    return replace(
        kept,
        trained=kept.trained or merged.trained,
        directed_to_employment=kept.directed_to_employment or merged.directed_to_employment,
    )


def beneficiary_of(data: EventData) -> str | None:
    """The beneficiary whose facts an event changes, when reporting keeps facts for it."""
    if isinstance(data, BeneficiariesMergedV1):
        return str(data.merged_id)
    if isinstance(
        data,
        BeneficiaryEnrolledV1
        | BeneficiaryUpdatedV1
        | BeneficiaryWithdrawnV1
        | BeneficiaryErasedV1
        | BeneficiaryTrainedV1
        | PlacementRecordedV1,
    ):
        return str(data.beneficiary_id)
    return None


def indicators(facts: BeneficiaryFacts) -> tuple[str, ...]:
    if facts.merged_into is not None:
        return ()
    reached = {
        "enrolled": facts.enrolled,
        "trained": facts.trained,
        "directed_to_employment": facts.directed_to_employment,
    }
    return tuple(indicator for indicator in INDICATORS if reached[indicator])


def dimension_values(facts: BeneficiaryFacts) -> dict[str, tuple[str, ...]]:
    careers = Track.DIGITAL_CAREERS.value in facts.tracks
    return {
        "district": (facts.district_id or UNKNOWN,),
        "association": (facts.association_id or UNKNOWN,),
        "gender": (facts.gender or UNKNOWN,),
        "age_band": (facts.age_band or UNKNOWN,),
        "track": facts.tracks or (UNKNOWN,),
        "careers_gender": ((facts.gender or UNKNOWN),) if careers else (),
    }


def scopes(facts: BeneficiaryFacts) -> tuple[str, ...]:
    """The filters under which this person is counted: everything, their association, …"""
    return (
        ALL,
        f"association:{facts.association_id or UNKNOWN}",
        f"district:{facts.district_id or UNKNOWN}",
        *(f"track:{track}" for track in facts.tracks),
    )


def contributions(facts: BeneficiaryFacts) -> Counter[tuple[Bucket, str]]:
    """How much this person adds to each counter."""
    counts: Counter[tuple[Bucket, str]] = Counter()
    values = dimension_values(facts)
    for indicator in indicators(facts):
        for scope in scopes(facts):
            counts[((scope, None, None), indicator)] += 1
            for dimension in DIMENSIONS:
                for value in values[dimension]:
                    counts[((scope, dimension, value), indicator)] += 1
    return counts


def transition(old: BeneficiaryFacts, new: BeneficiaryFacts) -> Deltas:
    """The counter changes that move ``old``'s contribution to ``new``'s (zeros left out)."""
    deltas = Counter(contributions(new))
    deltas.subtract(contributions(old))
    return {key: change for key, change in deltas.items() if change}


@dataclass(frozen=True)
class Targets:
    trained: int
    directed_to_employment: int
    associations_upskilled: int


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    value: str
    enrolled: int


@dataclass(frozen=True)
class Impact:
    scope: str
    enrolled: int
    trained: int
    directed_to_employment: int
    associations_upskilled: int
    women_share_careers: float | None
    targets: Targets
    breakdowns: tuple[Breakdown, ...]


def impact(scope: str, counters: list[dict[str, object]], targets: Targets) -> Impact:
    """Compose the impact answer for one scope from its counter documents."""
    totals: dict[str, object] = next((c for c in counters if c.get("dimension") is None), {})
    breakdowns = tuple(
        Breakdown(str(c["dimension"]), str(c["value"]), _count(c, "enrolled"))
        for c in counters
        if c.get("dimension") is not None
    )
    careers = [b for b in breakdowns if b.dimension == "careers_gender"]
    careers_total = sum(b.enrolled for b in careers)
    women = sum(b.enrolled for b in careers if b.value == Gender.FEMALE.value)
    return Impact(
        scope=scope,
        enrolled=_count(totals, "enrolled"),
        trained=_count(totals, "trained"),
        directed_to_employment=_count(totals, "directed_to_employment"),
        associations_upskilled=_count(totals, "associations_upskilled"),
        women_share_careers=women / careers_total if careers_total else None,
        targets=targets,
        breakdowns=breakdowns,
    )


def _count(counter: dict[str, object], indicator: str) -> int:
    value = counter.get(indicator, 0)
    return value if isinstance(value, int) else 0
