"""``dn simulate`` against the running platform: every request is sent once and applied (one
naming something not known yet waits on the platform for it: none is dead-lettered, none is
sent again), and the platform's figures reach the simulator's ground truth — associations
upskilled included (self-assessments and staff sessions over intake)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from dn.platform import Platform
from dn.simulation.programme import plan_programme
from kit.settings import Settings
from tests.conftest import TestInfra
from tests.e2e.conftest import graphql
from tests.support import eventually

pytestmark = pytest.mark.e2e
PEOPLE, DAYS = 30, 120
FIGURES = "{ impact { enrolled trained directedToEmployment } }"
UPSKILLED = "{ impact { associationsUpskilled byAssociation { associationId upskilled } } }"


def figures(gateway: httpx.Client) -> dict[str, int]:
    body = graphql(gateway, FIGURES).json()
    assert "errors" not in body, body
    impact: dict[str, int] = body["data"]["impact"]
    return impact


def upskilled(gateway: httpx.Client) -> tuple[int, set[str]]:
    """impact.associationsUpskilled, and the associations whose row says upskilled."""
    body = graphql(gateway, UPSKILLED).json()
    assert "errors" not in body, body
    impact = body["data"]["impact"]
    rows = {row["associationId"] for row in impact["byAssociation"] if row["upskilled"]}
    return impact["associationsUpskilled"], rows


def a_seed_with_every_outcome() -> int:
    """A seed whose small programme has trained and untrained people, placements both
    directed towards employment and not (OTHER), and associations upskilled and not."""
    for seed in range(1000, 1100):
        truth = plan_programme(seed, PEOPLE, DAYS).truth
        if (
            0 < truth.trained < truth.enrolled
            and truth.directed_to_employment > 0
            and truth.placements_by_kind.get("other")
            and 0 < truth.associations_upskilled < 5
        ):
            return seed
    raise AssertionError("no seed in range gives every outcome")


def simulate(settings: Settings, infra: TestInfra, *args: str) -> subprocess.CompletedProcess[str]:
    dn = Path(sys.executable).with_name("dn")
    env = {
        **os.environ,
        "DN_HOME": str(settings.home),
        "DN_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "DN_MONGODB_URL": infra.mongodb_url,
    }
    return subprocess.run(
        [str(dn), "simulate", *args], capture_output=True, text=True, env=env, timeout=300
    )


async def test_simulated_programme_reaches_the_ground_truth_on_the_platform(
    platform: Platform, infra: TestInfra, gateway: httpx.Client
) -> None:
    seed = a_seed_with_every_outcome()
    before = figures(gateway)
    _, upskilled_before = upskilled(gateway)

    result = simulate(
        platform.settings, infra,
        "--people", str(PEOPLE), "--days", str(DAYS), "--seed", str(seed), "--rate", "400",
        "--json",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    delivery, expected = report["delivery"], report["expected"]
    print(f"simulate: {json.dumps(delivery)}")  # sent, rates, durations
    assert delivery["ok"]
    assert delivery["sent"] == report["planned"]
    assert delivery["resent"] == 0
    assert delivery["dead_letters"] == []
    assert delivery["confirmed"] == report["planned"]
    assert expected["enrolled"] == PEOPLE
    want = {
        "enrolled": before["enrolled"] + expected["enrolled"],
        "trained": before["trained"] + expected["trained"],
        "directedToEmployment": (
            before["directedToEmployment"] + expected["directed_to_employment"]
        ),
    }

    async def now() -> dict[str, int]:
        return figures(gateway)

    reached = await eventually(now, lambda seen: seen == want, timeout_s=180, what="impact")

    assert reached == want
    # An association stays upskilled: the ones this programme upskills join those already so.
    assert expected["associations_upskilled"] > 0
    want_upskilled = upskilled_before | set(expected["upskilled_associations"])

    async def associations() -> tuple[int, set[str]]:
        return upskilled(gateway)

    count, rows = await eventually(
        associations, lambda seen: seen[1] >= want_upskilled, timeout_s=30, what="upskilled"
    )
    assert rows == want_upskilled
    assert count == len(want_upskilled)


def test_dry_run_prints_the_plan_and_sends_nothing(
    platform: Platform, infra: TestInfra, gateway: httpx.Client
) -> None:
    before = figures(gateway)

    result = simulate(platform.settings, infra, "--people", "12", "--days", "30", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "enrolment_requested" in result.stdout
    assert "directed towards employment" in result.stdout
    assert figures(gateway) == before
