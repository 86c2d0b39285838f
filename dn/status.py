"""The platform's health on one screen, without I/O: key figures from a Prometheus exposition,
consumer lag from offsets, and the verdict with what to run when something is down."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from kit.event_logs import EventLogReport

# (topic, partition) → offset
Offsets = Mapping[tuple[str, int], int]


@dataclass(frozen=True)
class ServiceFigures:
    """A few figures from one process's /metrics, since it started."""

    consumed: dict[str, float] = field(default_factory=dict)  # by outcome
    published: float = 0.0
    dead_letters: dict[str, float] = field(default_factory=dict)  # by reason
    outbox_backlog: float | None = None
    freshness_p50_s: float | None = None

    @property
    def consumed_total(self) -> float:
        return sum(self.consumed.values())


def figures_from_exposition(text: str) -> ServiceFigures:
    """Events consumed (by outcome) and published, dead letters by reason, outbox backlog and
    the projection freshness median, from the Prometheus text format; absent ones stay empty.
    ValueError when the text is not an exposition."""
    consumed: dict[str, float] = {}
    dead_letters: dict[str, float] = {}
    published = 0.0
    backlog: float | None = None
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == "dn_events_consumed_total":
                outcome = labels.get("outcome", "?")
                consumed[outcome] = consumed.get(outcome, 0.0) + value
            elif name == "dn_events_published_total":
                published += value
            elif name == "dn_dead_letters_total":
                reason = labels.get("reason", "?")
                dead_letters[reason] = dead_letters.get(reason, 0.0) + value
            elif name == "dn_outbox_backlog":
                backlog = (backlog or 0.0) + value
            elif name == "dn_projection_freshness_seconds_bucket":
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + value
    return ServiceFigures(
        consumed=consumed,
        published=published,
        dead_letters=dead_letters,
        outbox_backlog=backlog,
        freshness_p50_s=histogram_quantile(0.5, sorted(buckets.items())),
    )


def histogram_quantile(quantile: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Prometheus's estimate from cumulative buckets ``(upper bound, count)`` sorted by bound:
    linear within the bucket the rank falls in; the highest finite bound when it falls in +Inf.
    None without observations."""
    ordered = list(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = quantile * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass(frozen=True)
class GroupLag:
    """How far one consumer group is behind, over the partitions it has committed on."""

    group: str
    lag: int
    partitions: int


def group_lag(group: str, committed: Offsets, ends: Offsets) -> GroupLag:
    """Records not yet consumed: end offset minus committed offset, per partition, never below
    zero (a commit made after the ends were read may pass them)."""
    lag = sum(max(0, ends.get(partition, 0) - offset) for partition, offset in committed.items())
    return GroupLag(group, lag, len(committed))


@dataclass(frozen=True)
class PartHealth:
    """MongoDB or the broker."""

    name: str
    url: str
    up: bool
    embedded: bool


@dataclass(frozen=True)
class ServiceHealth:
    name: str
    url: str
    answers: bool  # /healthz answered at all
    healthy: bool  # /healthz said ok (200)
    detail: str  # what /healthz said, or why it did not answer
    figures: ServiceFigures | None = None
    metrics_error: str | None = None


@dataclass(frozen=True)
class PlatformHealth:
    infra: tuple[PartHealth, ...]
    services: tuple[ServiceHealth, ...]
    lag: tuple[GroupLag, ...] | None = None
    lag_error: str | None = None
    # Each service's event log (GET /log); None for one that did not answer.
    logs: dict[str, EventLogReport | None] = field(default_factory=dict)

    @property
    def reseeding(self) -> dict[str, int]:
        """Services whose relay is publishing its log again, with the events still to go."""
        return {
            name: log.reseed.pending
            for name, log in self.logs.items()
            if log is not None and log.reseed.running
        }

    @property
    def healthy(self) -> bool:
        return all(p.up for p in self.infra) and all(s.healthy for s in self.services)

    def advice(self) -> list[str]:
        """What to run, in the user's words, when something is down."""
        down_infra = [p for p in self.infra if not p.up]
        silent = [s.name for s in self.services if not s.answers]
        degraded = [s.name for s in self.services if s.answers and not s.healthy]
        if down_infra and silent and len(silent) == len(self.services):
            return ["the platform is not running: start it with `dn up`"]
        advice = []
        for part in down_infra:
            if part.embedded:
                advice.append(f"{part.name} is down: `dn infra up` starts it (or `dn up`)")
            else:
                advice.append(f"{part.name} at {part.url} does not answer: check that server")
        if silent and len(silent) == len(self.services):
            advice.append("no service answers: start the platform with `dn up`")
        elif silent:
            advice.append(
                f"{', '.join(silent)} not answering: see DN_HOME/logs/<name>.log, then restart "
                "the platform (`dn up`)"
            )
        if self.reseeding:
            advice.append(
                "the broker is being re-seeded from the services' logs ("
                + ", ".join(f"{name}: {left:,} to go" for name, left in self.reseeding.items())
                + "): figures catch up when it ends"
            )
        if degraded:
            advice.append(
                f"{', '.join(degraded)} answer but are degraded (MongoDB or broker unreachable "
                "from them)"
            )
        return advice

    def as_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "infra": {part.name: asdict(part) for part in self.infra},
            "services": {
                service.name: {
                    **{k: v for k, v in asdict(service).items() if k != "figures"},
                    "figures": _figures_json(service.figures),
                }
                for service in self.services
            },
            "consumer_lag": None
            if self.lag is None
            else {lag.group: {"lag": lag.lag, "partitions": lag.partitions} for lag in self.lag},
            "consumer_lag_error": self.lag_error,
            "event_logs": {
                name: None if log is None else log.model_dump(mode="json")
                for name, log in self.logs.items()
            },
            "advice": self.advice(),
        }


def _figures_json(figures: ServiceFigures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {**asdict(figures), "consumed_total": figures.consumed_total}
