"""Export renderers for impact reports: CSV, XLSX, HTML (inline SVG charts) and PDF.

Renderers show what the :class:`~services.reporting.report.ImpactReport` holds and never
decide what an audience may see: pass them the report returned by ``report.suppress``.
Labels are French by default, English with ``lang="en"``; the one label dictionary is
:data:`LABELS`, and a label that is not a key of it is shown as it is.

Formats:

- **CSV** (:func:`to_csv`, one table): RFC 4180 — comma separator, double-quote quoting,
  CRLF line ends, UTF-8 without BOM — so that any tool parses it. Counts are plain integers,
  rates are percentages with a dot decimal separator (``42.5``); hidden counts are ``<5`` or
  ``s``, not computable rates ``—``, unavailable counts empty. A French Excel opens CSV with
  ``;`` in mind: give such readers the XLSX.
- **XLSX** (:func:`to_xlsx`): a summary sheet (targets, funnel, notes), one sheet per table
  and per weekly series; counts as numbers, rates as fractions in a percentage format.
- **HTML** (:func:`to_html`): one self-contained printable page (inline CSS, inline SVG
  charts, each with a title and a text alternative, and the figures in tables beside them).
- **PDF** (:func:`to_pdf`): the same content through ReportLab; the charts are drawn from
  the same geometry as the SVG ones (:func:`charts`), so both formats show the same picture.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
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
from reportlab.platypus import (
    Table as PdfTable,
)
from reportlab.platypus import (
    TableStyle as PdfTableStyle,
)

from services.reporting.report import (
    Cell,
    Funnel,
    ImpactReport,
    Masked,
    ProgressTarget,
    RateCell,
    Series,
    Table,
)

Lang = Literal["fr", "en"]

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        # indicators
        "enrolled": "Inscrits",
        "trained": "Formés",
        "directed_to_employment": "Orientés vers l'emploi",
        "associations_upskilled": "Associations montées en compétence",
        "women_share_careers": "Part des femmes (parcours métiers)",
        "career_workshop": "Ateliers métiers suivis",
        "referred": "Orientés vers un partenaire",
        # tables and dimensions
        "by_district": "Par quartier",
        "by_association": "Par association",
        "by_gender": "Par genre",
        "by_age_band": "Par tranche d'âge",
        "by_track": "Par parcours",
        "by_careers_gender": "Parcours métiers du numérique, par genre",
        "district": "Quartier",
        "association": "Association",
        "gender": "Genre",
        "age_band": "Tranche d'âge",
        "track": "Parcours",
        "careers_gender": "Genre (parcours métiers)",
        "week": "Semaine",
        # dimension values
        "female": "Femmes",
        "male": "Hommes",
        "non_binary": "Non binaire",
        "undisclosed": "Non précisé",
        "unknown": "Inconnu",
        "digital_inclusion": "Inclusion numérique",
        "digital_careers": "Métiers du numérique",
        "under_18": "Moins de 18 ans",
        "18_25": "18–25 ans",
        "26_44": "26–44 ans",
        "45_64": "45–64 ans",
        "65_plus": "65 ans et plus",
        # rates
        "share": "Part",
        "training_rate": "Taux de formation",
        "employment_rate": "Taux d'orientation vers l'emploi",
        # series
        "enrolled_per_week": "Inscriptions par semaine",
        "trained_per_week": "Personnes formées par semaine",
        "weekly": "Dans la semaine",
        "cumulative": "Cumul",
        # page
        "impact_report": "Rapport d'impact",
        "programme": "Programme Quartiers Numériques",
        "scope": "Périmètre",
        "generated_at": "Généré le",
        "freshness": "Fraîcheur des données",
        "summary": "Synthèse",
        "targets": "Objectifs",
        "indicator": "Indicateur",
        "actual": "Réalisé",
        "target": "Objectif",
        "baseline": "Point de départ",
        "progress": "Avancement",
        "forecast": "Objectif atteint vers le",
        "funnel": "Parcours des bénéficiaires",
        "stage": "Étape",
        "count": "Effectif",
        "trend": "Évolution hebdomadaire",
        "total": "Total",
        "notes": "Notes",
        "of": "sur",
        "no_data": "aucune donnée",
        "legend_small": "<5 : effectif de 1 à 4, masqué pour protéger les personnes.",
        "legend_secondary": (
            "s : valeur masquée pour qu'un effectif <5 ne puisse pas être retrouvé par "
            "soustraction (ou taux calculé à partir d'un effectif masqué)."
        ),
        "legend_na": "— : non calculable (dénominateur nul ou inconnu).",
        "chart_table": "Diagramme en barres : {title}. {values}",
        "chart_progress": "{indicator} : {actual} {of} {target} ({progress}).",
        "chart_funnel": "Entonnoir : {values}",
        "chart_trend": "{title}, cumul par semaine : {values}",
        # impact report composed by services/reporting/impact_report.py
        "attended": "Venus en séance",
        "placed": "Sortie enregistrée",
        "in_post_6m": "En poste à 6 mois",
        "started_attending": "Première séance suivie",
        "attended_share": "Venus en séance (part des inscrits)",
        "by_cohort": "Par cohorte (mois d'inscription)",
        "by_month": "Par mois (date des faits)",
        "cohort": "Cohorte",
        "month": "Mois",
        "scope_all": "Ensemble du programme",
        "fresh_as_of": "Chiffres à jour au {moment}",
        "fresh_none": "Aucun évènement reçu pour l'instant",
        "note_enrolled": (
            "Inscrits : personnes inscrites par une association (les retraits restent comptés)."
        ),
        "note_attended": "Venus en séance : au moins une séance suivie (présent).",
        "note_trained": (
            "Formés : règle du service formation, par défaut au moins 4 séances suivies "
            "totalisant au moins 12 heures."
        ),
        "note_directed": (
            "Orientés vers l'emploi : une sortie de toute nature sauf « autre » (emploi durable, "
            "emploi de transition, sortie positive, classes de l'IAE)."
        ),
        "note_rates": (
            "Taux de formation = formés / inscrits ; venus en séance = venus / inscrits ; "
            "part = part du total de la colonne."
        ),
        "note_track": (
            "Parcours : une personne peut suivre les deux parcours ; ses lignes se recouvrent, "
            "le total compte chaque personne une fois."
        ),
        "note_periods": (
            "Cohorte : mois d'inscription, et ce que ces personnes ont atteint depuis. Par mois : "
            "mois où chaque étape a été atteinte (inscription, première séance, formation, "
            "orientation)."
        ),
        "note_unknown": "Inconnu : fait reçu avant l'inscription de la personne.",
        "note_baseline": (
            "Réalisé = point de départ (résultats antérieurs à la plateforme) + ce que la "
            "plateforme a compté."
        ),
        "note_women_target": (
            "Objectif de part des femmes dans le parcours métiers du numérique : {goal} "
            "(voir le tableau par genre de ce parcours)."
        ),
        "note_names_missing": (
            "Le service d'inscription n'a pas répondu : quartiers et associations sont "
            "désignés par leur identifiant."
        ),
    },
    "en": {
        "enrolled": "Enrolled",
        "trained": "Trained",
        "directed_to_employment": "Directed towards employment",
        "associations_upskilled": "Associations upskilled",
        "women_share_careers": "Share of women (digital careers track)",
        "career_workshop": "Attended a careers workshop",
        "referred": "Referred to a partner",
        "by_district": "By district",
        "by_association": "By association",
        "by_gender": "By gender",
        "by_age_band": "By age band",
        "by_track": "By track",
        "by_careers_gender": "Digital careers track, by gender",
        "district": "District",
        "association": "Association",
        "gender": "Gender",
        "age_band": "Age band",
        "track": "Track",
        "careers_gender": "Gender (careers track)",
        "week": "Week",
        "female": "Women",
        "male": "Men",
        "non_binary": "Non-binary",
        "undisclosed": "Undisclosed",
        "unknown": "Unknown",
        "digital_inclusion": "Digital inclusion",
        "digital_careers": "Digital careers",
        "under_18": "Under 18",
        "18_25": "18–25",
        "26_44": "26–44",
        "45_64": "45–64",
        "65_plus": "65 and over",
        "share": "Share",
        "training_rate": "Training rate",
        "employment_rate": "Directed-to-employment rate",
        "enrolled_per_week": "Enrolments per week",
        "trained_per_week": "People trained per week",
        "weekly": "In the week",
        "cumulative": "Cumulative",
        "impact_report": "Impact report",
        "programme": "Digital Neighbourhoods programme",
        "scope": "Scope",
        "generated_at": "Generated",
        "freshness": "Data freshness",
        "summary": "Summary",
        "targets": "Targets",
        "indicator": "Indicator",
        "actual": "Actual",
        "target": "Target",
        "baseline": "Baseline",
        "progress": "Progress",
        "forecast": "Target reached around",
        "funnel": "Beneficiary journey",
        "stage": "Stage",
        "count": "Count",
        "trend": "Weekly trend",
        "total": "Total",
        "notes": "Notes",
        "of": "of",
        "no_data": "no data",
        "legend_small": "<5: a count from 1 to 4, hidden to protect individuals.",
        "legend_secondary": (
            "s: hidden so that a count <5 cannot be worked out by subtraction (or a rate "
            "computed from a hidden count)."
        ),
        "legend_na": "—: not computable (zero or unknown denominator).",
        "chart_table": "Bar chart: {title}. {values}",
        "chart_progress": "{indicator}: {actual} {of} {target} ({progress}).",
        "chart_funnel": "Funnel: {values}",
        "chart_trend": "{title}, cumulative by week: {values}",
        "attended": "Attended a session",
        "placed": "Placement recorded",
        "in_post_6m": "In post after 6 months",
        "started_attending": "First session attended",
        "attended_share": "Attended (share of enrolled)",
        "by_cohort": "By cohort (month of enrolment)",
        "by_month": "By month (when it happened)",
        "cohort": "Cohort",
        "month": "Month",
        "scope_all": "Whole programme",
        "fresh_as_of": "Figures as of {moment}",
        "fresh_none": "No event received yet",
        "note_enrolled": "Enrolled: people enrolled by an association (withdrawals still count).",
        "note_attended": "Attended a session: present at one session at least.",
        "note_trained": (
            "Trained: the training service's rule, by default at least 4 sessions attended "
            "totalling at least 12 hours."
        ),
        "note_directed": (
            "Directed towards employment: a placement of any kind but 'other' (durable "
            "employment, transitional employment, positive exit: the IAE classes)."
        ),
        "note_rates": (
            "Training rate = trained / enrolled; attended = attended / enrolled; share = share "
            "of the column's total."
        ),
        "note_track": (
            "Track: a person may follow both tracks; the rows overlap and the total counts "
            "each person once."
        ),
        "note_periods": (
            "Cohort: the month of enrolment, and what those people reached since. By month: the "
            "month each stage was reached (enrolment, first session, trained, directed)."
        ),
        "note_unknown": "Unknown: a fact received before the person's enrolment.",
        "note_baseline": (
            "Actual = baseline (results before the platform) + what the platform counted."
        ),
        "note_women_target": (
            "Target share of women in the digital careers track: {goal} (see the table of that "
            "track by gender)."
        ),
        "note_names_missing": (
            "The registration service did not answer: districts and associations are shown "
            "by their ids."
        ),
    },
}

NOT_COMPUTABLE = "—"


def label(key: str, lang: Lang = "fr") -> str:
    """The text for ``key`` in ``lang``; text that is not a key is returned unchanged."""
    return LABELS[lang].get(key, key)


def format_count(cell: Cell, lang: Lang = "fr") -> str:
    if cell is None:
        return ""
    if isinstance(cell, Masked):
        return cell.value
    text = f"{cell:,}"
    return text.replace(",", "\u00a0") if lang == "fr" else text


def format_rate(rate: RateCell, lang: Lang = "fr") -> str:
    if rate is None:
        return NOT_COMPUTABLE
    if isinstance(rate, Masked):
        return rate.value
    text = f"{rate * 100:.1f}"
    return text.replace(".", ",") + "\u00a0%" if lang == "fr" else text + "%"


def format_date(moment: date, lang: Lang = "fr") -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")
    return moment.strftime("%d/%m/%Y" if lang == "fr" else "%Y-%m-%d")


def _header(table: Table, lang: Lang) -> list[str]:
    return [
        label(table.dimension, lang),
        *(label(column, lang) for column in table.columns),
        *(f"{label(rate.label, lang)} (%)" for rate in table.rates),
    ]


def _table_rows(table: Table) -> Iterator[tuple[str, tuple[Cell, ...], tuple[RateCell, ...]]]:
    for row in (*table.rows, *((table.total,) if table.total else ())):
        row_label = "total" if row is table.total else row.label
        yield row_label, row.counts, table.rate_cells(row)


# --- CSV ----------------------------------------------------------------------------------


def to_csv(table: Table, lang: Lang = "fr") -> str:
    """One table as RFC 4180 CSV (see this module's docstring for the cell conventions)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header(table, lang))
    for row_label, counts, rates in _table_rows(table):
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
            _header(table, lang),
            [
                [
                    label(row_label, lang),
                    *(_xlsx_count(c) for c in counts),
                    *(_xlsx_rate(r) for r in rates),
                ]
                for row_label, counts, rates in _table_rows(table)
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
    meta = [
        (label("scope", lang), label(report.scope_label, lang)),
        (label("generated_at", lang), report.generated_at.replace(tzinfo=None)),
        (label("freshness", lang), report.freshness),
    ]
    for offset, (name, value) in enumerate(meta):
        sheet.cell(row=2 + offset, column=1, value=name).font = _TOTAL_FONT
        cell = sheet.cell(row=2 + offset, column=2, value=value)
        if isinstance(value, datetime):
            cell.number_format = "dd/mm/yyyy hh:mm" if lang == "fr" else "yyyy-mm-dd hh:mm"
            cell.alignment = Alignment(horizontal="left")
    row = 6
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
    for note in (*report.notes, *_legend(report, lang)):
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


def _legend(report: ImpactReport, lang: Lang) -> list[str]:
    lines = [label("legend_small", lang), label("legend_secondary", lang)]
    return [*(lines if report.suppressed else []), label("legend_na", lang)]


# --- Chart geometry (shared by SVG and PDF) -----------------------------------------------

CHART_WIDTH = 480.0
_FONT = 9.0
_INK = "#1d2733"
_MUTED = "#5b6770"
_TRACK = "#e3e8ec"
_PALETTE = ("#1f5f8b", "#e07b39", "#4c9a6a", "#8e5ea2", "#c44e52")


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
    size: float = _FONT
    fill: str = _INK
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


def _text_width(text: str, size: float = _FONT) -> float:
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
        Box(left, top, right - left, height, _TRACK),
    ]
    if fill > 0:
        drawn.append(Box(left, top, (right - left) * fill, height, _PALETTE[0]))
    drawn.append(Text(left, top + height + 11, format_count(target.baseline, lang), size=8))
    drawn.append(
        Text(right, top + height + 11, format_count(target.target, lang), anchor="end", size=8)
    )
    if target.forecast_date:
        forecast = f"{label('forecast', lang)} {format_date(target.forecast_date, lang)}"
        drawn.append(Text(CHART_WIDTH / 2, top + height + 11, forecast, "middle", 8, _MUTED))
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
    legend_height = 16.0 if len(series_names) > 1 else 0.0
    label_width = min(170.0, max([_text_width(g) for g, _ in groups] + [40.0]) + 8)
    plot_left, plot_right = label_width, CHART_WIDTH - 40
    largest = max([c for _, cells in groups for c in cells if isinstance(c, int)] + [1])
    drawn: list[Shape] = []
    for i, name in enumerate(series_names if legend_height else ()):
        x = plot_left + i * 130
        drawn.append(Box(x, 3, 10, 10, _PALETTE[i % len(_PALETTE)]))
        drawn.append(Text(x + 14, 12, name, size=8))
    y = legend_height
    for group, cells in groups:
        group_height = bar * len(cells)
        drawn.append(Text(plot_left - 6, y + group_height / 2 + 3, group, anchor="end"))
        for i, cell in enumerate(cells):
            top = y + i * bar
            length = (plot_right - plot_left) * (cell / largest) if isinstance(cell, int) else 0
            if length > 0:
                colour = _PALETTE[i % len(_PALETTE)]
                drawn.append(Box(plot_left, top + 1, length, bar - 2, colour))
            shown = format_count(cell, lang) or "—"
            drawn.append(Text(plot_left + length + 3, top + bar - 3, shown, size=8))
        y += group_height + gap
    drawn.append(Line(((plot_left, legend_height), (plot_left, y - gap)), _MUTED, 0.75))
    values = "; ".join(
        group
        + _colon(lang)
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
        Box(left, 4, 10, 10, _PALETTE[0]),
        Text(left + 14, 13, label("cumulative", lang), size=8),
        Box(left + 110, 4, 10, 10, _PALETTE[1]),
        Text(left + 124, 13, label("weekly", lang), size=8),
        Line(((left, bottom), (right, bottom)), _MUTED, 0.75),
    ]
    if not points:
        drawn.append(Text(CHART_WIDTH / 2, bottom - 40, label("no_data", lang), "middle"))
        return Chart(title, label("no_data", lang), CHART_WIDTH, height, tuple(drawn))
    step = (right - left) / len(points)
    cumulatives = [p.cumulative for p in points if isinstance(p.cumulative, int)]
    counts = [p.count for p in points if isinstance(p.count, int)]
    top_value = max([*cumulatives, 1])
    count_scale = (bottom - top) * 0.35 / max([*counts, 1])
    drawn.append(Text(left - 4, top + 3, format_count(top_value, lang), "end", 8, _MUTED))
    drawn.append(Text(left - 4, bottom + 3, "0", "end", 8, _MUTED))
    line: list[tuple[float, float]] = []
    every = max(1, len(points) // 8)
    for i, point in enumerate(points):
        x = left + step * (i + 0.5)
        if isinstance(point.count, int) and point.count > 0:
            h = point.count * count_scale
            drawn.append(Box(x - step * 0.3, bottom - h, step * 0.6, h, _PALETTE[1]))
        elif isinstance(point.count, Masked):
            drawn.append(Text(x, bottom - 3, point.count.value, "middle", 7, _MUTED))
        if isinstance(point.cumulative, int):
            line.append((x, bottom - (bottom - top) * point.cumulative / top_value))
        if (len(points) - 1 - i) % every == 0:  # evenly spaced, ending on the last week
            drawn.append(Text(x, bottom + 12, point.label, "middle", 7, _MUTED))
    if len(line) > 1:
        drawn.append(Line(tuple(line), _PALETTE[0], 2))
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


# --- HTML ---------------------------------------------------------------------------------

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
    add(f'<p class="meta">{_h(_meta_line(report, lang))}</p>')
    add("</header>\n<main>")
    chart_ids = iter(range(1, 10_000))
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
            for row_label, counts, rates in _table_rows(table)
        ]
        add(_html_table(name, _header_html(table, lang), body, total_last=bool(table.total)))
        add("</section>")
    notes = [*report.notes, *_legend(report, lang)]
    add(_section("s-notes", label("notes", lang)))
    add("".join(f'<p class="legend">{_h(note)}</p>' for note in notes))
    add("</section>\n</main>\n</body>\n</html>\n")
    return "\n".join(parts)


def _section(anchor: str, heading: str) -> str:
    return f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">{_h(heading)}</h2>'


def _colon(lang: Lang) -> str:
    return "\u00a0: " if lang == "fr" else ": "


def _meta_line(report: ImpactReport, lang: Lang) -> str:
    return (
        f"{label('scope', lang)}{_colon(lang)}{label(report.scope_label, lang)} · "
        f"{label('generated_at', lang)} {format_date(report.generated_at, lang)} · "
        f"{report.freshness}"
    )


def _h(text: str) -> str:
    return escape(text, quote=True)


def _header_html(table: Table, lang: Lang) -> list[str]:
    return [
        label(table.dimension, lang),
        *(label(c, lang) for c in table.columns),
        *(label(r.label, lang) for r in table.rates),
    ]


def _html_table(
    caption: str, header: Sequence[str], body: Sequence[Sequence[str]], total_last: bool = False
) -> str:
    head = "".join(f'<th scope="col">{_h(h)}</th>' for h in header)
    rows = []
    for i, values in enumerate(body):
        css = ' class="total"' if total_last and i == len(body) - 1 else ""
        first, *rest = values
        cells = "".join(f'<td class="n">{_h(v)}</td>' for v in rest)
        rows.append(f'<tr{css}><th scope="row">{_h(first)}</th>{cells}</tr>')
    return (
        f"<table><caption>{_h(caption)}</caption><thead><tr>{head}</tr></thead>"
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
        f'<title id="{element_id}-title">{_h(chart.title)}</title>',
        f'<desc id="{element_id}-desc">{_h(chart.description)}</desc>',
    ]
    for shape in chart.shapes:
        if isinstance(shape, Box):
            out.append(
                f'<rect x="{shape.x:.1f}" y="{shape.y:.1f}" width="{shape.width:.1f}" '
                f'height="{shape.height:.1f}" fill="{shape.fill}"/>'
            )
        elif isinstance(shape, Text):
            weight = ' font-weight="bold"' if shape.bold else ""
            out.append(
                f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size:g}" '
                f'text-anchor="{shape.anchor}" fill="{shape.fill}"{weight}>{_h(shape.text)}</text>'
            )
        else:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{shape.stroke}" '
                f'stroke-width="{shape.width:g}" stroke-linejoin="round"/>'
            )
    out.append("</svg>")
    return "".join(out)


# --- PDF ----------------------------------------------------------------------------------


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
        "dn-small", parent=styles["Normal"], fontSize=8, textColor=colors.HexColor(_MUTED)
    )
    story: list[Any] = [
        Paragraph(_h(title), styles["Title"]),
        Paragraph(_h(_meta_line(report, lang)), styles["Normal"]),
    ]
    if report.targets:
        story.append(Paragraph(_h(label("targets", lang)), heading))
        for target in report.targets:
            story += [fit(progress_chart(target, lang)), Spacer(1, 6)]
    if report.funnel:
        funnel = report.funnel
        story.append(
            KeepTogether(
                [
                    Paragraph(_h(label(funnel.title, lang)), heading),
                    fit(funnel_chart(funnel, lang)),
                ]
            )
        )
    for series in report.series:
        story.append(
            KeepTogether(
                [
                    Paragraph(_h(label(series.title, lang)), heading),
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
            for row_label, counts, rates in _table_rows(table)
        ]
        story.append(
            KeepTogether(
                [
                    Paragraph(_h(label(table.title, lang)), heading),
                    fit(table_chart(table, lang)),
                    Spacer(1, 6),
                    _pdf_table(_header_html(table, lang), rows, bool(table.total)),
                ]
            )
        )
    story.append(Spacer(1, 10))
    for note in (*report.notes, *_legend(report, lang)):
        story.append(Paragraph(_h(note), small))
    doc.build(story)
    return out.getvalue()


def _pdf_table(header: Sequence[str], body: Sequence[Sequence[str]], total_last: bool) -> PdfTable:
    header_style = ParagraphStyle(
        "dn-th", fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=colors.white
    )
    data: list[list[Any]] = [[Paragraph(_h(h), header_style) for h in header], *map(list, body)]
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
