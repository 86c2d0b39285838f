"""The impact answer: figures read from counter documents, rates, targets and forecasts.

Pure: the store hands over the counter documents of one scope, this module turns them into
what a coordinator or funder reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.dimensions import Gender
from services.reporting.domain import (
    ATTRIBUTES,
    FUNNEL,
    INDICATORS,
    OUTCOME_ORDER,
    period_of,
)

TARGETED = ("trained", "directed_to_employment", "associations_upskilled")
# Weeks of recent pace a forecast extrapolates from (complete weeks before the current one).
PACE_WEEKS = 4


@dataclass(frozen=True)
class Figures:
    """Every indicator's count for one cell (a scope's total, or one value of a dimension)."""

    counts: dict[str, int]

    def __getitem__(self, indicator: str) -> int:
        return self.counts.get(indicator, 0)

    @property
    def people_reached(self) -> int:
        """People enrolled plus anonymous attendees of collective sessions (the rule:
        :func:`services.reporting.domain.session_counts`)."""
        return self["enrolled"] + self["anonymous_attendees"]

    @property
    def sessions_recorded(self) -> int:
        return self["sessions_present"] + self["sessions_excused"] + self["sessions_unexcused"]

    @property
    def attendance_rate(self) -> float | None:
        """Share of recorded attendances where the person was present."""
        recorded = self.sessions_recorded
        return self["sessions_present"] / recorded if recorded else None

    @property
    def no_show_rate(self) -> float | None:
        """Share of recorded attendances missed without an excuse."""
        recorded = self.sessions_recorded
        return self["sessions_unexcused"] / recorded if recorded else None

    def skill_gain(self, area: str) -> float | None:
        """Average Pix levels gained per competence assessed before and after, in one area."""
        count = self[f"skill_gain_count_{area}"]
        return self[f"skill_gain_sum_{area}"] / count if count else None

    def directed_by_outcome(self) -> dict[str, int]:
        return {outcome: self[f"directed_{outcome}"] for outcome in OUTCOME_ORDER}


@dataclass(frozen=True)
class Cell:
    dimension: str
    value: str
    figures: Figures


@dataclass(frozen=True)
class TargetsFile:
    """What a coordinator sets in the targets file."""

    targets: dict[str, float]
    baselines: dict[str, int]
    starts_on: date | None = None
    ends_on: date | None = None


@dataclass(frozen=True)
class Progress:
    indicator: str
    target: int
    baseline: int
    actual: int  # baseline + counted by the platform
    share: float  # actual / target
    weekly_pace: float  # average per complete week over the last PACE_WEEKS weeks
    reached_on: date | None  # forecast (today when already reached); None: no recent pace
    on_track: bool | None  # forecast before the programme's end; None when it has no end date


@dataclass(frozen=True)
class WeekPoint:
    week: str
    counts: dict[str, int]  # that week's counts
    cumulative: dict[str, int]  # baseline + every week up to and including this one


@dataclass(frozen=True)
class Impact:
    scope: str
    totals: Figures
    women_share_careers: float | None
    targets: TargetsFile
    progress: tuple[Progress, ...]
    funnel: tuple[tuple[str, int], ...]
    cells: tuple[Cell, ...]  # attribute breakdowns, months and weeks
    history: tuple[WeekPoint, ...]


def figures_of(document: dict[str, object]) -> Figures:
    """The known indicators of a counter document (anything else is ignored)."""
    return Figures(
        {
            name: value
            for name in INDICATORS
            if isinstance(value := document.get(name), int) and not isinstance(value, bool)
        }
    )


def impact(
    scope: str, counters: list[dict[str, object]], targets: TargetsFile, today: date
) -> Impact:
    """Compose the impact answer for one scope from its counter documents."""
    totals = Figures({})
    cells = []
    for document in counters:
        dimension = document.get("dimension")
        if dimension is None:
            totals = figures_of(document)
        else:
            cells.append(Cell(str(dimension), str(document["value"]), figures_of(document)))
    cells.sort(key=lambda c: (c.dimension, c.value))
    weeks = {c.value: c.figures for c in cells if c.dimension == "week"}
    history = weekly_history(weeks, targets.baselines)
    return Impact(
        scope=scope,
        totals=totals,
        women_share_careers=women_share(cells),
        targets=targets,
        progress=tuple(
            progress(indicator, totals[indicator], targets, weeks, today)
            for indicator in TARGETED
            if indicator in targets.targets
        ),
        funnel=tuple((stage, totals[stage]) for stage in FUNNEL),
        cells=tuple(cells),
        history=history,
    )


def women_share(cells: list[Cell]) -> float | None:
    careers = [c for c in cells if c.dimension == "careers_gender"]
    participants = sum(c.figures["enrolled"] for c in careers)
    women = sum(c.figures["enrolled"] for c in careers if c.value == Gender.FEMALE.value)
    return women / participants if participants else None


def weekly_history(weeks: dict[str, Figures], baselines: dict[str, int]) -> tuple[WeekPoint, ...]:
    """Every week from the first one with activity to the last, gaps filled with zeros."""
    if not weeks:
        return ()
    running = {indicator: baselines.get(indicator, 0) for indicator in (*FUNNEL, *TARGETED)}
    points = []
    for week in week_range(min(weeks), max(weeks)):
        counts = weeks.get(week, Figures({})).counts
        for indicator in running:
            running[indicator] += counts.get(indicator, 0)
        points.append(WeekPoint(week, dict(counts), dict(running)))
    return tuple(points)


def progress(
    indicator: str, counted: int, targets: TargetsFile, weeks: dict[str, Figures], today: date
) -> Progress:
    target = int(targets.targets[indicator])
    baseline = targets.baselines.get(indicator, 0)
    actual = baseline + counted
    recent = [
        period_of((today - timedelta(weeks=n)).isoformat(), "week")
        for n in range(1, PACE_WEEKS + 1)
    ]
    pace = sum(weeks[w][indicator] for w in recent if w in weeks) / PACE_WEEKS
    reached_on: date | None
    if actual >= target:
        reached_on = today
    elif pace > 0:
        reached_on = today + timedelta(weeks=math.ceil((target - actual) / pace))
    else:
        reached_on = None
    on_track = None
    if targets.ends_on is not None:
        on_track = reached_on is not None and reached_on <= targets.ends_on
    return Progress(
        indicator=indicator,
        target=target,
        baseline=baseline,
        actual=actual,
        share=actual / target if target else 1.0,
        weekly_pace=pace,
        reached_on=reached_on,
        on_track=on_track,
    )


def week_range(first: str, last: str) -> list[str]:
    """ISO weeks from ``first`` to ``last`` inclusive (``2026-W05`` form)."""
    start = date.fromisocalendar(int(first[:4]), int(first[6:]), 1)
    end = date.fromisocalendar(int(last[:4]), int(last[6:]), 1)
    weeks = []
    while start <= end:
        weeks.append(period_of(start.isoformat(), "week"))
        start += timedelta(weeks=1)
    return weeks


def breakdown(impact: Impact, dimension: str) -> tuple[Cell, ...]:
    """The cells of one dimension, largest enrolment first (then by value)."""
    found = [c for c in impact.cells if c.dimension == dimension]
    if dimension in ATTRIBUTES:
        return tuple(sorted(found, key=lambda c: (-c.figures["enrolled"], c.value)))
    return tuple(found)  # periods stay in time order
