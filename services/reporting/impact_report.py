"""The impact report of one scope, composed from its figures for the exports.

Pure: :func:`compose` turns a :class:`~services.reporting.figures.Impact` (and the district
and association names, which reporting does not hold) into the neutral
:class:`~services.reporting.report.ImpactReport` that ``exports`` renders as CSV, XLSX,
HTML or PDF; :func:`for_audience` then applies the small-cell suppression of ``report.py``
for audiences that may not see individuals (funders).

What the report holds:

- **key figures**: people reached (enrolled + anonymous attendees of collective sessions),
  enrolled, anonymous attendees;
- **targets**: actual (baseline + counted), target, baseline and the forecast date at the
  recent pace (none once reached, nor when the actual figure is hidden);
- **the funnel**: enrolled → attended → trained → … → in post after 6 months;
- **one table per breakdown** (:data:`BREAKDOWNS`): district, association, gender, age band,
  track, careers track by gender, cohort (month of enrolment), month (when each stage was
  reached), with enrolled, attended, trained and directed-to-employment columns (district and
  association: anonymous attendees and people reached too), a total row, and rates where they
  make sense (share of the total for genders: the women's share);
- **weekly series** of enrolments and trained people (each week and cumulative);
- **notes**: how each indicator is defined, and how fresh the figures are;
- **its frame**: the scope, the period covered (from the programme's start, or the first week
  with activity, to the day the figures were taken), when they were taken and when they last
  moved.

Rows whose every count is 0 (a dimension's ``unknown`` once the enrolment arrived) are left
out; months without activity between the first and the last are kept, as zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from contracts.dimensions import AgeBand, Gender, Track
from services.reporting import domain
from services.reporting.exports import Lang, format_date, format_rate, label
from services.reporting.figures import Cell as FigureCell
from services.reporting.figures import Figures, Impact
from services.reporting.report import (
    Funnel,
    ImpactReport,
    KeyFigures,
    Masked,
    ProgressTarget,
    Rate,
    Row,
    Series,
    Sum,
    Table,
    suppress,
    weekly_series,
)

PEOPLE = ("enrolled", "attended", "trained", "directed_to_employment")
# Where anonymous attendees are counted (the session's association and district): the people
# columns, anonymous attendees, and people reached (enrolled + anonymous attendees).
REACH = (*PEOPLE, "anonymous_attendees", "people_reached")
REACHED = Sum(REACH.index("people_reached"), (0, REACH.index("anonymous_attendees")))
KEY_FIGURES = ("people_reached", "enrolled", "anonymous_attendees")
# Per month: the people who reached each stage that month (each person in one month per stage).
PER_MONTH = ("enrolled", "started_attending", "trained", "directed_to_employment")
# A report column that reads another indicator of the figures.
INDICATOR_OF = {"started_attending": "attending_new"}
PEOPLE_RATES = (Rate("attended_share", 1, 0), Rate("training_rate", 2, 0))
GENDER_RATES = (Rate("share", 0), *PEOPLE_RATES)  # the female row's share: women's share

Order = Callable[[Sequence[FigureCell]], list[FigureCell]]


def _largest_first(cells: Sequence[FigureCell]) -> list[FigureCell]:
    return sorted(cells, key=lambda c: (c.value == domain.UNKNOWN, -c.figures["enrolled"], c.value))


def _in_order(values: Sequence[str]) -> Order:
    def order(cells: Sequence[FigureCell]) -> list[FigureCell]:
        rank = {value: i for i, value in enumerate(values)}
        return sorted(cells, key=lambda c: (rank.get(c.value, len(rank)), c.value))

    return order


def _chronological(cells: Sequence[FigureCell]) -> list[FigureCell]:
    return sorted(cells, key=lambda c: (c.value == domain.UNKNOWN, c.value))


@dataclass(frozen=True)
class Breakdown:
    """How one breakdown becomes a table."""

    dimension: str  # the figures' dimension
    title: str  # label key
    order: Order
    columns: tuple[str, ...] = PEOPLE
    rates: tuple[Rate, ...] = PEOPLE_RATES
    # False when a person may be in several rows (tracks): the total is then the scope's.
    rows_partition: bool = True
    # Periods keep their rows without activity (a gap in time is information).
    keep_empty: bool = False
    sums: tuple[Sum, ...] = ()  # columns derived from others (people reached)


GENDERS = (*(g.value for g in Gender), domain.UNKNOWN)
BREAKDOWNS: dict[str, Breakdown] = {
    "district": Breakdown(
        "district", "by_district", _largest_first, columns=REACH, sums=(REACHED,)
    ),
    "association": Breakdown(
        "association", "by_association", _largest_first, columns=REACH, sums=(REACHED,)
    ),
    "gender": Breakdown("gender", "by_gender", _in_order(GENDERS), rates=GENDER_RATES),
    "age_band": Breakdown("age_band", "by_age_band", _in_order([a.value for a in AgeBand])),
    "track": Breakdown(
        "track",
        "by_track",
        _in_order([*(t.value for t in Track), domain.UNKNOWN]),
        rows_partition=False,
    ),
    "careers_gender": Breakdown(
        "careers_gender", "by_careers_gender", _in_order(GENDERS), rates=GENDER_RATES
    ),
    "cohort": Breakdown("cohort", "by_cohort", _chronological),
    "month": Breakdown(
        "month", "by_month", _chronological, columns=PER_MONTH, rates=(), keep_empty=True
    ),
}
SERIES = (("enrolled", "enrolled_per_week"), ("trained", "trained_per_week"))
NOTES = (
    "note_enrolled",
    "note_attended",
    "note_trained",
    "note_directed",
    "note_people_reached",
    "note_rates",
    "note_track",
    "note_periods",
    "note_unknown",
)


def compose(
    impact: Impact,
    *,
    districts: Mapping[str, str] | None = None,
    associations: Mapping[str, str] | None = None,
    lang: Lang = "fr",
    generated_at: datetime,
    updated_at: datetime | None = None,
    breakdowns: Sequence[str] = tuple(BREAKDOWNS),
) -> ImpactReport:
    """The exact report of ``impact``'s scope (pass it through :func:`for_audience`).

    ``districts`` and ``associations`` map ids to display names (an id without a name is
    shown as it is); ``updated_at`` is when the figures last moved (None: no event yet);
    ``breakdowns`` chooses the tables (keys of :data:`BREAKDOWNS`, in that order)."""
    names = {"district": dict(districts or {}), "association": dict(associations or {})}
    unknown = [name for name in breakdowns if name not in BREAKDOWNS]
    if unknown:
        raise ValueError(f"unknown breakdown(s) {unknown}; known: {', '.join(BREAKDOWNS)}")
    freshness = (
        label("fresh_as_of", lang).format(moment=format_date(updated_at, lang))
        if updated_at is not None
        else label("fresh_none", lang)
    )
    return ImpactReport(
        title="impact_report",
        scope_label=scope_label(impact.scope, names, lang),
        generated_at=generated_at,
        freshness=freshness,
        period=period(impact, generated_at, lang),
        key_figures=KeyFigures(
            tuple((name, _figure(impact.totals, name)) for name in KEY_FIGURES),
            sums=(Sum(0, (1, 2)),),
        ),
        targets=tuple(
            ProgressTarget(
                indicator=p.indicator,
                actual=p.actual,
                target=p.target,
                baseline=p.baseline,
                forecast_date=p.reached_on if p.actual < p.target else None,
            )
            for p in impact.progress
        ),
        funnel=Funnel("funnel", tuple(impact.funnel)),
        tables=tuple(table(impact, BREAKDOWNS[name], names) for name in breakdowns),
        series=tuple(series(impact, indicator, title) for indicator, title in SERIES),
        notes=notes(impact, lang),
    )


def for_audience(report: ImpactReport, may_see_individuals: bool) -> ImpactReport:
    """``report`` as its audience may see it: ``report.suppress``, and no forecast beside a
    hidden actual figure (the date would narrow it down)."""
    shown = suppress(report, may_see_individuals)
    return replace(
        shown,
        targets=tuple(
            replace(t, forecast_date=None) if isinstance(t.actual, Masked) else t
            for t in shown.targets
        ),
    )


def table(impact: Impact, breakdown: Breakdown, names: Mapping[str, Mapping[str, str]]) -> Table:
    """One breakdown of ``impact`` as a table with a total row."""
    found = [c for c in impact.cells if c.dimension == breakdown.dimension]
    if breakdown.dimension == "month":
        found = _every_month(found)
    counted = [
        c
        for c in breakdown.order(found)
        if breakdown.keep_empty or any(_count(c, column) for column in breakdown.columns)
    ]
    rows = tuple(
        Row(
            _row_label(breakdown.dimension, c.value, names),
            tuple(_count(c, column) for column in breakdown.columns),
        )
        for c in counted
    )
    if breakdown.rows_partition:
        total = tuple(sum(_count(c, k) for c in found) for k in breakdown.columns)
    else:
        total = tuple(_figure(impact.totals, k) for k in breakdown.columns)
    return Table(
        title=breakdown.title,
        dimension=breakdown.dimension,
        columns=breakdown.columns,
        rows=rows,
        rates=breakdown.rates,
        total=Row("total", total),
        rows_partition=breakdown.rows_partition,
        sums=breakdown.sums,
    )


def series(impact: Impact, indicator: str, title: str) -> Series:
    """Weekly counts of ``indicator`` and their running total from its baseline."""
    return weekly_series(
        title,
        [(point.week, point.counts.get(indicator, 0)) for point in impact.history],
        start=impact.targets.baselines.get(indicator, 0),
    )


def period(impact: Impact, taken_at: datetime, lang: Lang) -> str:
    """The period the figures cover: from the programme's start (the targets file), else the
    first week with activity, to the day they were taken; the programme's end when known."""
    start = impact.targets.starts_on
    if start is None and impact.history:
        start = date.fromisocalendar(
            int(impact.history[0].week[:4]), int(impact.history[0].week[6:]), 1
        )
    end = format_date(taken_at.date(), lang)
    covered = (
        label("period_range", lang).format(start=format_date(start, lang), end=end)
        if start is not None
        else label("period_until", lang).format(end=end)
    )
    ends_on = impact.targets.ends_on
    if ends_on is None:
        return covered
    return f"{covered} ({label('programme_ends', lang).format(end=format_date(ends_on, lang))})"


def notes(impact: Impact, lang: Lang) -> tuple[str, ...]:
    found = [label(key, lang) for key in NOTES]
    if any(impact.targets.baselines.values()):
        found.append(label("note_baseline", lang))
    goal = impact.targets.targets.get("women_share_careers")
    if goal is not None:
        found.append(label("note_women_target", lang).format(goal=format_rate(goal, lang)))
    return tuple(found)


def scope_label(scope: str, names: Mapping[str, Mapping[str, str]], lang: Lang) -> str:
    """``all`` → the whole programme; ``district:qpv-saige`` → "Quartier : Saige" …"""
    if scope == domain.ALL:
        return label("scope_all", lang)
    dimension, _, value = scope.partition(":")
    colon = "\u00a0: " if lang == "fr" else ": "
    return f"{label(dimension, lang)}{colon}{label(_row_label(dimension, value, names), lang)}"


def _row_label(dimension: str, value: str, names: Mapping[str, Mapping[str, str]]) -> str:
    if value == domain.UNKNOWN:
        return domain.UNKNOWN
    return names.get(dimension, {}).get(value, value)


def _indicator(column: str) -> str:
    return INDICATOR_OF.get(column, column)


def _count(cell: FigureCell, column: str) -> int:
    return _figure(cell.figures, column)


def _figure(figures: Figures, column: str) -> int:
    if column == "people_reached":
        return figures.people_reached
    return figures[_indicator(column)]


def _every_month(cells: list[FigureCell]) -> list[FigureCell]:
    """The months from the first to the last, those without a counter as zeros."""
    known = {c.value: c for c in cells}
    months = sorted(v for v in known if v != domain.UNKNOWN)
    if not months:
        return cells
    year, month = int(months[0][:4]), int(months[0][5:7])
    filled: list[FigureCell] = []
    while (current := date(year, month, 1).isoformat()[:7]) <= months[-1]:
        filled.append(known.get(current) or FigureCell("month", current, Figures({})))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return filled
