"""The impact report composed from the figures: targets, funnel, one table per breakdown,
weekly series, notes, and what funders see of it."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.reporting.domain import ALL
from services.reporting.exports import to_csv, to_html
from services.reporting.exports.labels import meta_lines
from services.reporting.figures import Impact, TargetsFile, impact
from services.reporting.impact_report import BREAKDOWNS, compose, for_audience, scope_label
from services.reporting.report import ImpactReport, Masked, Table

TARGETS = TargetsFile(
    targets={
        "trained": 500,
        "directed_to_employment": 50,
        "associations_upskilled": 5,
        "women_share_careers": 0.5,
    },
    baselines={"trained": 20},
    ends_on=date(2027, 12, 31),
)
TODAY = date(2026, 3, 12)  # ISO week 11
GENERATED = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)
DISTRICTS = {"qpv-saige": "Saige", "qpv-grand-parc": "Grand Parc", "qpv-benauge": "La Benauge"}
ASSOCIATIONS = {"asso-saige-en-ligne": "Saige en Ligne"}


def counter(dimension: str | None, value: str | None, **indicators: int) -> dict[str, object]:
    return {"scope": ALL, "dimension": dimension, "value": value, **indicators}


def people(enrolled: int, attended: int, trained: int, directed: int) -> dict[str, int]:
    return {
        "enrolled": enrolled,
        "attended": attended,
        "trained": trained,
        "directed_to_employment": directed,
    }


# 9 anonymous attendees of collective sessions: 7 in Saige, 2 in Grand Parc.
COUNTERS = [
    counter(
        None,
        None,
        **people(31, 25, 12, 4),
        career_workshop=9,
        referred=6,
        placed=5,
        anonymous_attendees=9,
    ),
    counter("district", "qpv-saige", **people(20, 16, 8, 3), anonymous_attendees=7),
    counter("district", "qpv-grand-parc", **people(8, 7, 4, 1), anonymous_attendees=2),
    counter("district", "qpv-lormont", **people(3, 2, 0, 0)),  # no name known: its id
    counter("district", "unknown", **people(0, 0, 0, 0)),  # moved once the enrolment came
    counter("association", "asso-saige-en-ligne", **people(31, 25, 12, 4), anonymous_attendees=9),
    counter("gender", "female", **people(17, 14, 7, 3)),
    counter("gender", "male", **people(12, 10, 5, 1)),
    counter("gender", "non_binary", **people(2, 1, 0, 0)),
    counter("age_band", "26_44", **people(21, 17, 9, 4)),
    counter("age_band", "18_25", **people(10, 8, 3, 0)),
    counter("track", "digital_inclusion", **people(25, 20, 12, 1)),
    counter("track", "digital_careers", **people(10, 9, 2, 3)),  # 4 people follow both
    counter("careers_gender", "female", **people(6, 6, 1, 2)),
    counter("careers_gender", "male", **people(4, 3, 1, 1)),
    counter("cohort", "2026-01", **people(19, 17, 10, 4)),
    counter("cohort", "2026-03", **people(12, 8, 2, 0)),
    counter("month", "2026-01", enrolled=19, attending_new=10),
    counter(
        "month", "2026-03", enrolled=12, attending_new=15, trained=12, directed_to_employment=4
    ),
    counter("week", "2026-W09", enrolled=6, trained=0),
    counter("week", "2026-W10", enrolled=20, trained=9),
    counter("week", "2026-W11", enrolled=5, trained=3),
]


def figures() -> Impact:
    return impact(ALL, COUNTERS, TARGETS, TODAY)


def report(lang: str = "en", **options: object) -> ImpactReport:
    return compose(
        figures(),
        districts=DISTRICTS,
        associations=ASSOCIATIONS,
        lang="en" if lang == "en" else "fr",
        generated_at=GENERATED,
        updated_at=datetime(2026, 3, 12, 9, 29, tzinfo=UTC),
        **options,  # type: ignore[arg-type]
    )


def table(composed: ImpactReport, dimension: str) -> Table:
    return next(t for t in composed.tables if t.dimension == dimension)


def rows(found: Table) -> list[tuple[str, tuple[object, ...]]]:
    return [(row.label, row.counts) for row in found.rows]


def test_one_table_per_breakdown_with_the_people_columns() -> None:
    composed = report()

    assert [t.dimension for t in composed.tables] == list(BREAKDOWNS)
    assert [t.title for t in composed.tables] == [
        "by_district", "by_association", "by_gender", "by_age_band", "by_track",
        "by_careers_gender", "by_cohort", "by_month",
    ]  # fmt: skip
    district = table(composed, "district")
    assert district.columns == ("enrolled", "attended", "trained", "directed_to_employment",
                                "anonymous_attendees", "people_reached")  # fmt: skip
    assert [r.label for r in district.rates] == ["attended_share", "training_rate"]
    gender = table(composed, "gender")  # a headcount has no gender
    assert gender.columns == ("enrolled", "attended", "trained", "directed_to_employment")


def test_district_rows_are_named_largest_first_and_empty_rows_are_left_out() -> None:
    district = table(report(), "district")

    assert rows(district) == [
        ("Saige", (20, 16, 8, 3, 7, 27)),
        ("Grand Parc", (8, 7, 4, 1, 2, 10)),
        ("qpv-lormont", (3, 2, 0, 0, 0, 3)),
    ]
    assert district.total is not None
    assert district.total.counts == (31, 25, 12, 4, 9, 40)
    assert district.rows_partition
    assert district.rate_cells(district.rows[0]) == pytest.approx((0.8, 0.4))


def test_people_reached_leads_the_key_figures_with_what_it_adds_up() -> None:
    composed = report()

    assert composed.key_figures is not None
    assert composed.key_figures.figures == (
        ("people_reached", 40), ("enrolled", 31), ("anonymous_attendees", 9),
    )  # fmt: skip
    association = table(composed, "association")
    assert rows(association) == [("Saige en Ligne", (31, 25, 12, 4, 9, 40))]
    assert any(note.startswith("Personnes touchées = inscrits") for note in report("fr").notes)


def test_funders_see_people_reached_only_beside_the_parts_it_adds_up() -> None:
    few = [{**c, "anonymous_attendees": 3} if c["dimension"] is None else c for c in COUNTERS]
    composed = compose(
        impact(ALL, few, TARGETS, TODAY), lang="en", generated_at=GENERATED, breakdowns=()
    )

    shown = for_audience(composed, may_see_individuals=False)

    assert shown.key_figures is not None
    # 34 − 31 would show the 3 anonymous attendees: people reached is hidden with them.
    assert shown.key_figures.figures == (
        ("people_reached", Masked.SECONDARY), ("enrolled", 31),
        ("anonymous_attendees", Masked.SMALL),
    )  # fmt: skip


def test_categories_keep_their_natural_order_and_genders_show_their_share() -> None:
    composed = report()

    assert [r.label for r in table(composed, "age_band").rows] == ["18_25", "26_44"]
    gender = table(composed, "gender")
    assert [r.label for r in gender.rows] == ["female", "male", "non_binary"]
    careers = table(composed, "careers_gender")
    assert careers.total is not None
    assert careers.total.counts == (10, 9, 2, 3)
    women = careers.rate_cells(careers.rows[0])
    assert women[0] == pytest.approx(0.6), "the women's share of the careers track"


def test_tracks_overlap_so_their_total_is_the_scope_s() -> None:
    track = table(report(), "track")

    assert rows(track) == [
        ("digital_inclusion", (25, 20, 12, 1)),
        ("digital_careers", (10, 9, 2, 3)),
    ]
    assert not track.rows_partition
    assert track.total is not None
    assert track.total.counts == (31, 25, 12, 4)


def test_cohorts_and_months_in_time_order_months_without_activity_kept() -> None:
    composed = report()

    assert rows(table(composed, "cohort")) == [
        ("2026-01", (19, 17, 10, 4)),
        ("2026-03", (12, 8, 2, 0)),
    ]
    month = table(composed, "month")
    assert month.columns == ("enrolled", "started_attending", "trained", "directed_to_employment")
    assert rows(month) == [
        ("2026-01", (19, 10, 0, 0)),
        ("2026-02", (0, 0, 0, 0)),
        ("2026-03", (12, 15, 12, 4)),
    ]
    assert month.total is not None
    assert month.total.counts == (31, 25, 12, 4)


def test_targets_funnel_and_weekly_series() -> None:
    composed = report()

    trained = composed.targets[0]
    assert (trained.indicator, trained.actual, trained.target, trained.baseline) == (
        "trained", 32, 500, 20,
    )  # fmt: skip
    assert trained.forecast_date is not None
    assert trained.forecast_date > TODAY
    assert composed.funnel is not None
    assert composed.funnel.stages[:5] == (
        ("enrolled", 31), ("attended", 25), ("trained", 12), ("career_workshop", 9),
        ("referred", 6),
    )  # fmt: skip
    enrolled, trained_series = composed.series
    assert (enrolled.title, trained_series.title) == ("enrolled_per_week", "trained_per_week")
    assert [(p.label, p.count, p.cumulative) for p in trained_series.points] == [
        ("2026-W09", 0, 20), ("2026-W10", 9, 29), ("2026-W11", 3, 32),
    ]  # fmt: skip
    assert [p.cumulative for p in enrolled.points] == [6, 26, 31]


def test_notes_define_the_indicators_and_the_freshness_is_stated() -> None:
    english, french = report("en"), report("fr")

    assert english.freshness == "Figures as of 2026-03-12 09:29"
    assert french.freshness == "Chiffres à jour au 12/03/2026 09:29"
    assert any(note.startswith("Trained: ") and "12 hours" in note for note in english.notes)
    assert any("50.0%" in note for note in english.notes), "the women's share target"
    assert any(note.startswith("Actual = baseline") for note in english.notes)
    assert english.scope_label == "Whole programme"


def test_the_report_names_its_scope_period_and_when_the_figures_were_taken() -> None:
    english = for_audience(report("en"), may_see_individuals=False)
    french = compose(
        impact(ALL, COUNTERS, replace(TARGETS, starts_on=date(2026, 1, 5)), TODAY),
        lang="fr",
        generated_at=GENERATED,
        updated_at=None,
    )

    # No start in the targets file: from the first week with activity (2026-W09).
    assert english.period == "2026-02-23 to 2026-03-12 (the programme ends on 2027-12-31)"
    assert french.period == "du 05/01/2026 au 12/03/2026 (fin du programme le 31/12/2027)"
    assert meta_lines(english, "en") == [
        "Scope: Whole programme",
        "Period: 2026-02-23 to 2026-03-12 (the programme ends on 2027-12-31)",
        "Figures taken on 2026-03-12 09:30 (UTC) · Figures as of 2026-03-12 09:29",
        'Anonymised figures: counts from 1 to 4 are shown as "<5".',
    ]
    assert meta_lines(french, "fr")[2:] == [
        "Chiffres extraits le 12/03/2026 09:30 (UTC) · Aucun évènement reçu pour l'instant"
    ]
    page = to_html(english, "en")
    assert '<p class="meta">Period: 2026-02-23 to 2026-03-12' in page


def test_a_scope_is_named_with_the_reference_names() -> None:
    names = {"district": DISTRICTS, "association": ASSOCIATIONS}

    assert scope_label("district:qpv-saige", names, "fr") == "Quartier\u00a0: Saige"
    assert scope_label("association:asso-x", names, "en") == "Association: asso-x"
    assert scope_label("track:digital_careers", names, "en") == "Track: Digital careers"


def test_chosen_breakdowns_only_and_unknown_ones_refused() -> None:
    assert [t.dimension for t in report(breakdowns=("gender",)).tables] == ["gender"]
    with pytest.raises(ValueError, match="known: district, association"):
        report(breakdowns=("postcode",))


def test_coordinators_see_every_count_exactly() -> None:
    exact = for_audience(report(), may_see_individuals=True)

    assert not exact.suppressed
    assert exact == report()


def test_funders_see_counts_under_five_as_below_five() -> None:
    shown = for_audience(report(), may_see_individuals=False)

    district = table(shown, "district")
    small, secondary = Masked.SMALL, Masked.SECONDARY
    assert shown.suppressed
    assert rows(district) == [
        ("Saige", (20, 16, secondary, small, secondary, secondary)),
        ("Grand Parc", (secondary, secondary, small, small, small, secondary)),
        ("qpv-lormont", (small, small, 0, 0, 0, small)),  # zeros stay exact
    ]
    # Secondary: beside each "<5" a second count of its column is hidden, so that the total
    # (31 enrolled) minus the shown counts cannot give it back. People reached is shown only
    # where enrolled and anonymous attendees both are.
    assert district.total is not None
    assert district.total.counts == (31, 25, 12, small, 9, 40)
    non_binary = table(shown, "gender").rows[2]
    assert non_binary.counts[:2] == (Masked.SMALL, Masked.SMALL)
    directed = shown.targets[1]
    assert directed.actual is Masked.SMALL
    assert directed.forecast_date is None
    assert shown.targets[0].actual == 32


def test_the_funder_s_csv_shows_below_five_and_the_html_has_charts() -> None:
    shown = for_audience(report(), may_see_individuals=False)

    lines = list(csv.reader(io.StringIO(to_csv(table(shown, "district"), "en"))))
    assert lines[0][:5] == ["District", "Enrolled", "Attended a session", "Trained",
                            "Directed towards employment"]  # fmt: skip
    assert lines[3][:5] == ["qpv-lormont", "<5", "<5", "0", "0"]
    assert lines[-1][:5] == ["Total", "31", "25", "12", "<5"]
    page = to_html(shown, "en")
    assert page.count("<svg") >= 10
    assert "Saige" in page
    assert "&lt;5" in page
