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
- **XLSX** (:func:`to_xlsx`): a summary sheet (key figures, targets, funnel, notes), one sheet
  per table and per weekly series; counts as numbers, rates as fractions in a percentage format.
- **HTML** (:func:`to_html`): one self-contained printable page (inline CSS, inline SVG
  charts, each with a title and a text alternative, and the figures in tables beside them).
- **PDF** (:func:`to_pdf`): the same content through ReportLab; the charts are drawn from
  the same geometry as the SVG ones (:func:`charts`), so both formats show the same picture.
"""

from services.reporting.exports.charts import Chart, charts
from services.reporting.exports.labels import (
    LABELS,
    NOT_COMPUTABLE,
    Lang,
    format_count,
    format_date,
    format_rate,
    label,
)
from services.reporting.exports.page import to_html, to_svg
from services.reporting.exports.pdf import to_drawing, to_pdf
from services.reporting.exports.tabular import to_csv, to_xlsx

__all__ = [
    "LABELS",
    "NOT_COMPUTABLE",
    "Chart",
    "Lang",
    "charts",
    "format_count",
    "format_date",
    "format_rate",
    "label",
    "to_csv",
    "to_drawing",
    "to_html",
    "to_pdf",
    "to_svg",
    "to_xlsx",
]
