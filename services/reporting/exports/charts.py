"""Chart geometry shared by the SVG and PDF renderers: boxes, texts and lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.reporting.exports.labels import (
    Lang,
    colon,
    format_count,
    format_date,
    format_rate,
    label,
)
from services.reporting.report import (
    Cell,
    Funnel,
    ImpactReport,
    Masked,
    ProgressTarget,
    Series,
    Table,
)

CHART_WIDTH = 480.0
FONT = 9.0
INK = "#1d2733"
MUTED = "#5b6770"
TRACK = "#e3e8ec"
PALETTE = ("#1f5f8b", "#e07b39", "#4c9a6a", "#8e5ea2", "#c44e52", "#2b8a8a")


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    text: str
    anchor: Literal["start", "middle", "end"] = "start"
    size: float = FONT
    fill: str = INK
    bold: bool = False


@dataclass(frozen=True)
class Line:
    points: tuple[tuple[float, float], ...]
    stroke: str
    width: float = 1.5


Shape = Box | Text | Line


@dataclass(frozen=True)
class Chart:
    """A chart as shapes in a ``width`` × ``height`` box, y pointing down (as in SVG)."""

    title: str
    description: str  # the text alternative: every figure the chart shows
    width: float
    height: float
    shapes: tuple[Shape, ...]


def text_width(text: str, size: float = FONT) -> float:
    return len(text) * size * 0.55


def progress_chart(target: ProgressTarget, lang: Lang) -> Chart:
    """A bar from baseline to target, filled up to the actual figure."""
    name = label(target.indicator, lang)
    actual = format_count(target.actual, lang)
    progress = format_rate(target.progress, lang) if target.progress is not None else "—"
    left, right, top, height = 0.0, CHART_WIDTH, 18.0, 16.0
    fill = max(0.0, min(1.0, target.progress or 0.0))
    headline = f"{actual} / {format_count(target.target, lang)}"
    if target.progress is not None:
        headline += f" — {progress}"
    drawn: list[Shape] = [
        Text(left, 12, name, bold=True, size=10),
        Text(right, 12, headline, anchor="end", size=10),
        Box(left, top, right - left, height, TRACK),
    ]
    if fill > 0:
        drawn.append(Box(left, top, (right - left) * fill, height, PALETTE[0]))
    drawn.append(Text(left, top + height + 11, format_count(target.baseline, lang), size=8))
    drawn.append(
        Text(right, top + height + 11, format_count(target.target, lang), anchor="end", size=8)
    )
    if target.forecast_date:
        forecast = f"{label('forecast', lang)} {format_date(target.forecast_date, lang)}"
        drawn.append(Text(CHART_WIDTH / 2, top + height + 11, forecast, "middle", 8, MUTED))
    description = label("chart_progress", lang).format(
        indicator=name,
        actual=actual,
        of=label("of", lang),
        target=format_count(target.target, lang),
        progress=progress,
    )
    return Chart(name, description, CHART_WIDTH, top + height + 16, tuple(drawn))


def bar_chart(
    title: str,
    groups: Sequence[tuple[str, Sequence[Cell]]],
    series_names: Sequence[str],
    lang: Lang,
) -> Chart:
    """Horizontal bars: one group per row label, one bar per series; hidden counts get no bar."""
    bar, gap = 12.0, 8.0
    label_width = min(170.0, max([text_width(g) for g, _ in groups] + [40.0]) + 8)
    plot_left, plot_right = label_width, CHART_WIDTH - 40
    largest = max([c for _, cells in groups for c in cells if isinstance(c, int)] + [1])
    drawn: list[Shape] = []
    legend_height = 0.0
    if len(series_names) > 1:  # the legend flows onto as many lines as it needs
        x, line_top = plot_left, 0.0
        for i, name in enumerate(series_names):
            width = 14 + text_width(name, 8) + 16
            if x > plot_left and x + width > CHART_WIDTH:
                x, line_top = plot_left, line_top + 16
            drawn.append(Box(x, line_top + 3, 10, 10, PALETTE[i % len(PALETTE)]))
            drawn.append(Text(x + 14, line_top + 12, name, size=8))
            x += width
        legend_height = line_top + 16
    y = legend_height
    for group, cells in groups:
        group_height = bar * len(cells)
        drawn.append(Text(plot_left - 6, y + group_height / 2 + 3, group, anchor="end"))
        for i, cell in enumerate(cells):
            top = y + i * bar
            length = (plot_right - plot_left) * (cell / largest) if isinstance(cell, int) else 0
            if length > 0:
                colour = PALETTE[i % len(PALETTE)]
                drawn.append(Box(plot_left, top + 1, length, bar - 2, colour))
            shown = format_count(cell, lang) or "—"
            drawn.append(Text(plot_left + length + 3, top + bar - 3, shown, size=8))
        y += group_height + gap
    drawn.append(Line(((plot_left, legend_height), (plot_left, y - gap)), MUTED, 0.75))
    values = "; ".join(
        group
        + colon(lang)
        + ", ".join(
            f"{name} {format_count(c, lang) or '—'}".strip()
            for name, c in zip(series_names, cells, strict=True)
        )
        for group, cells in groups
    )
    return Chart(title, values, CHART_WIDTH, y, tuple(drawn))


def table_chart(table: Table, lang: Lang) -> Chart:
    title = label(table.title, lang)
    chart = bar_chart(
        title,
        [(label(row.label, lang), row.counts) for row in table.rows],
        [label(column, lang) for column in table.columns],
        lang,
    )
    description = label("chart_table", lang).format(title=title, values=chart.description)
    return Chart(title, description, chart.width, chart.height, chart.shapes)


def funnel_chart(funnel: Funnel, lang: Lang) -> Chart:
    title = label(funnel.title, lang)
    chart = bar_chart(title, [(label(s, lang), (c,)) for s, c in funnel.stages], [""], lang)
    values = ", ".join(f"{label(s, lang)} {format_count(c, lang)}" for s, c in funnel.stages)
    description = label("chart_funnel", lang).format(values=values)
    return Chart(title, description, chart.width, chart.height, chart.shapes)


def trend_chart(series: Series, lang: Lang) -> Chart:
    """The cumulative line over weekly bars; hidden points are left out (the line bridges)."""
    title = label(series.title, lang)
    left, right, top, bottom = 40.0, CHART_WIDTH - 10, 22.0, 150.0
    height = bottom + 30
    points = series.points
    drawn: list[Shape] = [
        Box(left, 4, 10, 10, PALETTE[0]),
        Text(left + 14, 13, label("cumulative", lang), size=8),
        Box(left + 110, 4, 10, 10, PALETTE[1]),
        Text(left + 124, 13, label("weekly", lang), size=8),
        Line(((left, bottom), (right, bottom)), MUTED, 0.75),
    ]
    if not points:
        drawn.append(Text(CHART_WIDTH / 2, bottom - 40, label("no_data", lang), "middle"))
        return Chart(title, label("no_data", lang), CHART_WIDTH, height, tuple(drawn))
    step = (right - left) / len(points)
    cumulatives = [p.cumulative for p in points if isinstance(p.cumulative, int)]
    counts = [p.count for p in points if isinstance(p.count, int)]
    top_value = max([*cumulatives, 1])
    count_scale = (bottom - top) * 0.35 / max([*counts, 1])
    drawn.append(Text(left - 4, top + 3, format_count(top_value, lang), "end", 8, MUTED))
    drawn.append(Text(left - 4, bottom + 3, "0", "end", 8, MUTED))
    line: list[tuple[float, float]] = []
    every = max(1, len(points) // 8)
    for i, point in enumerate(points):
        x = left + step * (i + 0.5)
        if isinstance(point.count, int) and point.count > 0:
            h = point.count * count_scale
            drawn.append(Box(x - step * 0.3, bottom - h, step * 0.6, h, PALETTE[1]))
        elif isinstance(point.count, Masked):
            drawn.append(Text(x, bottom - 3, point.count.value, "middle", 7, MUTED))
        if isinstance(point.cumulative, int):
            line.append((x, bottom - (bottom - top) * point.cumulative / top_value))
        if (len(points) - 1 - i) % every == 0:  # evenly spaced, ending on the last week
            drawn.append(Text(x, bottom + 12, point.label, "middle", 7, MUTED))
    if len(line) > 1:
        drawn.append(Line(tuple(line), PALETTE[0], 2))
    if line:
        last = next(p for p in reversed(points) if isinstance(p.cumulative, int))
        x, y = line[-1]
        drawn.append(Text(x, y - 6, format_count(last.cumulative, lang), "end", 8, bold=True))
    values = ", ".join(
        f"{p.label} {format_count(p.cumulative, lang)} "
        f"({label('weekly', lang).lower()} {format_count(p.count, lang)})"
        for p in points
    )
    description = label("chart_trend", lang).format(title=title, values=values)
    return Chart(title, description, CHART_WIDTH, height, tuple(drawn))


def charts(report: ImpactReport, lang: Lang = "fr") -> list[Chart]:
    """Every chart of the report, in page order."""
    return [
        *(progress_chart(target, lang) for target in report.targets),
        *((funnel_chart(report.funnel, lang),) if report.funnel else ()),
        *(trend_chart(series, lang) for series in report.series),
        *(table_chart(table, lang) for table in report.tables),
    ]
