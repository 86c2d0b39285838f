"""Funders' and public figures: small counts hidden as null with what to show instead."""

from __future__ import annotations

from typing import Any

from services.reporting.anonymised import anonymise


def cell(dimension: str, value: str, enrolled: int, trained: int) -> dict[str, Any]:
    counts = {"enrolled": enrolled, "attended": enrolled, "trained": trained,
              "directed_to_employment": 0}  # fmt: skip
    return {"dimension": dimension, "value": value, "enrolled": enrolled, "counts": counts,
            "attendance_rate": 0.8, "no_show_rate": 0.1, "skill_gain": {},
            "directed_by_outcome": {}}  # fmt: skip


def answer() -> dict[str, Any]:
    counts = {"enrolled": 23, "attended": 23, "trained": 8, "directed_to_employment": 0,
              "withdrawn": 2}  # fmt: skip
    return {
        "enrolled": 23, "trained": 8, "directed_to_employment": 0, "associations_upskilled": 1,
        "women_share_careers": None,
        "totals": {"counts": counts, "attendance_rate": 0.8, "no_show_rate": 0.1,
                   "skill_gain": {"1": 0.5}, "directed_by_outcome": {}},
        "progress": [{"indicator": "trained", "target": 500, "baseline": 0, "actual": 8,
                      "share": 0.016, "weekly_pace": 1.0, "reached_on": None}],
        "funnel": [{"stage": "enrolled", "count": 23}, {"stage": "placed", "count": 3}],
        "breakdowns": [cell("district", "a", 20, 7), cell("district", "b", 3, 1)],
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
