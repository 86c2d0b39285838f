"""Reporting in GraphQL: the programme's figures for one scope (reporting's ``GET /impact``
answer, as ``contracts.api.reporting`` types it, named with registration's reference lists)
and the share links to the anonymised figures. The files (``exports``) are in exports.py, the
live updates in subscriptions.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import strawberry
from strawberry.types import Info

from contracts.api import reporting
from contracts.api.registration import AssociationView, DistrictView
from contracts.api.reporting import BreakdownCell, ImpactAnswer

from . import share_links as sharing
from .context import Context, context_of
from .enums import AgeBand, Gender, OutcomeClass, Track
from .wire import enum_value

# -- types --------------------------------------------------------------------------------


@strawberry.type
class Targets:
    trained: int
    directed_to_employment: int
    associations_upskilled: int


HIDDEN = (
    "Counts hidden from this audience (funders, public links), each null above, with what to "
    "show instead; empty for exact figures"
)


@strawberry.type(description="A count hidden from this audience, and what to show in its place")
class SuppressedCount:
    field: str = strawberry.field(description="The hidden field, e.g. enrolled, cumulativeTrained")
    shown: str = strawberry.field(
        description='"<5": between 1 and 4; "s": hidden so that a "<5" cannot be worked out '
        "by subtraction"
    )


@strawberry.type(description="Main figures of one cell of a breakdown (null: see suppressed)")
class CellFigures:
    enrolled: int | None
    attended: int | None = strawberry.field(description="People present at one session at least")
    trained: int | None
    directed_to_employment: int | None
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)
    attendance_rate: float | None = strawberry.field(
        description="Share of recorded attendances where the person was present (0–1)"
    )


PEOPLE_REACHED = (
    "People reached: enrolled plus anonymous attendees of collective sessions (a headcount per "
    "session: someone who came anonymously twice counts twice)"
)

ANONYMOUS_ATTENDEES = (
    "People not enrolled counted at collective sessions (each session's latest headcount)"
)


@strawberry.type(description="A breakdown cell with the people reached there")
class ReachCellFigures(CellFigures):
    people_reached: int | None = strawberry.field(description=PEOPLE_REACHED)
    anonymous_attendees: int | None = strawberry.field(description=ANONYMOUS_ATTENDEES)


@strawberry.type
class DistrictImpact(ReachCellFigures):
    district_id: strawberry.ID
    name: str


@strawberry.type
class AssociationImpact(ReachCellFigures):
    association_id: strawberry.ID
    name: str
    upskilled: bool = strawberry.field(description="Counted in associationsUpskilled")


@strawberry.type
class GenderImpact(CellFigures):
    gender: Gender


@strawberry.type
class AgeBandImpact(CellFigures):
    age_band: AgeBand


@strawberry.type
class TrackImpact(CellFigures):
    track: Track


@strawberry.type(description="People enrolled in one month, and how far they have gone since")
class CohortImpact(CellFigures):
    month: str = strawberry.field(description="Month of enrolment, YYYY-MM")


@strawberry.type(description="What happened in one ISO week, and the running totals")
class WeekImpact:
    week: str = strawberry.field(description="ISO week, e.g. 2026-W05")
    enrolled: int | None
    trained: int | None
    directed_to_employment: int | None
    sessions_present: int | None
    attending_new: int | None = strawberry.field(description="People attending for the first time")
    attending_returning: int | None = strawberry.field(description="People who had attended before")
    cumulative_enrolled: int | None
    cumulative_trained: int | None = strawberry.field(description="Baseline included")
    cumulative_directed_to_employment: int | None = strawberry.field(
        description="Baseline included"
    )
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)


@strawberry.type
class FunnelStage:
    stage: str = strawberry.field(
        description="enrolled, attended, trained, career_workshop, referred, placed, "
        "directed_to_employment, in_post_6m"
    )
    count: int | None
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)


@strawberry.type(description="One target: where the programme stands and when it gets there")
class TargetProgress:
    indicator: str = strawberry.field(
        description="trained, directed_to_employment or associations_upskilled"
    )
    target: int
    baseline: int = strawberry.field(description="Reached before the platform counted")
    actual: int | None = strawberry.field(description="Baseline + counted")
    share: float | None = strawberry.field(description="actual / target")
    weekly_pace: float | None = strawberry.field(
        description="Per week, over the last 4 complete weeks"
    )
    forecast_on: dt.date | None = strawberry.field(
        description="When the target is reached at that pace; null without a recent pace"
    )
    on_track: bool | None = strawberry.field(description="Forecast before the programme's end")
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)


@strawberry.type
class SkillGain:
    area: str = strawberry.field(description="Pix area, 1 to 5")
    average_levels_gained: float | None = strawberry.field(
        description="Average final − initial Pix level per competence assessed at both stages"
    )
    competences_assessed: int | None


@strawberry.type
class OutcomeCount:
    outcome_class: OutcomeClass
    people: int | None


@strawberry.type(description="How recent the figures are")
class Freshness:
    last_event_time: dt.datetime | None
    lag_seconds: float | None = strawberry.field(
        description="From the last event's time to its projection"
    )
    p50_seconds: float | None = strawberry.field(description="Median delay, recent events")
    p99_seconds: float | None


@strawberry.type(description="Programme figures against its targets, for one scope")
class Impact:
    enrolled: int | None = strawberry.field(description="Null only when hidden: see suppressed")
    trained: int | None
    directed_to_employment: int | None
    associations_upskilled: int
    people_reached: int | None = strawberry.field(description=PEOPLE_REACHED)
    anonymous_attendees: int | None = strawberry.field(description=ANONYMOUS_ATTENDEES)
    women_share_careers: float | None = strawberry.field(
        description="Share of women among careers-track participants (0–1); null when none"
    )
    women_share_goal: float | None = strawberry.field(description="From the targets file")
    targets: Targets
    progress: list[TargetProgress]
    funnel: list[FunnelStage]
    attendance_rate: float | None
    no_show_rate: float | None = strawberry.field(
        description="Share of recorded attendances missed without an excuse (0–1)"
    )
    withdrawn: int | None
    at_risk: int | None = strawberry.field(description="People flagged after repeated absences")
    directed_by_outcome: list[OutcomeCount]
    skill_gain: list[SkillGain]
    by_district: list[DistrictImpact]
    by_association: list[AssociationImpact]
    by_gender: list[GenderImpact]
    by_age_band: list[AgeBandImpact]
    by_track: list[TrackImpact]
    cohorts: list[CohortImpact]
    weekly: list[WeekImpact]
    freshness: Freshness
    updated_at: dt.datetime | None
    anonymised: bool = strawberry.field(
        default=False,
        description="Small counts are hidden for this audience (funders, public share links)",
    )
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)


@strawberry.input(description="Limit the figures to one association, district or track")
class ImpactFilter:
    association_id: strawberry.ID | None = None
    district_id: strawberry.ID | None = None
    track: Track | None = None

    def params(self) -> dict[str, str]:
        """The scope as reporting's query parameters, those set (reporting refuses more than
        one): ``association_id``, ``district_id``, ``track``."""
        values = {
            "association_id": self.association_id,
            "district_id": self.district_id,
            "track": self.track,
        }
        return {name: str(enum_value(value)) for name, value in values.items() if value is not None}


# -- the figures, from reporting's answer -------------------------------------------------


async def compose_impact(context: Context, impact_filter: ImpactFilter | None) -> Impact:
    params = impact_filter.params() if impact_filter is not None else {}
    answer = await context.services.answer(
        ImpactAnswer,
        "reporting",
        "GET",
        "/impact",
        authorization=context.authorization,
        params=params,
    )
    return impact_of(
        answer,
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


# -- fields -------------------------------------------------------------------------------


@strawberry.type
class ReportingQuery:
    @strawberry.field(description="Programme figures against targets, optionally filtered")
    async def impact(self, info: Info[Context, Any], filter: ImpactFilter | None = None) -> Impact:
        return await compose_impact(context_of(info), filter)

    @strawberry.field(description="Public links to the anonymised figures; coordinators only")
    async def share_links(self, info: Info[Context, Any]) -> list[sharing.ShareLink]:
        return await sharing.share_links(context_of(info))


@strawberry.type
class ReportingMutation:
    @strawberry.mutation(
        description="A read-only public link to the anonymised programme figures (the "
        "dashboard at /?share={id}, JSON at GET /public/{id}; no token), until revoked; "
        "coordinators only"
    )
    async def create_share_link(self, info: Info[Context, Any], label: str) -> sharing.ShareLink:
        return await sharing.create_share_link(context_of(info), label)

    @strawberry.mutation(description="Close a share link for good; its id then answers 404")
    async def revoke_share_link(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> sharing.ShareLink:
        return await sharing.revoke_share_link(context_of(info), id)
