"""The HTML renderer: one self-contained printable page with inline SVG charts."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from services.reporting.exports.charts import (
    Box,
    Chart,
    Text,
    funnel_chart,
    progress_chart,
    table_chart,
    trend_chart,
)
from services.reporting.exports.labels import (
    Lang,
    escaped,
    format_count,
    format_date,
    format_rate,
    header_cells_html,
    label,
    legend,
    meta_lines,
    table_rows,
)
from services.reporting.report import (
    ImpactReport,
)

_CSS = """
body{font-family:"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2733;margin:2rem auto;
max-width:52rem;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;
border-bottom:2px solid #1f5f8b;padding-bottom:.2rem}
.meta{color:#5b6770;margin:0}figure{margin:1rem 0}svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #cfd6dc;padding:.25rem .5rem}th{background:#1f5f8b;color:#fff}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:700}
.legend{color:#5b6770;font-size:.85rem}
@media print{body{margin:0;max-width:none}section,figure,table{break-inside:avoid}
h2{break-after:avoid}}
"""


def to_html(report: ImpactReport, lang: Lang = "fr") -> str:
    """One self-contained printable page: figures in tables, charts as inline SVG."""
    parts: list[str] = []
    add = parts.append
    title = escape(label(report.title, lang))
    add(f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f"<title>{title} — {escape(label(report.scope_label, lang))}</title>")
    add(f"<style>{_CSS}</style>\n</head>\n<body>\n<header>")
    add(f"<h1>{title}</h1>")
    add("".join(f'<p class="meta">{escaped(line)}</p>' for line in meta_lines(report, lang)))
    add("</header>\n<main>")
    chart_ids = iter(range(1, 10_000))
    if report.key_figures:
        add(_section("s-key-figures", label("key_figures", lang)))
        add(
            _html_table(
                label("key_figures", lang),
                [label("indicator", lang), label("count", lang)],
                [[label(n, lang), format_count(c, lang)] for n, c in report.key_figures.figures],
            )
        )
        add("</section>")
    if report.targets:
        add(_section("s-targets", label("targets", lang)))
        for target in report.targets:
            add(_svg_figure(progress_chart(target, lang), next(chart_ids)))
        add(
            _html_table(
                label("targets", lang),
                [label(h, lang) for h in ("indicator", "actual", "target", "progress", "forecast")],
                [
                    [
                        label(t.indicator, lang),
                        format_count(t.actual, lang),
                        format_count(t.target, lang),
                        format_rate(t.progress, lang) if t.progress is not None else "—",
                        format_date(t.forecast_date, lang) if t.forecast_date else "—",
                    ]
                    for t in report.targets
                ],
            )
        )
        add("</section>")
    if report.funnel:
        funnel = report.funnel
        add(_section("s-funnel", label(funnel.title, lang)))
        add(_svg_figure(funnel_chart(funnel, lang), next(chart_ids)))
        add(
            _html_table(
                label(funnel.title, lang),
                [label("stage", lang), label("count", lang)],
                [[label(s, lang), format_count(c, lang)] for s, c in funnel.stages],
            )
        )
        add("</section>")
    for n, series in enumerate(report.series, start=1):
        name = label(series.title, lang)
        add(_section(f"s-trend-{n}", name))
        add(_svg_figure(trend_chart(series, lang), next(chart_ids)))
        add(
            _html_table(
                name,
                [label("week", lang), label("weekly", lang), label("cumulative", lang)],
                [
                    [p.label, format_count(p.count, lang), format_count(p.cumulative, lang)]
                    for p in series.points
                ],
            )
        )
        add("</section>")
    for n, table in enumerate(report.tables, start=1):
        name = label(table.title, lang)
        add(_section(f"s-table-{n}", name))
        add(_svg_figure(table_chart(table, lang), next(chart_ids)))
        body = [
            [
                label(row_label, lang),
                *(format_count(c, lang) for c in counts),
                *(format_rate(r, lang) for r in rates),
            ]
            for row_label, counts, rates in table_rows(table)
        ]
        add(_html_table(name, header_cells_html(table, lang), body, total_last=bool(table.total)))
        add("</section>")
    notes = [*report.notes, *legend(report, lang)]
    add(_section("s-notes", label("notes", lang)))
    add("".join(f'<p class="legend">{escaped(note)}</p>' for note in notes))
    add("</section>\n</main>\n</body>\n</html>\n")
    return "\n".join(parts)


def _section(anchor: str, heading: str) -> str:
    return f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">{escaped(heading)}</h2>'


def _html_table(
    caption: str, header: Sequence[str], body: Sequence[Sequence[str]], total_last: bool = False
) -> str:
    head = "".join(f'<th scope="col">{escaped(h)}</th>' for h in header)
    rows = []
    for i, values in enumerate(body):
        css = ' class="total"' if total_last and i == len(body) - 1 else ""
        first, *rest = values
        cells = "".join(f'<td class="n">{escaped(v)}</td>' for v in rest)
        rows.append(f'<tr{css}><th scope="row">{escaped(first)}</th>{cells}</tr>')
    return (
        f"<table><caption>{escaped(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _svg_figure(chart: Chart, number: int) -> str:
    return f"<figure>{to_svg(chart, f'chart-{number}')}</figure>"


def to_svg(chart: Chart, element_id: str = "chart") -> str:
    """The chart as an accessible inline SVG element (title and description for readers)."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {chart.width:.0f} {chart.height:.0f}" '
        f'width="{chart.width:.0f}" height="{chart.height:.0f}" '
        f'aria-labelledby="{element_id}-title {element_id}-desc" '
        f'font-family="Helvetica, Arial, sans-serif">',
        f'<title id="{element_id}-title">{escaped(chart.title)}</title>',
        f'<desc id="{element_id}-desc">{escaped(chart.description)}</desc>',
    ]
    for shape in chart.shapes:
        if isinstance(shape, Box):
            out.append(
                f'<rect x="{shape.x:.1f}" y="{shape.y:.1f}" width="{shape.width:.1f}" '
                f'height="{shape.height:.1f}" fill="{shape.fill}"/>'
            )
        elif isinstance(shape, Text):
            weight = ' font-weight="bold"' if shape.bold else ""
            content = escaped(shape.text)
            out.append(
                f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size:g}" '
                f'text-anchor="{shape.anchor}" fill="{shape.fill}"{weight}>{content}</text>'
            )
        else:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{shape.stroke}" '
                f'stroke-width="{shape.width:g}" stroke-linejoin="round"/>'
            )
    out.append("</svg>")
    return "".join(out)
