"""The benchmarks' pure helpers: percentiles, latency summaries, and matching markers to the
subscription answers that show them (no I/O, no timing)."""

from __future__ import annotations

import pytest

from bench.freshness import visible_delays
from bench.stats import latency_ms, percentile


def test_percentile_is_the_nearest_rank_of_sorted_samples() -> None:
    ordered = [float(n) for n in range(1, 101)]  # 1 … 100
    assert percentile(ordered, 0.5) == 51.0
    assert percentile(ordered, 0.99) == 100.0
    assert percentile(ordered, 0.0) == 1.0
    assert percentile(ordered, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_of_nothing_is_none_and_shares_stay_within_bounds() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1.0], 1.5)


def test_latency_summary_is_in_milliseconds_whatever_the_order() -> None:
    summary = latency_ms([0.3, 0.1, 0.2, 0.4])
    assert summary == {
        "samples": 4,
        "p50_ms": 300.0,
        "p90_ms": 400.0,
        "p99_ms": 400.0,
        "max_ms": 400.0,
    }
    assert latency_ms([])["p50_ms"] is None


def test_a_marker_is_visible_at_the_first_answer_showing_its_count() -> None:
    markers = [(11, 100.0), (12, 100.5), (13, 101.0)]  # (enrolled count it makes, sent at)
    answers = [(100.2, 10), (100.7, 11), (101.4, 13)]  # (answered at, enrolled shown)
    assert visible_delays(markers, answers) == pytest.approx([0.7, 0.9, 0.4])


def test_markers_never_shown_are_left_out() -> None:
    assert visible_delays([(5, 1.0), (6, 2.0)], [(1.5, 5)]) == pytest.approx([0.5])
    assert visible_delays([(5, 1.0)], []) == []
