"""Prometheus metrics every service exposes at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_PUBLISHED = Counter(
    "dn_events_published", "Events published from the outbox", ["topic", "type"]
)
EVENTS_CONSUMED = Counter(
    "dn_events_consumed", "Events consumed, by outcome", ["topic", "type", "outcome"]
)
DEAD_LETTERS = Counter("dn_dead_letters", "Records sent to dn.deadletter", ["topic", "reason"])
OUTBOX_BACKLOG = Gauge("dn_outbox_backlog", "Outbox events not yet published")
