"""CSV (one table) and XLSX (the whole report) renderers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

# --- CSV ----------------------------------------------------------------------------------
from services.reporting.exports.labels import (
    Lang,
    format_count,
    format_rate,
    header,
    label,
    legend,
    table_rows,
)
from services.reporting.report import (
    Cell,
    ImpactReport,
    Masked,
    RateCell,
    Table,
)


def to_csv(table: Table, lang: Lang = "fr") -> str:
    """One table as RFC 4180 CSV (see this module's docstring for the cell conventions)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header(table, lang))
    for row_label, counts, rates in table_rows(table):
        writer.writerow(
            [
                label(row_label, lang),
                *(format_count(count, "en").replace(",", "") for count in counts),
                *(_csv_rate(rate) for rate in rates),
            ]
        )
    return out.getvalue()


def _csv_rate(rate: RateCell) -> str:
    if isinstance(rate, float):
        return f"{rate * 100:.1f}"
    return format_rate(rate)


# --- XLSX ---------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F5F8B")
_TOTAL_FONT = Font(bold=True)
_COUNT_FORMAT = "#,##0"
_RATE_FORMAT = "0.0%"


def to_xlsx(report: ImpactReport, lang: Lang = "fr") -> bytes:
    """The report as a workbook: a summary sheet, then one sheet per table and per series."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    used: set[str] = set()
    summary.title = _sheet_title(label("summary", lang), used)
    _summary_sheet(summary, report, lang)
    for table in report.tables:
        sheet = book.create_sheet(_sheet_title(label(table.title, lang), used))
        _write_rows(
            sheet,
            1,
            header(table, lang),
            [
                [
                    label(row_label, lang),
                    *(_xlsx_count(c) for c in counts),
                    *(_xlsx_rate(r) for r in rates),
                ]
                for row_label, counts, rates in table_rows(table)
            ],
            rate_from=1 + len(table.columns),
            total_last=table.total is not None,
        )
    for series in report.series:
        sheet = book.create_sheet(_sheet_title(label(series.title, lang), used))
        _write_rows(
            sheet,
            1,
            [label("week", lang), label("weekly", lang), label("cumulative", lang)],
            [
                [point.label, _xlsx_count(point.count), _xlsx_count(point.cumulative)]
                for point in series.points
            ],
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _summary_sheet(sheet: Worksheet, report: ImpactReport, lang: Lang) -> None:
    sheet["A1"] = label(report.title, lang)
    sheet["A1"].font = Font(bold=True, size=14)
    meta: list[tuple[str, Any]] = [
        (label("scope", lang), label(report.scope_label, lang)),
        (label("period", lang), report.period),
        (label("generated_at", lang), report.generated_at.replace(tzinfo=None)),
        (label("freshness", lang), report.freshness),
    ]
    if report.suppressed:
        meta.append((label("anonymised_figures", lang), None))
    for offset, (name, value) in enumerate(meta):
        sheet.cell(row=2 + offset, column=1, value=name).font = _TOTAL_FONT
        cell = sheet.cell(row=2 + offset, column=2, value=value)
        if isinstance(value, datetime):
            cell.number_format = "dd/mm/yyyy hh:mm" if lang == "fr" else "yyyy-mm-dd hh:mm"
            cell.alignment = Alignment(horizontal="left")
    row = 2 + len(meta) + 1
    if report.key_figures:
        row = _write_rows(
            sheet,
            row,
            [label("indicator", lang), label("count", lang)],
            [[label(n, lang), _xlsx_count(c)] for n, c in report.key_figures.figures],
        )
        row += 1
    if report.targets:
        headers = ["indicator", "actual", "target", "baseline", "progress", "forecast"]
        body: list[list[Any]] = [
            [
                label(t.indicator, lang),
                _xlsx_count(t.actual),
                t.target,
                t.baseline,
                _xlsx_rate(t.progress),
                t.forecast_date,
            ]
            for t in report.targets
        ]
        row = _write_rows(sheet, row, [label(h, lang) for h in headers], body, rate_from=4)
        for r in range(row - len(body), row):
            sheet.cell(row=r, column=6).number_format = (
                "dd/mm/yyyy" if lang == "fr" else ("yyyy-mm-dd")
            )
        row += 1
    if report.funnel:
        row = _write_rows(
            sheet,
            row,
            [label("stage", lang), label("count", lang)],
            [[label(s, lang), _xlsx_count(c)] for s, c in report.funnel.stages],
        )
        row += 1
    for note in (*report.notes, *legend(report, lang)):
        sheet.cell(row=row, column=1, value=note)
        row += 1
    sheet.column_dimensions["A"].width = 40


def _write_rows(
    sheet: Worksheet,
    first_row: int,
    header: Sequence[str],
    body: Sequence[Sequence[Any]],
    rate_from: int | None = None,
    total_last: bool = False,
) -> int:
    """Write a header and rows from ``first_row``; returns the next free row."""
    for column, text in enumerate(header, start=1):
        cell = sheet.cell(row=first_row, column=column, value=text)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for offset, values in enumerate(body, start=1):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=first_row + offset, column=column, value=value)
            if isinstance(value, int | float) and column > 1:
                is_rate = rate_from is not None and column > rate_from
                cell.number_format = _RATE_FORMAT if is_rate else _COUNT_FORMAT
            elif column > 1:
                cell.alignment = Alignment(horizontal="right")
            if total_last and offset == len(body):
                cell.font = _TOTAL_FONT
    if first_row == 1:
        sheet.freeze_panes = "B2"
    for column, text in enumerate(header, start=1):
        letter = get_column_letter(column)
        widest = max([len(str(text)), *(len(str(v[column - 1])) for v in body if v)])
        current = sheet.column_dimensions[letter].width or 0
        sheet.column_dimensions[letter].width = max(current, min(widest + 2, 45), 10)
    return first_row + len(body) + 1


def _xlsx_count(cell: Cell) -> int | str | None:
    return cell.value if isinstance(cell, Masked) else cell


def _xlsx_rate(rate: RateCell) -> float | str:
    return rate if isinstance(rate, float) else format_rate(rate)


def _sheet_title(text: str, used: set[str]) -> str:
    """A valid, unique sheet name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in text)[:31].strip() or "Sheet"
    title, n = cleaned, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title, n = cleaned[: 31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title
