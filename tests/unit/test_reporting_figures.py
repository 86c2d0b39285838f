"""The impact answer: totals, rates, women's share, funnel, weekly history and forecasts."""

from __future__ import annotations

from datetime import date

import pytest

from services.reporting.domain import ALL
from services.reporting.figures import Figures, TargetsFile, impact, week_range

TARGETS = TargetsFile(
    targets={"trained": 500, "directed_to_employment": 50, "associations_upskilled": 5},
    baselines={"trained": 20},
    ends_on=date(2027, 12, 31),
)
TODAY = date(2026, 11, 26)  # a Thursday of ISO week 48


def counter(
    dimension: str | None = None, value: str | None = None, **indicators: object
) -> dict[str, object]:
    """A counter document as the reporting store keeps it for the 'all' scope."""
    return {"_id": "…", "scope": ALL, "dimension": dimension, "value": value, **indicators}


def test_impact_reads_totals_and_cells_of_the_scope() -> None:
    counters = [
        counter("district", "qpv-benauge", enrolled=4),
        counter(None, None, enrolled=7, trained=3, directed_to_employment=2),
        counter("gender", "female", enrolled=5),
    ]

    answer = impact(ALL, counters, TARGETS, TODAY)

    assert (answer.scope, answer.totals["enrolled"], answer.totals["trained"]) == (ALL, 7, 3)
    assert answer.totals["directed_to_employment"] == 2
    assert answer.totals["associations_upskilled"] == 0
    assert [(c.dimension, c.value, c.figures["enrolled"]) for c in answer.cells] == [
        ("district", "qpv-benauge", 4),
        ("gender", "female", 5),
    ]


def test_women_share_counts_careers_track_participants_only() -> None:
    counters = [
        counter(None, None, enrolled=20),
        counter("gender", "female", enrolled=15),  # mostly inclusion-track women
        counter("gender", "male", enrolled=5),
        counter("careers_gender", "female", enrolled=3),
        counter("careers_gender", "male", enrolled=4),
        counter("careers_gender", "non_binary", enrolled=1),
    ]

    assert impact(ALL, counters, TARGETS, TODAY).women_share_careers == pytest.approx(3 / 8)


@pytest.mark.parametrize(
    "careers",
    [[], [counter("careers_gender", "female", enrolled=0), counter("careers_gender", "male")]],
    ids=["no careers breakdown", "careers counters moved back to zero"],
)
def test_women_share_is_none_without_careers_participants(careers: list[dict[str, object]]) -> None:
    counters = [counter(None, None, enrolled=2), counter("gender", "female", enrolled=2), *careers]

    assert impact(ALL, counters, TARGETS, TODAY).women_share_careers is None


def test_unknown_or_malformed_indicators_are_ignored() -> None:
    counters = [counter(None, None, enrolled=3, graduated=99, trained="many", attended=True)]

    totals = impact(ALL, counters, TARGETS, TODAY).totals

    assert totals.counts == {"enrolled": 3}


def test_a_scope_without_counters_is_all_zero() -> None:
    answer = impact("district:qpv-nowhere", [], TARGETS, TODAY)

    assert answer.totals.counts == {}
    assert answer.women_share_careers is None
    assert answer.cells == ()
    assert answer.history == ()
    assert [count for _, count in answer.funnel] == [0] * 8


def test_attendance_and_no_show_rates_come_from_recorded_attendances() -> None:
    figures = Figures({"sessions_present": 30, "sessions_excused": 6, "sessions_unexcused": 4})

    assert figures.attendance_rate == pytest.approx(0.75)
    assert figures.no_show_rate == pytest.approx(0.1)
    assert Figures({}).attendance_rate is None


def test_skill_gain_is_the_average_per_competence_assessed_twice() -> None:
    figures = Figures({"skill_gain_sum_1": 9, "skill_gain_count_1": 6})

    assert figures.skill_gain("1") == pytest.approx(1.5)
    assert figures.skill_gain("2") is None


def test_the_funnel_follows_the_programme_stages_in_order() -> None:
    totals = counter(
        None, None, enrolled=100, attended=80, trained=40, career_workshop=30, referred=12,
        placed=9, directed_to_employment=7, in_post_6m=3,
    )  # fmt: skip

    funnel = impact(ALL, [totals], TARGETS, TODAY).funnel

    assert funnel == (
        ("enrolled", 100),
        ("attended", 80),
        ("trained", 40),
        ("career_workshop", 30),
        ("referred", 12),
        ("placed", 9),
        ("directed_to_employment", 7),
        ("in_post_6m", 3),
    )


def test_weekly_history_fills_gaps_and_accumulates_from_the_baseline() -> None:
    counters = [
        counter("week", "2026-W44", enrolled=5, trained=2),
        counter("week", "2026-W46", enrolled=3, trained=1),
    ]

    history = impact(ALL, counters, TARGETS, TODAY).history

    assert [p.week for p in history] == ["2026-W44", "2026-W45", "2026-W46"]
    assert [p.counts.get("trained", 0) for p in history] == [2, 0, 1]
    assert [p.cumulative["trained"] for p in history] == [22, 22, 23]  # baseline 20
    assert [p.cumulative["enrolled"] for p in history] == [5, 5, 8]


def test_forecast_extrapolates_the_last_four_complete_weeks() -> None:
    # Weeks 44-47 are the four complete weeks before week 48: 40 trained, 10 a week.
    weeks = [counter("week", f"2026-W{n}", trained=10) for n in (44, 45, 46, 47)]
    current_week = counter("week", "2026-W48", trained=50)  # not yet complete: not in the pace
    totals = counter(None, None, trained=380)

    answer = impact(ALL, [totals, *weeks, current_week], TARGETS, TODAY)

    trained = next(p for p in answer.progress if p.indicator == "trained")
    assert (trained.actual, trained.target, trained.baseline) == (400, 500, 20)
    assert trained.weekly_pace == pytest.approx(10.0)
    assert trained.reached_on == date(2027, 2, 4)  # 100 left / 10 a week = 10 weeks
    assert trained.on_track is True
    assert trained.share == pytest.approx(0.8)


def test_no_recent_pace_gives_no_forecast_and_is_not_on_track() -> None:
    answer = impact(ALL, [counter(None, None, directed_to_employment=3)], TARGETS, TODAY)

    directed = next(p for p in answer.progress if p.indicator == "directed_to_employment")
    assert directed.reached_on is None
    assert directed.on_track is False


def test_a_reached_target_is_reached_today() -> None:
    answer = impact(ALL, [counter(None, None, associations_upskilled=5)], TARGETS, TODAY)

    upskilled = next(p for p in answer.progress if p.indicator == "associations_upskilled")
    assert upskilled.reached_on == TODAY
    assert upskilled.share == 1.0


def test_week_range_crosses_the_year_boundary() -> None:
    assert week_range("2026-W52", "2027-W02") == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
