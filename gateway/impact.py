"""The programme's figures: reporting's answer, named with the reference data, as an Impact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import strawberry

from contracts.api import reporting
from contracts.api.registration import AssociationView, DistrictView
from contracts.api.reporting import BreakdownCell, ImpactAnswer

from .context import Context
from .enums import AgeBand, Gender, OutcomeClass, Track
from .inputs import ImpactFilter
from .outputs import (
    AgeBandImpact,
    AssociationImpact,
    CohortImpact,
    DistrictImpact,
    Freshness,
    FunnelStage,
    GenderImpact,
    Impact,
    OutcomeCount,
    SkillGain,
    SuppressedCount,
    TargetProgress,
    Targets,
    TrackImpact,
    WeekImpact,
)
from .wire import enum_value


async def compose_impact(context: Context, impact_filter: ImpactFilter | None) -> Impact:
    params = {}
    if impact_filter is not None:
        for name in ("association_id", "district_id", "track"):
            value = enum_value(getattr(impact_filter, name))
            if value is not None:
                params[name] = str(value)
    answer = await context.services.call(
        "reporting", "GET", "/impact", authorization=context.authorization, params=params
    )
    return impact_of(
        ImpactAnswer.model_validate(answer),
        await context.reference("districts"),
        await context.reference("associations"),
    )


def impact_of(
    answer: ImpactAnswer,
    known_districts: Sequence[DistrictView],
    known_associations: Sequence[AssociationView],
) -> Impact:
    """Reporting's ``GET /impact`` answer (contracts.api.reporting) as an Impact, districts and
    associations named from registration's reference lists (contracts.api.registration)."""
    districts = {district.id: district.name for district in known_districts}
    associations = {association.id: association.name for association in known_associations}

    def rows(dimension: str) -> list[BreakdownCell]:
        found = [b for b in answer.breakdowns if b.dimension == dimension]
        return sorted(found, key=lambda b: (-(b.enrolled or 0), b.value))

    def figures(cell: BreakdownCell) -> dict[str, Any]:
        return {
            "enrolled": cell.counts.get("enrolled", 0),
            "attended": cell.counts.get("attended", 0),
            "trained": cell.counts.get("trained", 0),
            "directed_to_employment": cell.counts.get("directed_to_employment", 0),
            "attendance_rate": cell.attendance_rate,
            "suppressed": suppressed(cell.suppressed),
        }

    def reached(cell: BreakdownCell) -> dict[str, Any]:
        return {
            "people_reached": cell.people_reached,
            "anonymous_attendees": cell.counts.get("anonymous_attendees", 0),
        }

    totals = answer.totals
    counts = totals.counts
    targets = answer.targets
    freshness = answer.freshness
    return Impact(
        enrolled=answer.enrolled,
        trained=answer.trained,
        directed_to_employment=answer.directed_to_employment,
        associations_upskilled=answer.associations_upskilled,
        people_reached=answer.people_reached,
        anonymous_attendees=counts.get("anonymous_attendees", 0),
        women_share_careers=answer.women_share_careers,
        women_share_goal=answer.women_share_goal,
        targets=Targets(
            trained=targets["trained"],
            directed_to_employment=targets["directed_to_employment"],
            associations_upskilled=targets["associations_upskilled"],
        ),
        progress=[_progress(row) for row in answer.progress],
        funnel=[
            FunnelStage(stage=row.stage, count=row.count, suppressed=suppressed(row.suppressed))
            for row in answer.funnel
        ],
        attendance_rate=totals.attendance_rate,
        no_show_rate=totals.no_show_rate,
        withdrawn=counts.get("withdrawn", 0),
        at_risk=counts.get("at_risk", 0),
        directed_by_outcome=[
            OutcomeCount(outcome_class=OutcomeClass(outcome), people=people)
            for outcome, people in totals.directed_by_outcome.items()
        ],
        skill_gain=[
            SkillGain(
                area=area,
                average_levels_gained=gain,
                competences_assessed=counts.get(f"skill_gain_count_{area}", 0),
            )
            for area, gain in totals.skill_gain.items()
        ],
        by_district=[
            DistrictImpact(
                district_id=strawberry.ID(b.value),
                name=districts.get(b.value, "Unknown district"),
                **figures(b),
                **reached(b),
            )
            for b in rows("district")
        ],
        by_association=[
            AssociationImpact(
                association_id=strawberry.ID(b.value),
                name=associations.get(b.value, "Unknown association"),
                upskilled=(b.counts.get("associations_upskilled") or 0) > 0,
                **figures(b),
                **reached(b),
            )
            for b in rows("association")
        ],
        by_gender=[
            GenderImpact(gender=Gender(b.value), **figures(b))
            for b in rows("gender")
            if b.value in Gender._value2member_map_
        ],
        by_age_band=[
            AgeBandImpact(age_band=AgeBand(b.value), **figures(b))
            for b in rows("age_band")
            if b.value in AgeBand._value2member_map_
        ],
        by_track=[
            TrackImpact(track=Track(b.value), **figures(b))
            for b in rows("track")
            if b.value in Track._value2member_map_
        ],
        cohorts=sorted(
            (
                CohortImpact(month=b.value, **figures(b))
                for b in rows("cohort")
                if b.value != "unknown"
            ),
            key=lambda cohort: cohort.month,
        ),
        weekly=[_week(point) for point in answer.history],
        freshness=Freshness(
            last_event_time=freshness.last_event_time,
            lag_seconds=freshness.lag_seconds,
            p50_seconds=freshness.p50_seconds,
            p99_seconds=freshness.p99_seconds,
        ),
        updated_at=answer.updated_at,
        anonymised=answer.anonymised,
        suppressed=suppressed(answer.suppressed) + suppressed(totals.suppressed),
    )


def suppressed(hidden: Mapping[str, str]) -> list[SuppressedCount]:
    """Reporting's ``suppressed`` map (``{"cumulative.trained": "<5"}``) as GraphQL names."""
    return [
        SuppressedCount(field=_graphql_name(name), shown=str(shown))
        for name, shown in hidden.items()
    ]


def _graphql_name(name: str) -> str:
    """``counts.directed_to_employment`` → ``directedToEmployment``; ``cumulative.trained`` →
    ``cumulativeTrained`` (the WeekImpact field)."""
    kind, _, count = name.rpartition(".")
    words = ([kind] if kind == "cumulative" else []) + count.split("_")
    return words[0] + "".join(word.title() for word in words[1:])


def _progress(row: reporting.TargetProgress) -> TargetProgress:
    return TargetProgress(
        indicator=row.indicator,
        target=row.target,
        baseline=row.baseline,
        actual=row.actual,
        share=row.share,
        weekly_pace=row.weekly_pace,
        forecast_on=row.reached_on,
        on_track=row.on_track if row.actual is not None else None,
        suppressed=suppressed(row.suppressed),
    )


def _week(point: reporting.WeekPoint) -> WeekImpact:
    counts, cumulative = point.counts, point.cumulative
    return WeekImpact(
        week=point.week,
        enrolled=counts.get("enrolled", 0),
        trained=counts.get("trained", 0),
        directed_to_employment=counts.get("directed_to_employment", 0),
        sessions_present=counts.get("sessions_present", 0),
        attending_new=counts.get("attending_new", 0),
        attending_returning=counts.get("attending_returning", 0),
        cumulative_enrolled=cumulative.get("enrolled", 0),
        cumulative_trained=cumulative.get("trained", 0),
        cumulative_directed_to_employment=cumulative.get("directed_to_employment", 0),
        suppressed=suppressed(point.suppressed),
    )
