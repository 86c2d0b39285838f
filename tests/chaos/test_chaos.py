"""``make chaos``: a partner run of about 50,000 intake requests while ten random processes are
SIGKILLed and restarted; each request is sent once, none is dead-lettered, and afterwards every
reporting figure equals the simulator's ground truth.

Sizes come from ``DN_CHAOS_EVENTS`` (50000), ``DN_CHAOS_KILLS`` (10), ``DN_CHAOS_RATE`` (300
requests sent per second) and ``DN_CHAOS_SEED`` (random, printed: set it to replay a run's kills).
The summary goes to ``bench/results/chaos.json``. How a run goes is in :mod:`tests.chaos.run`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.run import ChaosOptions, assert_nothing_lost, play

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "chaos.json"


def test_nothing_is_lost_or_counted_twice_when_processes_are_killed_during_a_partner_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    options = ChaosOptions.from_environment(events=50_000, kills=10, rate=300.0)
    print(f"\nDN_CHAOS_SEED={options.seed} (set it to replay this run)", flush=True)

    result = play(options, tmp_path_factory.mktemp("dn-chaos"))

    print("\n".join(result.lines()))
    result.write(RESULTS)
    print(f"summary written to {RESULTS}")
    assert_nothing_lost(result)
