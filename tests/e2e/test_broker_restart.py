"""The broker is killed mid-run and comes back empty: the services' logs re-seed it, and every
reporting figure still equals the simulator's ground truth.

A platform of its own (embedded MongoDB and broker on free ports, its own ``DN_HOME``) plays
the first half of a simulated programme through the intake topics until every request is
applied in the service it names, while reporting is held still (SIGSTOP: a consumer far
behind). Then the embedded broker (Tansu, memory only) is SIGKILLed with none of those
canonical events projected yet, and started again on the same port, empty: no topic, no
record, no committed offset. Reporting goes on; the relays notice and publish their logs
again; the subscribers skip what they had applied by log position. Then the second half is
played, and reporting's figures must equal the truth of the whole programme: nothing lost with
the broker, nothing counted twice by the re-seed.

Partner records accepted by the broker but not yet applied when it dies are lost with it
(README: "What survives a restart"): the kill falls when none is in flight, so the test
measures the platform's own log, not the embedded broker's lack of one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dn.infra import EmbeddedInfra
from dn.platform import Platform
from dn.simulation.command import TrainingRuleSettings
from dn.simulation.delivery import DeliveryOptions, DeliveryReport, deliver
from tests.chaos.expected import expected_figures
from tests.chaos.run import (
    ChaosOptions,
    dead_letters,
    own_platform_and_infra,
    plan_for,
    settle,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def quiet_platform() -> None:
    """This module does not use the shared platform, so it does not wait for it to settle."""


@pytest.fixture
def platform_and_infra(tmp_path: Path) -> Iterator[tuple[Platform, EmbeddedInfra]]:
    with own_platform_and_infra(tmp_path / "dn-home") as started:
        yield started


def kill_broker(infra: EmbeddedInfra) -> None:
    pid = infra.status().kafka.pid
    assert pid is not None, "the embedded broker runs"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while infra.status().kafka.pid is not None and time.monotonic() < deadline:
        time.sleep(0.1)


WRITERS = ("registration", "training", "orientation")  # the services that emit events


def why_not(report: DeliveryReport) -> str:
    """What went wrong with a delivery, in full (pytest shortens a dict's repr)."""
    found = report.as_json()
    return json.dumps({k: found[k] for k in found if k not in ("sent_by_type", "dead_letters")})


def event_logs(platform: Platform) -> dict[str, dict[str, object]]:
    return {
        name: httpx.get(f"{platform.settings.service_url(name)}/log", timeout=10).json()
        for name in WRITERS
    }


def test_every_figure_equals_the_truth_after_the_broker_restarts_empty(
    platform_and_infra: tuple[Platform, EmbeddedInfra],
) -> None:
    platform, infra = platform_and_infra
    programme = plan_for(ChaosOptions(events=1_200, seed=4242))
    half = len(programme.requests) // 2
    first = dataclasses.replace(programme, requests=programme.requests[:half])
    second = dataclasses.replace(programme, requests=programme.requests[half:])
    options = DeliveryOptions(rate=300.0)

    reporting = platform.processes["reporting"]
    reporting.send_signal(signal.SIGSTOP)
    try:
        report = asyncio.run(deliver(first, platform.kafka_bootstrap, options))
        assert report.ok, why_not(report)
        published_before = {name: log["events"] for name, log in event_logs(platform).items()}
        assert published_before["registration"] > 0

        kill_broker(infra)
        time.sleep(1.0)
        status, started = infra.up()  # the same port, nothing in it
        assert started == ["kafka"]
    finally:
        reporting.send_signal(signal.SIGCONT)
    assert platform.dead() == []

    report = asyncio.run(deliver(second, platform.kafka_bootstrap, options))
    assert report.ok, why_not(report)

    expected = expected_figures(programme, TrainingRuleSettings().rule())
    settled, compared, differ = settle(platform, expected, timeout_s=180)
    assert differ == [], differ[:20]
    assert settled
    assert compared > 500

    logs = event_logs(platform)
    for name in WRITERS:
        reseed = logs[name]["reseed"]
        assert isinstance(reseed, dict)
        # Everything the log held before the kill went out again.
        assert reseed["events"] >= published_before[name], (name, reseed)
        assert reseed["running"] is False
    assert asyncio.run(dead_letters(status.kafka_bootstrap)) == []
    assert platform.dead() == []
