"""The impact answer as an audience without individual access sees it (funders, public share
links): small counts hidden with the rules of :mod:`services.reporting.report`.

A hidden count becomes ``null``, and the object holding it gets a ``suppressed`` map from the
count's name to what a client shows in its place: ``"<5"`` (1 to 4) or ``"s"`` (hidden so a
``<5`` beside it cannot be worked out by subtraction). Breakdown cells get primary and
secondary suppression along each dimension (whose total is the headline figure when the
dimension splits the population); a rate computed from a hidden count is hidden too; headline
totals, target progress, funnel stages and outcome classes get the primary rule; the weekly
series gets rule 4 (cumulative figures shown only where they moved by 0 or 5 and more).
People reached (enrolled + anonymous attendees) is shown only where both its parts are (rule 6).
Counts of 0 and of 5 or more stay exact, and so do counts of associations (upskilled): they
are organisations, not people. Nothing here does I/O.
"""

from __future__ import annotations

import copy
from typing import Any

from services.reporting.domain import SESSION_ATTRIBUTES
from services.reporting.report import (
    SMALL_CELL_THRESHOLD,
    Masked,
    Row,
    Sum,
    Table,
    WeekPoint,
    suppress_series,
    suppress_table,
)
from services.reporting.report import (
    Series as WeekSeries,
)

Json = dict[str, Any]
PEOPLE_COUNTS = ("enrolled", "attended", "trained", "directed_to_employment")
# Each breakdown cell's columns: the people counts, anonymous attendees, and people reached
# derived from enrolled and anonymous attendees.
CELL_COUNTS = (*PEOPLE_COUNTS, "anonymous_attendees", "people_reached")
REACHED = Sum(CELL_COUNTS.index("people_reached"), (0, CELL_COUNTS.index("anonymous_attendees")))
HEADLINES = ("enrolled", "trained", "directed_to_employment")
# Dimensions whose values split the scope's population: their total is the headline figure.
PARTITIONS = ("district", "association", "gender", "age_band", "cohort")
SERIES_COUNTS = ("enrolled", "trained", "directed_to_employment")
# Counts of organisations, not people: shown exactly to every audience.
ORGANISATIONS = frozenset({"associations_upskilled"})


def anonymise(answer: Json) -> Json:
    """``answer`` (reporting's ``/impact`` JSON) with small counts hidden; adds
    ``"anonymised": true``."""
    shown = copy.deepcopy(answer)
    _headlines(shown)
    _totals(shown)
    _people_reached(shown)
    _progress(shown)
    for stage in shown["funnel"]:
        _primary_in(stage, "count")
    shown["breakdowns"] = _breakdowns(shown["breakdowns"], shown["totals"]["counts"])
    shown["history"] = _history(shown["history"])
    shown["anonymised"] = True
    return shown


def _primary_in(holder: Json, name: str, into: Json | None = None) -> bool:
    """Hide ``holder[name]`` when it is 1–4; True when hidden."""
    value = holder.get(name)
    if isinstance(value, int) and 0 < value < SMALL_CELL_THRESHOLD:
        holder[name] = None
        (into if into is not None else holder).setdefault("suppressed", {})[name] = Masked.SMALL
        return True
    return False


def _headlines(shown: Json) -> None:
    for name in HEADLINES:
        _primary_in(shown, name)
    careers = [b for b in shown["breakdowns"] if b["dimension"] == "careers_gender"]
    careers_people = sum(int(b["counts"].get("enrolled", 0)) for b in careers)
    if 0 < careers_people < SMALL_CELL_THRESHOLD:  # a share of 1–4 people shows who they are
        shown["women_share_careers"] = None
        shown.setdefault("suppressed", {})["women_share_careers"] = Masked.SECONDARY


def _totals(shown: Json) -> None:
    totals = shown["totals"]
    counts = totals["counts"]
    hidden = {
        name
        for name in list(counts)
        if name not in ORGANISATIONS and _primary_in(counts, name, totals)
    }
    if hidden & {"enrolled", "attended", "sessions_planned", "sessions_present"}:
        totals["attendance_rate"] = totals["no_show_rate"] = None
    for area in list(totals["skill_gain"]):
        if f"skill_gain_count_{area}" in hidden:
            totals["skill_gain"][area] = None
    outcomes = totals["directed_by_outcome"]
    table = suppress_table(
        Table(
            "outcomes",
            "outcome",
            ("people",),
            tuple(Row(name, (int(people),)) for name, people in outcomes.items()),
        )
    )
    for row in table.rows:
        cell = row.counts[0]
        if isinstance(cell, Masked):
            outcomes[row.label] = None
            totals.setdefault("suppressed_outcomes", {})[row.label] = cell


def _people_reached(shown: Json) -> None:
    """People reached, in the headline and the totals, only where enrolled and anonymous
    attendees are both shown (else it would give away the hidden one)."""
    totals = shown["totals"]
    counts = totals["counts"]
    parts_shown = (
        counts.get("enrolled") is not None and counts.get("anonymous_attendees", 0) is not None
    )
    for holder in (shown, totals):
        value = holder.get("people_reached")
        if parts_shown or not isinstance(value, int):
            continue
        holder["people_reached"] = None
        small = 0 < value < SMALL_CELL_THRESHOLD
        holder.setdefault("suppressed", {})["people_reached"] = (
            Masked.SMALL if small else Masked.SECONDARY
        )


def _progress(shown: Json) -> None:
    for row in shown["progress"]:
        if row["indicator"] in ORGANISATIONS:
            continue
        counted = int(row["actual"]) - int(row.get("baseline") or 0)
        if 0 < counted < SMALL_CELL_THRESHOLD:  # the baseline is public: actual − baseline
            row["actual"] = row["share"] = row["weekly_pace"] = row["reached_on"] = None
            row["suppressed"] = {"actual": Masked.SMALL}


def _breakdowns(breakdowns: list[Json], totals: Json) -> list[Json]:
    by_dimension: dict[str, list[Json]] = {}
    for cell in breakdowns:
        by_dimension.setdefault(cell["dimension"], []).append(cell)
    shown: list[Json] = []
    for dimension, cells in by_dimension.items():
        # Anonymous attendees are counted by association and district only: elsewhere their
        # rows are 0, and so is their total.
        anonymous_total = int(totals.get("anonymous_attendees", 0) or 0)
        if dimension not in SESSION_ATTRIBUTES:
            anonymous_total = 0
        people = tuple(int(totals.get(n, 0) or 0) for n in PEOPLE_COUNTS)
        total = (
            Row("total", (*people, anonymous_total, people[0] + anonymous_total))
            if dimension in PARTITIONS
            else None
        )
        table = suppress_table(
            Table(
                dimension,
                dimension,
                CELL_COUNTS,
                tuple(Row(c["value"], _cell_counts(c)) for c in cells),
                total=total,
                rows_partition=dimension != "track",
                sums=(REACHED,),
            )
        )
        for cell, row in zip(cells, table.rows, strict=True):
            shown.append(_cell(cell, row.counts))
    return shown


def _cell_counts(cell: Json) -> tuple[int, ...]:
    counts = tuple(int(cell["counts"].get(n, 0)) for n in CELL_COUNTS[:-1])
    return (*counts, counts[0] + counts[-1])


def _cell(cell: Json, cells: tuple[Any, ...]) -> Json:
    """One breakdown cell with only the people counts and people reached (each shown or
    hidden), the rates computed from them when both are shown, and whether the association is
    upskilled."""
    counts: Json = {}
    suppressed: Json = {}
    for name, value in zip(CELL_COUNTS, cells, strict=True):
        if isinstance(value, Masked):
            counts[name] = None
            suppressed[name] = value
        else:
            counts[name] = value
    exact_attendance = counts["enrolled"] is not None and counts["attended"] is not None
    for name in ORGANISATIONS & set(cell["counts"]):
        counts[name] = cell["counts"][name]
    return {
        "dimension": cell["dimension"],
        "value": cell["value"],
        "enrolled": counts["enrolled"],
        "people_reached": counts.pop("people_reached"),
        "counts": counts,
        "attendance_rate": cell["attendance_rate"] if exact_attendance else None,
        "no_show_rate": cell["no_show_rate"] if exact_attendance else None,
        "skill_gain": {},
        "directed_by_outcome": {},
        "suppressed": suppressed,
    }


def _history(history: list[Json]) -> list[Json]:
    shown = [
        {"week": point["week"], "counts": {}, "cumulative": {}, "suppressed": {}}
        for point in history
    ]
    for out, point in zip(shown, history, strict=True):
        for name in point["counts"]:  # weekly attendance: not shown to this audience
            if name not in SERIES_COUNTS:
                out["counts"][name] = None
                out["suppressed"][f"counts.{name}"] = Masked.SECONDARY
    for name in SERIES_COUNTS:
        points = tuple(
            WeekPoint(p["week"], int(p["counts"].get(name, 0)), int(p["cumulative"].get(name, 0)))
            for p in history
        )
        series = suppress_series(WeekSeries(name, points))
        for out, week in zip(shown, series.points, strict=True):
            for kind, value in (("counts", week.count), ("cumulative", week.cumulative)):
                if isinstance(value, Masked):
                    out[kind][name] = None
                    out["suppressed"][f"{kind}.{name}"] = value
                else:
                    out[kind][name] = value
    return shown
