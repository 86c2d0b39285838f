"""`dn status`'s figures, lag and verdict, from generated expositions and offsets (dn.status)."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dn.status import (
    PartHealth,
    PlatformHealth,
    ServiceHealth,
    figures_from_exposition,
    group_lag,
    histogram_quantile,
)
from dn.status_command import waiting_lines
from kit.event_logs import EventLogReport, ParkedReport, ReseedReport


def exposition() -> str:
    """A process's /metrics, with the platform's metric names, in a registry of its own."""
    registry = CollectorRegistry()
    consumed = Counter("dn_events_consumed", "", ["topic", "type", "outcome"], registry=registry)
    published = Counter("dn_events_published", "", ["topic", "type"], registry=registry)
    dead = Counter("dn_dead_letters", "", ["topic", "reason"], registry=registry)
    backlog = Gauge("dn_outbox_backlog", "", registry=registry)
    freshness = Histogram(
        "dn_projection_freshness_seconds", "", buckets=(0.1, 0.5, 1.0), registry=registry
    )
    consumed.labels("dn.registration.events", "enrolled", "applied").inc(7)
    consumed.labels("dn.training.events", "attended", "applied").inc(3)
    consumed.labels("dn.training.events", "attended", "duplicate").inc(2)
    published.labels("dn.registration.events", "enrolled").inc(4)
    published.labels("dn.registration.events", "updated").inc(1)
    dead.labels("dn.intake.training", "unknown_session").inc(2)
    dead.labels("dn.intake.registration", "invalid").inc(1)
    dead.labels("dn.intake.training", "invalid").inc(1)
    backlog.set(5)
    for seconds in (0.05, 0.2, 0.3, 0.4, 2.0):
        freshness.observe(seconds)
    return generate_latest(registry).decode()


def test_key_figures_are_read_from_the_exposition() -> None:
    figures = figures_from_exposition(exposition())

    assert figures.consumed == {"applied": 10, "duplicate": 2}
    assert figures.consumed_total == 12
    assert figures.published == 5
    assert figures.dead_letters == {"unknown_session": 2, "invalid": 2}
    assert figures.outbox_backlog == 5
    # 5 observations: the 2.5th falls in (0.1, 0.5], which holds the 2nd to the 4th.
    assert figures.freshness_p50_s == pytest.approx(0.1 + 0.4 * (2.5 - 1) / 3)


def test_figures_absent_from_the_exposition_stay_empty() -> None:
    figures = figures_from_exposition("# nothing here\n")

    assert figures.consumed_total == 0
    assert figures.outbox_backlog is None
    assert figures.freshness_p50_s is None


@pytest.mark.parametrize(
    ("buckets", "expected"),
    [
        ([], None),
        ([(1.0, 0.0), (float("inf"), 0.0)], None),
        ([(1.0, 4.0), (float("inf"), 4.0)], 0.5),
        ([(1.0, 0.0), (2.0, 0.0), (float("inf"), 10.0)], 2.0),  # beyond the last bound
    ],
)
def test_histogram_median_as_prometheus_estimates_it(
    buckets: list[tuple[float, float]], expected: float | None
) -> None:
    assert histogram_quantile(0.5, buckets) == expected


def test_lag_is_end_minus_committed_and_never_negative() -> None:
    committed = {("dn.registration.events", 0): 10, ("dn.registration.events", 1): 7}
    # The embedded broker reports partition 1's end below what was committed.
    ends = {("dn.registration.events", 0): 15, ("dn.registration.events", 1): 6}

    lag = group_lag("dn-training-beneficiaries", committed, ends)

    assert (lag.lag, lag.partitions) == (5, 2)


def platform(*, mongodb: bool = True, services_up: int = 5, healthy: bool = True) -> PlatformHealth:
    names = ("registration", "training", "orientation", "reporting", "gateway")
    return PlatformHealth(
        infra=(
            PartHealth("mongodb", "mongodb://127.0.0.1:27027", mongodb, True),
            PartHealth("kafka", "127.0.0.1:19092", True, True),
        ),
        services=tuple(
            ServiceHealth(
                name, f"http://x/{name}", index < services_up, healthy and index < services_up, "ok"
            )
            for index, name in enumerate(names)
        ),
    )


def test_a_platform_where_everything_answers_is_healthy_with_no_advice() -> None:
    health = platform()

    assert health.healthy
    assert health.advice() == []
    assert health.as_json()["healthy"] is True


def test_nothing_running_says_to_start_the_platform() -> None:
    health = platform(mongodb=False, services_up=0, healthy=False)

    assert not health.healthy
    assert health.advice() == ["the platform is not running: start it with `dn up`"]


def test_embedded_mongodb_down_says_to_start_the_infrastructure() -> None:
    health = platform(mongodb=False)

    assert not health.healthy
    assert any("dn infra up" in line for line in health.advice())


def test_a_silent_service_is_named() -> None:
    health = platform(services_up=4)

    assert any(line.startswith("gateway not answering") for line in health.advice())


def event_log(name: str, *, running: bool, pending: int = 0, events: int = 100) -> EventLogReport:
    return EventLogReport(
        service=name,
        log_id="log-1",
        topic=f"dn.{name}.events",
        events=events,
        unsent=pending,
        partitions={0: events},
        reseed=ReseedReport(events=events - pending, seconds=0.4, pending=pending, running=running),
        subscribers=[],
    )


def test_a_re_seed_under_way_is_said_with_what_is_left() -> None:
    health = dataclasses.replace(
        platform(),
        logs={
            "registration": event_log("registration", running=True, pending=1_200),
            "training": event_log("training", running=False),
        },
    )

    assert health.reseeding == {"registration": 1_200}
    assert any(
        "re-seeded" in line and "registration: 1,200 to go" in line for line in health.advice()
    )
    assert health.as_json()["event_logs"]["registration"]["reseed"]["pending"] == 1_200


def test_a_finished_re_seed_needs_no_advice() -> None:
    health = dataclasses.replace(
        platform(), logs={"registration": event_log("registration", running=False)}
    )

    assert health.reseeding == {}
    assert health.advice() == []


def test_partner_requests_waiting_for_what_they_name_are_shown_per_service() -> None:
    training = event_log("training", running=False).model_copy(
        update={
            "parked": ParkedReport(
                requests=12, oldest_age_s=185.0, per_partner={"partner/b": 2, "partner/a": 10}
            )
        }
    )
    health = dataclasses.replace(
        platform(),
        logs={"registration": event_log("registration", running=False), "training": training},
    )

    assert waiting_lines(health) == [
        "waiting in training for what they name: 12 partner requests, the oldest for "
        "3 min 5 s (partner/a 10, partner/b 2)"
    ]
    assert health.as_json()["event_logs"]["training"]["parked"]["requests"] == 12
