"""Impact report exports: small-cell suppression, and the CSV, XLSX, HTML and PDF renderers."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader

from services.reporting.exports import to_csv, to_html, to_pdf, to_xlsx
from services.reporting.report import (
    Cell,
    Funnel,
    ImpactReport,
    Masked,
    ProgressTarget,
    Rate,
    Row,
    Table,
    suppress,
    suppress_series,
    suppress_table,
    weekly_series,
)

DISTRICTS = ("Quartier A", "Quartier B", "Quartier C", "Quartier D", "Quartier E")


def district_table() -> Table:
    # Quartier C has 3 people directed to employment: the one small cell of that column.
    counts = ((120, 61, 12), (95, 40, 9), (88, 37, 3), (70, 33, 11), (52, 29, 8))
    rows = tuple(Row(name, c) for name, c in zip(DISTRICTS, counts, strict=True))
    total = Row("total", tuple(sum(c[i] for c in counts) for i in range(3)))
    return Table(
        title="by_district",
        dimension="district",
        columns=("enrolled", "trained", "directed_to_employment"),
        rows=rows,
        rates=(Rate("training_rate", 1, 0),),
        total=total,
    )


def gender_table() -> Table:
    rows = (
        Row("female", (58, 17)),
        Row("male", (41, 26)),
        Row("non_binary", (2, 0)),
        Row("undisclosed", (0, 0)),
    )
    return Table(
        title="by_careers_gender",
        dimension="gender",
        columns=("enrolled", "directed_to_employment"),
        rows=rows,
        rates=(Rate("share", 0),),
        total=Row("total", (101, 43)),
    )


def sample_report() -> ImpactReport:
    return ImpactReport(
        title="impact_report",
        scope_label="Programme (5 associations)",
        generated_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        freshness="Données à jour à 09:29:58",
        targets=(
            ProgressTarget("trained", 200, 500, forecast_date=date(2026, 11, 16)),
            ProgressTarget("directed_to_employment", 43, 50),
            ProgressTarget("associations_upskilled", 2, 5),
        ),
        funnel=Funnel(
            "funnel",
            (("enrolled", 425), ("trained", 200), ("career_workshop", 57), ("referred", 4)),
        ),
        tables=(district_table(), gender_table()),
        series=(
            weekly_series(
                "trained_per_week",
                [("2026-W01", 20), ("2026-W02", 25), ("2026-W03", 2), ("2026-W04", 153)],
            ),
        ),
        notes=("Chiffres générés pour les tests.",),
    )


def cells(table: Table) -> list[list[Cell]]:
    return [list(row.counts) for row in (*table.rows, *((table.total,) if table.total else ()))]


# --- suppression --------------------------------------------------------------------------


def test_counts_from_one_to_four_are_shown_as_below_five_for_funders() -> None:
    report = suppress(sample_report(), may_see_individuals=False)
    quartier_c = report.tables[0].rows[2]
    assert quartier_c.counts[2] is Masked.SMALL
    assert report.targets[2].actual is Masked.SMALL
    assert dict(report.funnel.stages if report.funnel else ())["referred"] is Masked.SMALL
    assert report.tables[1].rows[2].counts[0] is Masked.SMALL
    assert report.suppressed


def test_zero_and_counts_of_five_or_more_stay_exact() -> None:
    report = suppress(sample_report(), may_see_individuals=False)
    assert report.targets[0].actual == 200
    assert report.targets[1].actual == 43
    assert report.tables[1].rows[3].counts == (0, 0)
    assert report.tables[1].rows[2].counts[1] == 0
    assert report.tables[0].rows[0].counts[:2] == (120, 61)
    assert report.tables[0].total == district_table().total


def test_a_single_small_cell_brings_the_next_smallest_of_its_column_with_it() -> None:
    table = suppress_table(district_table())
    column = [row.counts[2] for row in table.rows]
    # 3 alone would be the total (43) minus the others; 8 (the next smallest) hides with it.
    assert column == [12, 9, Masked.SMALL, 11, Masked.SECONDARY]
    assert table.total is not None
    assert table.total.counts[2] == 43


def test_two_small_cells_that_would_pin_each_other_bring_a_third() -> None:
    table = Table(
        "by_district",
        "district",
        ("enrolled",),
        tuple(Row(name, (n,)) for name, n in zip(DISTRICTS, (1, 1, 30, 9, 12), strict=True)),
    )
    shown = [row.counts[0] for row in suppress_table(table).rows]
    # 1 + 1 = 2 pins both "<5" to 1; 9, the smallest shown, is hidden too.
    assert shown == [Masked.SMALL, Masked.SMALL, 30, Masked.SECONDARY, 12]


def test_a_row_total_column_protects_small_cells_along_the_row() -> None:
    table = Table(
        "by_district",
        "district",
        ("female", "male", "non_binary", "total"),
        (Row("Quartier A", (30, 25, 2, 57)), Row("Quartier B", (20, 18, 0, 38))),
        rows_partition=False,
        sum_column=3,
    )
    row = suppress_table(table).rows[0]
    assert row.counts == (30, Masked.SECONDARY, Masked.SMALL, 57)


def test_rates_from_hidden_counts_are_hidden_and_a_zero_denominator_is_not_computable() -> None:
    table = suppress_table(gender_table())
    assert table.rate_cells(table.rows[0]) == (58 / 101,)
    assert table.rate_cells(table.rows[2]) == (Masked.SECONDARY,)
    zero = Table("t", "gender", ("enrolled", "trained"), (Row("x", (0, 0)),), (Rate("r", 1, 0),))
    assert zero.rate_cells(zero.rows[0]) == (None,)


def test_coordinators_see_the_exact_figures() -> None:
    report = sample_report()
    assert suppress(report, may_see_individuals=True) == report
    html = to_html(report)
    assert "<5" not in html.replace("&lt;5 :", "")  # no hidden cell, no legend for them
    assert ">3<" in html


def test_weekly_series_hides_cumulative_moves_and_weeks_between_one_and_four() -> None:
    series = weekly_series("enrolled_per_week", [("W1", 3), ("W2", 4), ("W3", 0), ("W4", 9)])
    shown = suppress_series(series).points
    assert [p.cumulative for p in shown] == [Masked.SMALL, 7, 7, 16]
    assert [p.count for p in shown] == [Masked.SMALL, Masked.SMALL, 0, 9]


def _recoverable(original: list[list[Cell]], shown: list[list[Cell]]) -> bool:
    """Brute force: is some hidden cell of a column the only value consistent with what is
    shown, knowing the column total (exact when 0 or ≥5, else 1–4), that "<5" is 1–4 and
    that "s" is 5 or more? Columns where every non-zero cell is hidden are left out: no
    further cell could be hidden there (the documented limit)."""
    for column in range(len(original[0])):
        values = [v if isinstance(v, int) else 0 for v in (r[column] for r in original)]
        hidden = [i for i, r in enumerate(shown) if isinstance(r[column], Masked)]
        if not hidden or all(v == 0 for i, v in enumerate(values) if i not in hidden):
            continue
        total = sum(values)
        totals = range(1, 5) if 0 < total < 5 else range(total, total + 1)
        shown_sum = sum(v for i, v in enumerate(values) if i not in hidden)
        ranges = [
            range(1, 5) if shown[i][column] is Masked.SMALL else range(5, total + 1) for i in hidden
        ]
        solutions = [s for s in itertools.product(*ranges) if shown_sum + sum(s) in totals]
        for position in range(len(hidden)):
            if len({s[position] for s in solutions}) == 1:
                return True
    return False


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 25), min_size=2, max_size=2),
        min_size=2,
        max_size=5,
    )
)
def test_no_hidden_cell_can_be_recovered_from_its_column_total(counts: list[list[int]]) -> None:
    table = Table(
        "t",
        "district",
        ("enrolled", "trained"),
        tuple(Row(f"Quartier {i}", tuple(c)) for i, c in enumerate(counts)),
    )
    shown = cells(suppress_table(table))
    original = cells(table)
    for before, after in zip(itertools.chain(*original), itertools.chain(*shown), strict=True):
        assert after == before or isinstance(after, Masked)
        assert not (isinstance(after, int) and 0 < after < 5)
        if isinstance(before, int) and 0 < before < 5:
            assert after is Masked.SMALL
    assert not _recoverable(original, shown)


@given(st.lists(st.integers(0, 12), min_size=1, max_size=12))
def test_no_difference_between_shown_weekly_figures_is_between_one_and_four(
    weekly: list[int],
) -> None:
    series = suppress_series(weekly_series("s", [(f"W{i}", n) for i, n in enumerate(weekly)]))
    shown = [0, *(p.cumulative for p in series.points if isinstance(p.cumulative, int))]
    for a, b in itertools.combinations(shown, 2):
        assert not 0 < b - a < 5
    for point in series.points:
        assert not (isinstance(point.count, int) and 0 < point.count < 5)


def test_a_table_rejects_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="expected 2"):
        Table("t", "district", ("enrolled", "trained"), (Row("Quartier A", (1,)),))


# --- renderers ----------------------------------------------------------------------------


def test_csv_round_trips_through_the_csv_module() -> None:
    table = suppress_table(district_table())
    parsed = list(csv.reader(io.StringIO(to_csv(table))))
    assert parsed[0] == [
        "Quartier",
        "Inscrits",
        "Formés",
        "Orientés vers l'emploi",
        "Taux de formation (%)",
    ]
    body = parsed[1:]
    assert [r[0] for r in body] == [*DISTRICTS, "Total"]
    for line, row in zip(body, (*table.rows, table.total), strict=True):
        assert row is not None
        expected = [c.value if isinstance(c, Masked) else str(c) for c in row.counts]
        assert line[1:4] == expected
    assert body[0][4] == "50.8"  # 61 / 120
    assert body[2][4] == "42.0"  # 37 / 88
    assert to_csv(table, lang="en").splitlines()[0].startswith("District,Enrolled,Trained")


def test_xlsx_has_a_summary_and_one_sheet_per_table_with_hidden_cells_as_below_five() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(suppress(sample_report(), False))))
    assert book.sheetnames == [
        "Synthèse",
        "Par quartier",
        "Parcours métiers du numérique,",
        "Personnes formées par semaine",
    ]
    districts = book["Par quartier"]
    assert [c.value for c in districts[1]][:4] == [
        "Quartier",
        "Inscrits",
        "Formés",
        "Orientés vers l'emploi",
    ]
    assert [c.value for c in districts[4]][:4] == ["Quartier C", 88, 37, "<5"]
    assert districts["B2"].number_format == "#,##0"
    assert districts["E2"].number_format == "0.0%"
    summary = book["Synthèse"]
    values = [c.value for row in summary.iter_rows() for c in row]
    assert "Formés" in values
    assert 200 in values
    assert 500 in values
    assert "<5" in values


def test_html_shows_the_figures_with_one_svg_per_chart_and_no_hidden_value() -> None:
    report = suppress(sample_report(), may_see_individuals=False)
    html = to_html(report)
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="fr">' in html
    # 3 targets, the funnel, the weekly series, 2 tables.
    assert html.count("<svg") == 7
    assert html.count("<title id=") == 7
    assert html.count("<desc id=") == 7
    for figure in ("200", "500", "43", "Quartier C", "Formés", "&lt;5", "Orientés vers l"):
        assert figure in html
    # Hidden: 3 directed in Quartier C, 8 directed in Quartier E (secondary), 2 associations.
    assert not re.search(r">\s*(3|8|2)\s*<", html)
    assert "Quartier C : Inscrits 88, Formés 37, Orientés vers l'emploi &lt;5" in html.replace(
        "\u00a0", " "
    ).replace("&#x27;", "'")
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_html_in_english_uses_english_labels() -> None:
    html = to_html(suppress(sample_report(), False), lang="en")
    assert '<html lang="en">' in html
    assert "Directed towards employment" in html
    assert "Inscrits" not in html
    assert "40.0%" in html  # 200 / 500


def test_pdf_has_the_headline_figures_in_its_text() -> None:
    pdf = to_pdf(suppress(sample_report(), may_see_individuals=False))
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    for figure in ("Rapport d'impact", "Formés", "200 / 500", "43 / 50", "<5", "Quartier E"):
        assert figure in text
    assert reader.metadata is not None
    assert reader.metadata.title == "Rapport d'impact"


def test_a_pdf_with_a_long_breakdown_still_fits_its_charts_on_the_page() -> None:
    months = tuple(Row(f"2026-{n:02d}", (20 + n, n)) for n in range(1, 13)) + tuple(
        Row(f"2027-{n:02d}", (30 + n, n)) for n in range(1, 13)
    )
    long_table = Table(
        title="by_cohort",
        dimension="cohort",
        columns=("enrolled", "trained"),
        rows=months,
        total=Row("total", (sum(r.counts[0] for r in months), sum(r.counts[1] for r in months))),
    )
    report = dataclasses.replace(sample_report(), tables=(long_table,))

    pdf = to_pdf(report)

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "2027-12" in text
