"""Funders' and public figures: small counts hidden as null with what to show instead."""

from __future__ import annotations

from typing import Any

from services.reporting.anonymised import anonymise


def cell(
    dimension: str, value: str, enrolled: int, trained: int, anonymous: int = 0
) -> dict[str, Any]:
    counts = {"enrolled": enrolled, "attended": enrolled, "trained": trained,
              "directed_to_employment": 0, "anonymous_attendees": anonymous}  # fmt: skip
    return {"dimension": dimension, "value": value, "enrolled": enrolled, "counts": counts,
            "people_reached": enrolled + anonymous,
            "attendance_rate": 0.8, "no_show_rate": 0.1, "skill_gain": {},
            "directed_by_outcome": {}}  # fmt: skip


def answer() -> dict[str, Any]:
    """Reporting's exact answer: 23 enrolled and 14 anonymous attendees, 37 people reached;
    district b holds 3 enrolled and 2 anonymous attendees."""
    counts = {"enrolled": 23, "attended": 23, "trained": 8, "directed_to_employment": 0,
              "withdrawn": 2, "anonymous_attendees": 14}  # fmt: skip
    return {
        "enrolled": 23, "trained": 8, "directed_to_employment": 0, "associations_upskilled": 1,
        "people_reached": 37, "women_share_careers": None,
        "totals": {"counts": counts, "people_reached": 37, "attendance_rate": 0.8,
                   "no_show_rate": 0.1, "skill_gain": {"1": 0.5}, "directed_by_outcome": {}},
        "progress": [{"indicator": "trained", "target": 500, "baseline": 0, "actual": 8,
                      "share": 0.016, "weekly_pace": 1.0, "reached_on": None}],
        "funnel": [{"stage": "enrolled", "count": 23}, {"stage": "placed", "count": 3}],
        "breakdowns": [cell("district", "a", 20, 7, 12), cell("district", "b", 3, 1, 2),
                       cell("gender", "female", 23, 8)],
        "history": [{"week": "2026-W01", "counts": {"enrolled": 20, "sessions_present": 9},
                     "cumulative": {"enrolled": 20}},
                    {"week": "2026-W02", "counts": {"enrolled": 3, "sessions_present": 4},
                     "cumulative": {"enrolled": 23}}],
    }  # fmt: skip


def test_small_cells_are_hidden_with_a_second_cell_so_they_cannot_be_subtracted() -> None:
    shown = anonymise(answer())

    small, large = shown["breakdowns"][1], shown["breakdowns"][0]
    assert small["counts"]["enrolled"] is None
    assert small["suppressed"]["enrolled"] == "<5"
    assert large["counts"]["enrolled"] is None, "23 − 20 would give the small cell away"
    assert large["suppressed"]["enrolled"] == "s"
    assert small["attendance_rate"] is None


def test_totals_of_five_and_more_stay_exact_and_small_ones_are_hidden() -> None:
    shown = anonymise(answer())

    assert (shown["enrolled"], shown["trained"], shown["directed_to_employment"]) == (23, 8, 0)
    assert shown["anonymised"] is True
    assert shown["totals"]["counts"]["withdrawn"] is None
    assert shown["funnel"][1] == {"stage": "placed", "count": None, "suppressed": {"count": "<5"}}
    assert shown["history"][1]["cumulative"]["enrolled"] is None
    assert shown["history"][0]["counts"]["sessions_present"] is None


def test_people_reached_is_shown_where_both_its_parts_are() -> None:
    shown = anonymise(answer())

    assert shown["people_reached"] == 37
    assert shown["totals"]["people_reached"] == 37
    assert shown["totals"]["counts"]["anonymous_attendees"] == 14
    female = next(b for b in shown["breakdowns"] if b["dimension"] == "gender")
    assert female["people_reached"] == 23  # no anonymous attendee has a gender


def test_people_reached_of_a_cell_is_hidden_with_its_hidden_parts() -> None:
    shown = anonymise(answer())

    large, small = shown["breakdowns"][0], shown["breakdowns"][1]
    assert small["counts"]["anonymous_attendees"] is None
    assert small["suppressed"]["anonymous_attendees"] == "<5"
    assert large["suppressed"]["anonymous_attendees"] == "s", "14 − 12 would give 2 away"
    # 3 + 2 = 5: not small, but shown it would give a hidden part away beside the other.
    assert (small["people_reached"], small["suppressed"]["people_reached"]) == (None, "s")
    assert (large["people_reached"], large["suppressed"]["people_reached"]) == (None, "s")


def test_people_reached_is_hidden_when_a_small_headcount_would_show_through() -> None:
    exact = answer()
    exact["totals"]["counts"]["anonymous_attendees"] = 3
    exact["people_reached"] = exact["totals"]["people_reached"] = 26

    shown = anonymise(exact)

    assert shown["enrolled"] == 23
    assert shown["totals"]["counts"]["anonymous_attendees"] is None
    assert shown["people_reached"] is None, "26 − 23 would show the 3 anonymous attendees"
    assert shown["suppressed"]["people_reached"] == "s"
    assert shown["totals"]["suppressed"]["people_reached"] == "s"
