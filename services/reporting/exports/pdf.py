"""The PDF renderer (ReportLab): the same content and charts as the HTML page."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from reportlab.graphics import shapes
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)
from reportlab.platypus import Table as PdfTable
from reportlab.platypus import TableStyle as PdfTableStyle

from services.reporting.exports.charts import (
    MUTED,
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


def to_drawing(chart: Chart) -> shapes.Drawing:
    """The chart as a ReportLab drawing (y flipped: ReportLab's y points up)."""
    drawing = shapes.Drawing(chart.width, chart.height)
    h = chart.height
    for shape in chart.shapes:
        if isinstance(shape, Box):
            drawing.add(
                shapes.Rect(
                    shape.x,
                    h - shape.y - shape.height,
                    shape.width,
                    shape.height,
                    fillColor=colors.HexColor(shape.fill),
                    strokeColor=None,
                )
            )
        elif isinstance(shape, Text):
            drawing.add(
                shapes.String(
                    shape.x,
                    h - shape.y,
                    shape.text,
                    fontName="Helvetica-Bold" if shape.bold else "Helvetica",
                    fontSize=shape.size,
                    fillColor=colors.HexColor(shape.fill),
                    textAnchor=shape.anchor,
                )
            )
        else:
            flat = [v for x, y in shape.points for v in (x, h - y)]
            drawing.add(
                shapes.PolyLine(
                    flat, strokeColor=colors.HexColor(shape.stroke), strokeWidth=shape.width
                )
            )
    return drawing


def _fitted(drawing: shapes.Drawing, max_width: float, max_height: float) -> shapes.Drawing:
    factor = min(1.0, max_width / drawing.width, max_height / drawing.height)
    if factor < 1.0:
        drawing.scale(factor, factor)
        drawing.width *= factor
        drawing.height *= factor
    return drawing


def to_pdf(report: ImpactReport, lang: Lang = "fr") -> bytes:
    """The report as an A4 PDF with the same charts and tables as the HTML page."""
    out = io.BytesIO()
    title = label(report.title, lang)
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        subject=label(report.scope_label, lang),
        author=label("programme", lang),
        lang=lang,
    )

    def fit(chart: Chart) -> shapes.Drawing:
        # A chart with many rows (a year of months, every cohort) must still fit one page.
        return _fitted(to_drawing(chart), doc.width, doc.height * 0.6)

    styles = getSampleStyleSheet()
    heading = ParagraphStyle(
        "dn-h2", parent=styles["Heading2"], textColor=colors.HexColor("#1f5f8b")
    )
    small = ParagraphStyle(
        "dn-small", parent=styles["Normal"], fontSize=8, textColor=colors.HexColor(MUTED)
    )
    story: list[Any] = [
        Paragraph(escaped(title), styles["Title"]),
        *(Paragraph(escaped(line), styles["Normal"]) for line in meta_lines(report, lang)),
    ]
    if report.key_figures:
        figures = [[label(n, lang), format_count(c, lang)] for n, c in report.key_figures.figures]
        header = [label("indicator", lang), label("count", lang)]
        story += [
            Paragraph(escaped(label("key_figures", lang)), heading),
            _pdf_table(header, figures, total_last=False),
        ]
    if report.targets:
        story.append(Paragraph(escaped(label("targets", lang)), heading))
        for target in report.targets:
            story += [fit(progress_chart(target, lang)), Spacer(1, 6)]
    if report.funnel:
        funnel = report.funnel
        story.append(
            KeepTogether(
                [
                    Paragraph(escaped(label(funnel.title, lang)), heading),
                    fit(funnel_chart(funnel, lang)),
                ]
            )
        )
    for series in report.series:
        story.append(
            KeepTogether(
                [
                    Paragraph(escaped(label(series.title, lang)), heading),
                    fit(trend_chart(series, lang)),
                ]
            )
        )
    for table in report.tables:
        rows = [
            [
                label(row_label, lang),
                *(format_count(c, lang) for c in counts),
                *(format_rate(r, lang) for r in rates),
            ]
            for row_label, counts, rates in table_rows(table)
        ]
        story.append(
            KeepTogether(
                [
                    Paragraph(escaped(label(table.title, lang)), heading),
                    fit(table_chart(table, lang)),
                    Spacer(1, 6),
                    _pdf_table(header_cells_html(table, lang), rows, bool(table.total)),
                ]
            )
        )
    story.append(Spacer(1, 10))
    for note in (*report.notes, *legend(report, lang)):
        story.append(Paragraph(escaped(note), small))
    doc.build(story)
    return out.getvalue()


def _pdf_table(header: Sequence[str], body: Sequence[Sequence[str]], total_last: bool) -> PdfTable:
    header_style = ParagraphStyle(
        "dn-th", fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=colors.white
    )
    data: list[list[Any]] = [
        [Paragraph(escaped(h), header_style) for h in header],
        *map(list, body),
    ]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f5f8b")),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#cfd6dc")),
    ]
    if total_last:
        style.append(("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8))
    return PdfTable(data, repeatRows=1, hAlign="LEFT", style=PdfTableStyle(style))
