"""A short run of ``make chaos`` inside ``make test``: about 1,500 intake requests while three
random processes are SIGKILLed and restarted, on a platform of its own (its own MongoDB, broker,
ports and ``DN_HOME``: the kills never touch the platform the other e2e modules share). Each
request is sent once and none may be dead-lettered; every reporting figure must then equal the
simulator's ground truth (:mod:`tests.chaos.run`)."""

from __future__ import annotations

import os
import random

import pytest

from tests.chaos.run import ChaosOptions, assert_nothing_lost, play

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def quiet_platform() -> None:
    """This module does not use the shared platform, so it does not wait for it to settle."""


def test_nothing_is_lost_or_counted_twice_when_three_processes_are_killed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    seed = int(os.environ.get("DN_CHAOS_SEED") or random.SystemRandom().randrange(1_000_000))
    print(f"\nDN_CHAOS_SEED={seed} (set it to replay this run)", flush=True)
    options = ChaosOptions(events=1_500, kills=3, seed=seed, rate=200.0, settle_timeout_s=120.0)

    result = play(options, tmp_path_factory.mktemp("dn-chaos"))

    print("\n".join(result.lines()))
    assert_nothing_lost(result)
