"""Pure helpers every benchmark shares: percentiles of latency samples, and the machine."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def percentile(ordered: Sequence[float], share: float) -> float | None:
    """The value below which ``share`` of the sorted samples lie (nearest rank, as the
    projection's own ``Freshness.summary`` and bench/reporting_rebuild.py compute it)."""
    if not ordered:
        return None
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie between 0 and 1, not {share}")
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def latency_ms(seconds: Iterable[float]) -> dict[str, float | int | None]:
    """Samples in seconds → count, p50, p90, p99 and max in milliseconds (one decimal)."""
    ordered = sorted(seconds)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(1000 * value, 1)

    return {
        "samples": len(ordered),
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p90_ms": ms(percentile(ordered, 0.90)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(value, 2) for value in os.getloadavg()]


def machine(loads: dict[str, list[float]]) -> dict[str, Any]:
    """What the figures were measured on; ``loads`` are load averages taken along the way."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1_5_15": loads,
        "note": "shared development machine: other agents' test runs may load it",
    }


def report_path(name: str) -> Path:
    """Where a benchmark writes its JSON report: bench/results/, or ``DN_BENCH_RESULTS`` (the
    runner's ``--quick`` points it at bench/results/quick/, kept out of git)."""
    folder = os.environ.get("DN_BENCH_RESULTS")
    return (Path(folder) if folder else Path(__file__).parent / "results") / f"{name}.json"
