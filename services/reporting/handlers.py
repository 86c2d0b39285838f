"""Reporting's Kafka subscriber: canonical events in batches, projection transitions out."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from opentelemetry import propagate
from prometheus_client import Histogram
from pymongo import AsyncMongoClient

from contracts import catalogue, topics
from contracts.envelope import CloudEvent
from contracts.event import EventData
from kit.mongo import Document, Session, in_transaction
from services.reporting.live import ImpactFeed
from services.reporting.projector import BatchResult, project
from services.reporting.store import ReportingStore, Versions

GROUP_ID = "dn-reporting-projection"


def projection_group(database_prefix: str) -> str:
    """The projection's consumer group on a platform whose databases are ``database_prefix…``:
    another platform sharing the broker projects on its own."""
    return GROUP_ID if database_prefix == "dn_" else f"{GROUP_ID}-{database_prefix}reporting"


# The topics the projection reads (a rebuild replays them in its own order, see rebuild.py).
TOPICS = (topics.TRAINING_EVENTS, topics.ORIENTATION_EVENTS, topics.REGISTRATION_EVENTS)

# How often erased people's expired links to their re-keyed facts are removed.
FORGET_LINKS_EVERY_S = 3600.0

FRESHNESS = Histogram(
    "dn_projection_freshness_seconds",
    "Delay from an event's time to the commit of the projection change it caused",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
BATCH_SIZE = Histogram(
    "dn_projection_batch_events",
    "Events applied per projection transaction",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000),
)


class Freshness:
    """The recent delays from event time to projection commit, for the impact answer."""

    def __init__(self, size: int = 2000) -> None:
        self.delays: deque[float] = deque(maxlen=size)

    def record(self, events: Sequence[CloudEvent], committed_at: datetime) -> None:
        for event in events:
            delay = max((committed_at - event.time).total_seconds(), 0.0)
            self.delays.append(delay)
            FRESHNESS.observe(delay)

    def summary(self) -> dict[str, float | int | None]:
        ordered = sorted(self.delays)
        if not ordered:
            return {"samples": 0, "p50_seconds": None, "p99_seconds": None}
        return {
            "samples": len(ordered),
            "p50_seconds": ordered[len(ordered) // 2],
            "p99_seconds": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        }


# Told, as listeners hear of a change, which version's scopes it touched (never raises).
ChangeAnnounced = Callable[[ReportingStore, Iterable[str]], None]


class ProjectionHandler:
    """Applies each batch of canonical events to every projection version being written, once
    per version (a rebuild's new version receives live events too), then tells listeners
    (``feed``) and ``announced`` (which composes the answers they will ask for)."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        versions: Versions,
        feed: ImpactFeed | None = None,
        freshness: Freshness | None = None,
        announced: ChangeAnnounced | None = None,
    ) -> None:
        self.client = client
        self.versions = versions
        self.feed = feed
        self.freshness = freshness or Freshness()
        self.announced = announced
        self.links_checked_at = 0.0

    async def __call__(self, events: list[CloudEvent]) -> None:
        # Unknown or invalid data raises EnvelopeError: the subscriber splits the batch and
        # dead-letters that event alone.
        decoded = [(event, catalogue.decode(event)) for event in events]
        registry = await self.versions.current()
        results = {version: await self.apply(version, decoded) for version in registry.written}
        result = results[registry.active]  # what reads show, and so what listeners must hear
        committed_at = datetime.now(UTC)
        if time.monotonic() - self.links_checked_at > FORGET_LINKS_EVERY_S:
            self.links_checked_at = time.monotonic()
            for version in registry.written:
                await self.versions.store(version).forget_erased_links()
        self.freshness.record(events, committed_at)
        BATCH_SIZE.observe(len(events))
        if self.feed is not None and result.scopes:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            self.feed.publish(
                result.scopes,
                min(event.time for event in events),
                carrier.get("traceparent"),
            )
            if self.announced is not None:
                self.announced(self.versions.store(registry.active), result.scopes)

    async def apply(self, version: int, decoded: list[tuple[CloudEvent, EventData]]) -> BatchResult:
        store = self.versions.store(version)

        async def work(session: Session) -> BatchResult:
            return await project(store, session, decoded)

        return await in_transaction(self.client, work)
