"""The neutral impact report that every export renders, and the small-cell suppression rule.

The reporting service fills an :class:`ImpactReport` with its figures; ``exports`` turns
it into CSV, XLSX, HTML or PDF. Labels in the model (titles, column names, row labels,
indicators) are keys of the label dictionary in ``exports/labels.py`` when one exists there
(``"enrolled"``, ``"by_district"``, ``"female"``…), otherwise text shown as it is (a
district's name). Nothing here does I/O.

Small-cell suppression (:func:`suppress`), for audiences that may not see individuals
(funders, the public); coordinators and association staff get the exact figures:

1. **Primary.** Any count from 1 to 4 — a table cell (totals included), a funnel stage, a
   target's actual figure, a weekly point — is shown as ``<5`` (:attr:`Masked.SMALL`).
   0 and counts of 5 or more are shown exactly.
2. **Secondary.** Counts in a table add up along *lines*: each count column over the rows
   when the rows partition the population (``Table.rows_partition``; its total is known,
   from the total row or the headline figure elsewhere), and each row when the table has a
   column holding the row's sum (``Table.sum_column``). A hidden cell must not be
   recoverable from its line: given that ``<5`` means 1–4 and ``s`` means 5 or more, no
   hidden cell of a line whose sum is known may be pinned to a single value. While one is,
   the smallest non-zero shown cell of that line (a part, never the total: totals appear in
   headlines) is hidden too, as ``s`` (:attr:`Masked.SECONDARY`), and every line is checked
   again until none changes. So one ``<5`` in a line always brings a second hidden cell
   beside it, and two ``<5`` whose sum would pin them both (1+1, 4+4) bring a third.
   Zeros are never hidden: a hidden zero would be recognisable (``s`` is 0 or ≥5, never
   1–4) and would protect nothing. Limits: lines are checked one at a time (no linear
   programming across a table's rows and columns together, nor across tables, e.g. a
   district table against an association table when an association works in a single
   district); for such audits use a dedicated tool (τ-Argus).
3. **Rates** (percentages computed from counts) whose numerator or denominator is hidden
   are hidden too (``s``); a rate whose denominator is 0 or unknown is "not computable",
   shown as ``—``.
4. **Weekly series.** The cumulative value is shown only at weeks where it has moved by 0 or
   by 5 or more since the last shown week (the first week counts from 0); a week's own count
   is shown only when both it and the week before are shown cumulatively (it is then their
   difference, so it is 0 or ≥5). So no difference between shown figures is 1–4.
5. **Funnel stages** are nested (each stage is within the one before), not additive, so only
   the primary rule applies to them.
6. **Derived sums** (``Table.sums``: people reached = enrolled + anonymous attendees) have no
   line of their own: after rules 1–2, a derived cell is shown only where each of its parts is
   shown (it then tells nothing the parts do not), else hidden (``<5`` when 1–4, else ``s``).
   The hidden ones of a column add up to the sum of their rows' parts, which the parts'
   columns already give: nothing more can be worked out from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

SMALL_CELL_THRESHOLD = 5


class Masked(StrEnum):
    """A count hidden from audiences that may not see individuals; the value is what is shown."""

    SMALL = "<5"  # the count is between 1 and 4
    SECONDARY = "s"  # hidden so that a "<5" cannot be worked out by subtraction


Cell = int | Masked | None  # None: not available
RateCell = float | Masked | None  # a fraction (0.25 = 25 %); None: not computable


@dataclass(frozen=True)
class Row:
    label: str
    counts: tuple[Cell, ...]


@dataclass(frozen=True)
class Rate:
    """A percentage column: ``numerator`` / ``denominator`` (column indexes) in each row.

    ``denominator=None`` means the share of the column's total (the table's total row)."""

    label: str
    numerator: int
    denominator: int | None = None


@dataclass(frozen=True)
class Sum:
    """A count column whose every cell is the sum of ``parts`` (column indexes) in its row."""

    column: int
    parts: tuple[int, ...]


@dataclass(frozen=True)
class Table:
    title: str
    dimension: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    rates: tuple[Rate, ...] = ()
    total: Row | None = None  # the column totals, shown as a last row when given
    # The rows split the population (each person in one row): a column's total is known.
    rows_partition: bool = True
    # Index of a column that holds the sum of the row's other count columns.
    sum_column: int | None = None
    # Columns derived from others of the row (rule 6): checked against their parts, not hidden
    # through lines of their own.
    sums: tuple[Sum, ...] = ()

    def __post_init__(self) -> None:
        width = len(self.columns)
        for row in (*self.rows, *((self.total,) if self.total else ())):
            if len(row.counts) != width:
                raise ValueError(
                    f"table {self.title!r}: row {row.label!r} has {len(row.counts)} counts, "
                    f"expected {width} (one per column)"
                )
        for rate in self.rates:
            indexes = (rate.numerator, rate.denominator)
            if any(i is not None and not 0 <= i < width for i in indexes):
                raise ValueError(f"table {self.title!r}: rate {rate.label!r} names no column")
            if rate.denominator is None and self.total is None:
                raise ValueError(
                    f"table {self.title!r}: rate {rate.label!r} is a share of the column "
                    "total, so the table needs a total row"
                )
        if self.sum_column is not None and not 0 <= self.sum_column < width:
            raise ValueError(f"table {self.title!r}: sum_column names no column")
        for derived in self.sums:
            for column in (derived.column, *derived.parts):
                if not 0 <= column < width:
                    raise ValueError(f"table {self.title!r}: a derived sum names no column")
            for row in (*self.rows, *((self.total,) if self.total else ())):
                parts = [row.counts[c] for c in derived.parts]
                if all(isinstance(p, int) for p in parts) and row.counts[derived.column] != sum(
                    p for p in parts if isinstance(p, int)
                ):
                    raise ValueError(
                        f"table {self.title!r}: in row {row.label!r}, "
                        f"{self.columns[derived.column]!r} is not the sum of its parts"
                    )

    def rate_cells(self, row: Row) -> tuple[RateCell, ...]:
        """The rates of one row (or of the total row), computed from its shown counts."""
        return tuple(self._rate(rate, row) for rate in self.rates)

    def _rate(self, rate: Rate, row: Row) -> RateCell:
        numerator = row.counts[rate.numerator]
        if rate.denominator is None:
            assert self.total is not None  # checked in __post_init__
            denominator = self.total.counts[rate.numerator]
        else:
            denominator = row.counts[rate.denominator]
        if isinstance(numerator, Masked) or isinstance(denominator, Masked):
            return Masked.SECONDARY
        if numerator is None or not denominator:
            return None
        return numerator / denominator


@dataclass(frozen=True)
class ProgressTarget:
    indicator: str
    actual: Cell
    target: int
    baseline: int = 0  # where the indicator stood when the programme started
    forecast_date: date | None = None  # when the target is reached at the current pace

    @property
    def progress(self) -> float | None:
        """How far from baseline to target (0.0–1.0 and beyond); None when hidden."""
        if not isinstance(self.actual, int) or self.target == self.baseline:
            return None
        return (self.actual - self.baseline) / (self.target - self.baseline)


@dataclass(frozen=True)
class WeekPoint:
    label: str  # ISO week, "2026-W05"
    count: Cell  # what happened that week
    cumulative: Cell  # total at the end of the week


@dataclass(frozen=True)
class Series:
    title: str
    points: tuple[WeekPoint, ...]


def weekly_series(title: str, counts: Iterable[tuple[str, int]], start: int = 0) -> Series:
    """A series from per-week counts; ``start`` is the total before the first week."""
    points: list[WeekPoint] = []
    total = start
    for label, count in counts:
        total += count
        points.append(WeekPoint(label, count, total))
    return Series(title, tuple(points))


@dataclass(frozen=True)
class Funnel:
    title: str
    stages: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True)
class KeyFigures:
    """Headline counts shown beside the targets (people reached, and the counts it adds up),
    each a label key and its count; ``sums`` index ``figures`` as a table's columns."""

    figures: tuple[tuple[str, Cell], ...]
    sums: tuple[Sum, ...] = ()

    def as_table(self) -> Table:
        """One row, one column per figure: the shape :func:`suppress_table` checks."""
        return Table(
            "key_figures",
            "indicator",
            tuple(name for name, _ in self.figures),
            (Row("total", tuple(count for _, count in self.figures)),),
            rows_partition=False,
            sums=self.sums,
        )


@dataclass(frozen=True)
class ImpactReport:
    title: str
    scope_label: str
    generated_at: datetime
    freshness: str
    # The period the figures cover (from the programme's start to when they were taken).
    period: str = ""
    key_figures: KeyFigures | None = None
    targets: tuple[ProgressTarget, ...] = ()
    funnel: Funnel | None = None
    tables: tuple[Table, ...] = ()
    series: tuple[Series, ...] = ()
    notes: tuple[str, ...] = ()
    # Set by suppress(): the figures were prepared for an audience without individual access.
    suppressed: bool = field(default=False)


def suppress(report: ImpactReport, may_see_individuals: bool) -> ImpactReport:
    """The report as ``report``'s audience may see it (rules in this module's docstring)."""
    if may_see_individuals:
        return report
    return replace(
        report,
        key_figures=suppress_key_figures(report.key_figures) if report.key_figures else None,
        targets=tuple(replace(t, actual=_primary(t.actual)) for t in report.targets),
        funnel=(
            replace(
                report.funnel,
                stages=tuple((label, _primary(count)) for label, count in report.funnel.stages),
            )
            if report.funnel
            else None
        ),
        tables=tuple(suppress_table(table) for table in report.tables),
        series=tuple(suppress_series(series) for series in report.series),
        suppressed=True,
    )


def suppress_key_figures(key_figures: KeyFigures) -> KeyFigures:
    """Each figure by the primary rule, a derived one shown only with its parts (rule 6)."""
    table = suppress_table(key_figures.as_table())
    shown = zip(table.columns, table.rows[0].counts, strict=True)
    return replace(key_figures, figures=tuple(shown))


def _primary(count: Cell) -> Cell:
    if isinstance(count, int) and 0 < count < SMALL_CELL_THRESHOLD:
        return Masked.SMALL
    return count


Position = tuple[int, int]  # (row index, column index); the total row is len(rows)


def suppress_table(table: Table) -> Table:
    """The table with primary and secondary suppression applied."""
    grid = [list(row.counts) for row in table.rows]
    if table.total:
        grid.append(list(table.total.counts))
    shown: list[list[Cell]] = [[_primary(count) for count in counts] for counts in grid]
    lines = _lines(table)
    changed = True
    while changed:
        changed = False
        for parts, total in lines:
            if _pinned(grid, shown, parts, total):
                complement = _smallest_shown(grid, shown, parts)
                if complement is not None:
                    shown[complement[0]][complement[1]] = Masked.SECONDARY
                    changed = True
    for derived in table.sums:
        for counts, shown_counts in zip(grid, shown, strict=True):
            if not all(isinstance(shown_counts[c], int) for c in derived.parts):
                value = _value(counts[derived.column])
                small = 0 < value < SMALL_CELL_THRESHOLD
                shown_counts[derived.column] = Masked.SMALL if small else Masked.SECONDARY
    rows = tuple(replace(row, counts=tuple(shown[i])) for i, row in enumerate(table.rows))
    total_row = replace(table.total, counts=tuple(shown[-1])) if table.total else None
    return replace(table, rows=rows, total=total_row)


def _lines(table: Table) -> list[tuple[list[Position], Position | None]]:
    """Each additive line of the table: its parts, and its total cell when the table shows it."""
    n_rows, width = len(table.rows), len(table.columns)
    total_row = n_rows if table.total else None
    derived = {d.column for d in table.sums}
    lines: list[tuple[list[Position], Position | None]] = []
    if table.rows_partition:
        for column in range(width):
            if column == table.sum_column or column in derived:
                continue
            total = (total_row, column) if total_row is not None else None
            lines.append(([(r, column) for r in range(n_rows)], total))
    if table.sum_column is not None:
        parts = [c for c in range(width) if c != table.sum_column and c not in derived]
        for r in range(n_rows + (1 if table.total else 0)):
            lines.append(([(r, c) for c in parts], (r, table.sum_column)))
    return lines


def _pinned(
    grid: Sequence[Sequence[Cell]],
    shown: Sequence[Sequence[Cell]],
    parts: Sequence[Position],
    total: Position | None,
) -> bool:
    """Whether some hidden part of the line can be worked out to a single value.

    What a reader knows: each shown part; a range for each hidden part (``<5``: 1–4, ``s``:
    5 or more); and the line's sum — exact when it is 0 or 5 or more, else only 1–4, since
    the total row and the headline figures hide it then too."""
    hidden = [p for p in parts if isinstance(shown[p[0]][p[1]], Masked)]
    if not hidden:
        return False
    line_sum = sum(_value(grid[r][c]) for r, c in parts)
    if total is not None and shown[total[0]][total[1]] is Masked.SECONDARY:
        return False
    shown_sum = line_sum - sum(_value(grid[r][c]) for r, c in hidden)
    low_sum, high_sum = (
        _bounds(Masked.SMALL) if 0 < line_sum < SMALL_CELL_THRESHOLD else (line_sum, line_sum)
    )
    bounds = [_bounds(shown[r][c]) for r, c in hidden]
    for i, (low, high) in enumerate(bounds):
        others_low = sum(b[0] for j, b in enumerate(bounds) if j != i)
        others_high = sum(b[1] for j, b in enumerate(bounds) if j != i)
        least = max(low, low_sum - shown_sum - others_high)
        most = min(high, high_sum - shown_sum - others_low)
        if least >= most:
            return True
    return False


_UNBOUNDED = 10**12


def _bounds(cell: Cell) -> tuple[int, int]:
    if cell is Masked.SMALL:
        return (1, SMALL_CELL_THRESHOLD - 1)
    return (SMALL_CELL_THRESHOLD, _UNBOUNDED)  # a secondary cell is never 0 nor 1–4


def _value(cell: Cell) -> int:
    return cell if isinstance(cell, int) else 0


def _smallest_shown(
    grid: Sequence[Sequence[Cell]], shown: Sequence[Sequence[Cell]], parts: Sequence[Position]
) -> Position | None:
    candidates = [
        (_value(grid[r][c]), (r, c))
        for r, c in parts
        if isinstance(shown[r][c], int) and _value(grid[r][c]) > 0
    ]
    return min(candidates)[1] if candidates else None


def suppress_series(series: Series) -> Series:
    """The weekly series with rule 4 of this module's docstring applied."""
    points: list[WeekPoint] = []
    last_shown = 0
    previous_shown = True  # the start (0) is known
    for point in series.points:
        cumulative: Cell = point.cumulative
        if isinstance(cumulative, int):
            moved = cumulative - last_shown
            if 0 < moved < SMALL_CELL_THRESHOLD:
                small = cumulative < SMALL_CELL_THRESHOLD
                cumulative = Masked.SMALL if small else Masked.SECONDARY
            else:
                last_shown = cumulative
        this_shown = isinstance(cumulative, int)
        count: Cell = point.count
        if isinstance(count, int) and not (this_shown and previous_shown):
            count = Masked.SMALL if 0 < count < SMALL_CELL_THRESHOLD else Masked.SECONDARY
        points.append(WeekPoint(point.label, count, cumulative))
        previous_shown = this_shown
    return replace(series, points=tuple(points))
