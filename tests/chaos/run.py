"""A partner run played while processes are SIGKILLed at random, then checked against the truth.

The platform here is its own: an embedded MongoDB and broker on free ports under a fresh
``DN_HOME``, the four services and the gateway. The simulator (:mod:`dn.simulation`) plays a
programme through the intake topics, each request sent once (what names something not known
yet waits on the platform for it), and confirms every request by its canonical event.
Meanwhile a killer thread SIGKILLs a random process among the services and the gateway at
seeded random moments, leaves it down a short random time and starts it again. Each service's
outbox relay runs inside its process, so a kill also stops its relay mid-publish: events
committed but not yet marked sent are published again by the restarted process, and consumers
killed between their transaction and their offset commit read the same records again. Nothing
may be lost or counted twice for all that: once the projections settle, every figure of
reporting's ``GET /impact`` must equal what the programme's own requests give
(:mod:`tests.chaos.expected`), there may be no dead letter at all, and every process must be
alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import DEAD_LETTER
from dn.infra import EmbeddedInfra
from dn.platform import MODULES, Platform, free_port, free_process_ports, running
from dn.simulation.command import TrainingRuleSettings, plan
from dn.simulation.delivery import DeliveryOptions, DeliveryReport, deliver
from dn.simulation.programme import Programme
from kit.auth import Role, issue_token
from kit.kafka_ends import true_end_offsets
from kit.settings import Settings
from tests.chaos.expected import ATTRIBUTES, ExpectedFigures, expected_figures

# Requests per simulated person (about 13.7 at the default year): sizes the programme.
REQUESTS_PER_PERSON = 13.7
# Indicators compared in every cell: all of reporting's per-person ones but ``at_risk`` (it
# depends on today's date) and ``withdrawn`` (compared separately: the simulator withdraws
# nobody, so it must stay 0), and the associations upskilled (in the total and each
# association's row).
COMPARED = (
    "enrolled",
    "attended",
    "trained",
    "career_workshop",
    "referred",
    "placed",
    "directed_to_employment",
    "in_post_6m",
    "directed_durable_employment",
    "directed_transitional_employment",
    "directed_positive_exit",
    "sessions_present",
    "sessions_excused",
    "sessions_unexcused",
    "minutes_present",
    *(f"skill_gain_{kind}_{area}" for area in "12345" for kind in ("sum", "count")),
    "associations_upskilled",
)


@dataclass(frozen=True)
class ChaosOptions:
    """Sizes of one run; ``from_environment`` reads ``DN_CHAOS_*`` over the given defaults."""

    events: int = 50_000
    kills: int = 10
    seed: int = 0
    rate: float = 300.0  # requests sent per second (each once)
    max_down_s: float = 3.0  # a killed process stays down between 0.1 s and this
    # Requests sent but not yet applied, at most: the simulator waits for the platform rather
    # than piling up a backlog behind a killed consumer (kills land mid-flow).
    max_unconfirmed: int = 2_000
    settle_timeout_s: float = 600.0
    targets: tuple[str, ...] = tuple(MODULES)  # the four services and the gateway

    @classmethod
    def from_environment(cls, events: int, kills: int, rate: float) -> ChaosOptions:
        seed = os.environ.get("DN_CHAOS_SEED")
        return cls(
            events=int(os.environ.get("DN_CHAOS_EVENTS", events)),
            kills=int(os.environ.get("DN_CHAOS_KILLS", kills)),
            seed=int(seed) if seed else random.SystemRandom().randrange(1_000_000),
            rate=float(os.environ.get("DN_CHAOS_RATE", rate)),
            settle_timeout_s=float(os.environ.get("DN_CHAOS_SETTLE_TIMEOUT", 600.0)),
        )


@dataclass(frozen=True)
class Kill:
    process: str
    at_s: float  # since the first request was sent
    requests_sent: int  # by then
    down_s: float
    back_healthy_s: float  # from the restart to the gateway reporting every service healthy


@dataclass
class ChaosResult:
    options: ChaosOptions
    programme: Programme
    delivery: DeliveryReport | None = None
    kills: list[Kill] = field(default_factory=list)
    platform_start_s: float = 0.0
    # From the last request confirmed (its canonical event seen) to reporting's figures equal to
    # the truth; None when they never were.
    settle_s: float | None = None
    figures_compared: int = 0
    mismatches: list[str] = field(default_factory=list)
    # Every record on the dead-letter topic, as "reason ce_id": none is expected (the platform
    # keeps what names something not known yet until it arrives).
    dead_letters: list[str] = field(default_factory=list)
    dead_processes: list[str] = field(default_factory=list)
    total_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        delivery = self.delivery.as_json() if self.delivery else None
        if delivery is not None:
            delivery.pop("dead_letters")  # listed below with every other dead letter
        return {
            "seed": self.options.seed,
            "people": self.programme.people,
            "events_planned": len(self.programme.requests),
            "rate": self.options.rate,
            "delivery": delivery,
            "kills": [vars(kill) for kill in self.kills],
            "platform_start_s": round(self.platform_start_s, 1),
            "settle_s": None if self.settle_s is None else round(self.settle_s, 1),
            "figures_compared": self.figures_compared,
            "mismatches": self.mismatches[:50],
            "lost_or_double_counted": len(self.mismatches),
            "dead_letters": len(self.dead_letters),
            "dead_letters_by_reason": dict(Counter(d.split()[0] for d in self.dead_letters)),
            "dead_letters_first": self.dead_letters[:50],
            "dead_processes": self.dead_processes,
            "total_s": round(self.total_s, 1),
        }

    def lines(self) -> list[str]:
        sent = self.delivery.sent_total if self.delivery else 0
        resent = self.delivery.resent if self.delivery else 0
        lines = [
            f"chaos seed {self.options.seed}: {len(self.programme.requests)} requests planned "
            f"({self.programme.people} people), {sent} sent at {self.options.rate:.0f}/s, "
            f"each once ({resent} re-sent)",
            *(
                f"  killed {k.process:<12} at {k.at_s:6.1f} s ({k.requests_sent} sent), "
                f"down {k.down_s:.1f} s, "
                f"healthy again {k.back_healthy_s:.1f} s later"
                for k in self.kills
            ),
            f"sending took {self.delivery.sending_s if self.delivery else 0:.0f} s; every "
            f"request applied {self.delivery.total_s if self.delivery else 0:.0f} s after the "
            "first was sent; "
            + (
                f"reporting equal to the truth {self.settle_s:.1f} s later"
                if self.settle_s is not None
                else "reporting never reached the truth"
            ),
            f"{self.figures_compared} figures compared, {len(self.mismatches)} differ "
            f"(lost or double-counted)",
            *(f"  {m}" for m in self.mismatches[:20]),
            f"dead letters: {len(self.dead_letters) or 'none'}",
            *(f"  {d}" for d in self.dead_letters[:20]),
            f"dead processes: {self.dead_processes or 'none'}; whole run {self.total_s:.0f} s",
        ]
        return lines

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.summary(), indent=2) + "\n")


# -- the platform ---------------------------------------------------------------------------


@contextlib.contextmanager
def own_platform_and_infra(home: Path) -> Iterator[tuple[Platform, EmbeddedInfra]]:
    """Embedded MongoDB and broker on free ports, and every process, all under ``home``; the
    infrastructure too, for a test that stops a part of it."""
    settings = Settings(
        home=home,
        mongodb_port=free_port(),
        kafka_port=free_port(),
        **free_process_ports(),
        jwt_secret="chaos-signing-key-" + "x" * 32,
        demo=False,
    )
    infra = EmbeddedInfra(settings)
    status, _ = infra.up()
    try:
        platform = Platform(settings, status.mongodb_url, status.kafka_bootstrap)
        with running(platform, 120) as started:
            yield started, infra
    finally:
        infra.down()


@contextlib.contextmanager
def own_platform(home: Path) -> Iterator[Platform]:
    """Embedded MongoDB and broker on free ports, and every process, all under ``home``."""
    with own_platform_and_infra(home) as (platform, _):
        yield platform


# -- the killer -----------------------------------------------------------------------------


class Killer:
    """SIGKILLs ``options.kills`` processes at seeded random moments of the run: each when a
    random share (5 to 95 %) of the requests has been sent, one at a time (the next waits until
    the platform is healthy again).

    It runs on the event loop of the main thread, next to the simulator: a process started from
    a short-lived thread would get SIGTERM when that thread ends (``PR_SET_PDEATHSIG`` follows
    the creating thread, not the process)."""

    def __init__(self, platform: Platform, options: ChaosOptions, requests: int) -> None:
        self.platform = platform
        self.options = options
        self.rng = random.Random(options.seed)
        self.marks = sorted(
            round(self.rng.uniform(0.05, 0.95) * requests) for _ in range(options.kills)
        )
        self.sent = 0
        self.moved = asyncio.Event()
        self.started = time.monotonic()
        self.kills: list[Kill] = []

    def progress(self, report: DeliveryReport) -> None:
        self.sent = report.sent_total
        self.moved.set()

    async def run(self) -> None:
        self.started = time.monotonic()
        for mark in self.marks:
            while self.sent < mark:
                self.moved.clear()
                await self.moved.wait()
            await self.kill_and_restart(self.rng.choice(self.options.targets))

    async def kill_and_restart(self, name: str) -> None:
        at, sent = time.monotonic() - self.started, self.sent
        self.platform.kill(name)
        down = self.rng.uniform(0.1, self.options.max_down_s)
        await asyncio.sleep(down)
        self.platform.start_one(name)
        healthy = await asyncio.to_thread(self.platform.wait_healthy, 120)
        self.kills.append(Kill(name, round(at, 2), sent, round(down, 2), round(healthy, 2)))
        say(
            f"killed {name} at {at:.1f} s ({sent} requests sent), down {down:.1f} s, "
            f"healthy {healthy:.1f} s later"
        )


# -- figures --------------------------------------------------------------------------------


def read_impact(platform: Platform) -> dict[str, Any]:
    """Reporting's exact answer for the whole programme, as a coordinator reads it."""
    settings = platform.settings
    token = issue_token(settings, Role.COORDINATOR, audience="reporting")
    response = httpx.get(
        f"{settings.service_url('reporting')}/impact",
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def compare(impact: dict[str, Any], expected: ExpectedFigures) -> tuple[int, list[str]]:
    """(figures compared, the ones that differ) between reporting's answer and the truth."""
    compared, differ = 0, []

    def check(where: str, seen: object, want: object) -> None:
        nonlocal compared
        compared += 1
        if seen != want:
            differ.append(f"{where}: platform {seen}, truth {want}")

    totals = impact["totals"]["counts"]
    for indicator in COMPARED:
        check(f"total {indicator}", totals.get(indicator, 0), expected.totals.get(indicator, 0))
    check("total withdrawn", totals.get("withdrawn", 0), 0)
    share = impact["women_share_careers"]
    check(
        "women share in the careers track",
        None if share is None else round(share, 4),
        expected.women_share_careers,
    )
    seen_cells: dict[tuple[str, str], dict[str, int]] = {
        (cell["dimension"], cell["value"]): cell["counts"] for cell in impact["breakdowns"]
    }
    for dimension in ATTRIBUTES:
        values = {v for d, v in seen_cells if d == dimension} | {
            v for d, v in expected.cells if d == dimension
        }
        for value in sorted(values):
            seen = seen_cells.get((dimension, value), {})
            want = expected.cells.get((dimension, value), {})
            for indicator in COMPARED:
                check(
                    f"{dimension}={value} {indicator}",
                    seen.get(indicator, 0),
                    want.get(indicator, 0),
                )
    bands = {v for d, v in seen_cells if d == "age_band"} | set(expected.by_age_band)
    for band in sorted(bands):
        seen_band = seen_cells.get(("age_band", band), {}).get("enrolled", 0)
        check(f"age_band={band} enrolled", seen_band, expected.by_age_band.get(band, 0))
    return compared, differ


def settle(
    platform: Platform, expected: ExpectedFigures, timeout_s: float
) -> tuple[bool, int, list[str]]:
    """Poll reporting until its figures equal the truth, or ``timeout_s`` passes, or they have
    not moved for a minute; returns (settled, figures compared, differences)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] | None = None
    moved = time.monotonic()
    while True:
        impact = read_impact(platform)
        compared, differ = compare(impact, expected)
        if not differ:
            return True, compared, differ
        figures = impact["totals"]["counts"]
        if figures != last:
            last, moved = figures, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - moved > 60:
            return False, compared, differ
        time.sleep(1.0)


# -- dead letters ---------------------------------------------------------------------------


async def dead_letters(bootstrap: str) -> list[tuple[str | None, str]]:
    """(ce_id, reason) of every record on the dead-letter topic, from its beginning to now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(DEAD_LETTER, p) for p in consumer.partitions_for_topic(DEAD_LETTER) or ()
        ]
        ends = await true_end_offsets(consumer, partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[tuple[str | None, str]] = []
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = {k: bytes(v).decode(errors="replace") for k, v in record.headers}
                    found.append((headers.get("ce_id"), headers.get("dn_error", "unknown")))
        return found
    finally:
        await consumer.stop()


# -- the run --------------------------------------------------------------------------------


def plan_for(options: ChaosOptions) -> Programme:
    """A programme year of about ``options.events`` intake requests."""
    people = max(10, round(options.events / REQUESTS_PER_PERSON))
    programme = plan(options.seed, people, 365)
    # One correction: the requests per person vary a little with the seed.
    people = max(10, round(people * options.events / len(programme.requests)))
    return plan(options.seed, people, 365)


def say(line: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {line}", flush=True)


def play(options: ChaosOptions, home: Path) -> ChaosResult:
    """Start a platform under ``home``, play the programme with kills, settle, and compare."""
    began = time.monotonic()
    programme = plan_for(options)
    result = ChaosResult(options, programme)
    expected = expected_figures(programme, TrainingRuleSettings().rule())
    say(f"{len(programme.requests)} requests planned; starting a platform under {home}")
    with own_platform(home) as platform:
        result.platform_start_s = time.monotonic() - began
        say(f"platform healthy after {result.platform_start_s:.0f} s; sending")
        delivery_options = DeliveryOptions(
            rate=options.rate, max_unconfirmed=options.max_unconfirmed
        )
        killer = Killer(platform, options, len(programme.requests))
        result.delivery = asyncio.run(
            _deliver_while_killing(programme, platform, delivery_options, killer)
        )
        result.kills = killer.kills
        say(f"delivery: {json.dumps(result.delivery.as_json())[:1000]}")
        confirmed_at = time.monotonic()
        settled, result.figures_compared, result.mismatches = settle(
            platform, expected, options.settle_timeout_s
        )
        if settled:
            result.settle_s = time.monotonic() - confirmed_at
        say(f"settled: {settled}, {len(result.mismatches)} figures differ")
        result.dead_letters = [
            f"{reason} {ce_id}"
            for ce_id, reason in asyncio.run(dead_letters(platform.kafka_bootstrap))
        ]
        result.dead_processes = platform.dead()
    result.total_s = time.monotonic() - began
    return result


async def _deliver_while_killing(
    programme: Programme, platform: Platform, options: DeliveryOptions, killer: Killer
) -> DeliveryReport:
    """The simulator's run with the killer beside it; the kills left when it ends still
    happen (the platform is then still applying what it was sent)."""
    kills = asyncio.create_task(killer.run())
    try:
        report = await deliver(programme, platform.kafka_bootstrap, options, killer.progress)
    except BaseException:
        kills.cancel()
        raise
    await kills
    return report


def assert_nothing_lost(result: ChaosResult) -> None:
    """The run's verdict: every request sent once and applied, every figure equal to the truth,
    no dead letter at all, every process alive after every kill."""
    delivery = result.delivery
    assert delivery is not None
    assert len(result.kills) == result.options.kills, result.lines()
    assert delivery.ok, delivery.as_json()
    assert delivery.sent_total == len(result.programme.requests)
    assert delivery.resent == 0
    assert result.mismatches == [], "\n".join(result.lines())
    assert result.settle_s is not None
    assert result.dead_letters == [], result.dead_letters[:20]
    assert result.dead_processes == []
