"""Prometheus metrics every service exposes at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "dn_events_published", "Events published from the outbox", ["topic", "type"]
)
EVENTS_CONSUMED = Counter(
    "dn_events_consumed", "Events consumed, by outcome", ["topic", "type", "outcome"]
)
DEAD_LETTERS = Counter("dn_dead_letters", "Records sent to dn.deadletter", ["topic", "reason"])
OUTBOX_BACKLOG = Gauge("dn_outbox_backlog", "Outbox events not yet published")
OUTBOX_REPUBLISHED = Counter(
    "dn_outbox_republished", "Events published again because the broker had lost them"
)
# Canonical events a subscriber passed over by their log position: "applied" (a position it has
# passed, e.g. the broker re-seeded) or "gap" (ahead of a position still missing).
EVENTS_SKIPPED = Counter(
    "dn_events_skipped", "Canonical events skipped by log position", ["topic", "reason"]
)
# Partitions a subscriber read again from their start because its fetch position lay beyond
# their end (kit.fetch_watch: the embedded broker restarted empty under it).
FETCH_POSITIONS_REWOUND = Counter(
    "dn_fetch_positions_rewound",
    "Partitions read again from the start: the fetch position was beyond their end",
    ["topic"],
)
# Partner requests parked until what they name arrives (kit.parking), per service.
INTAKE_PARKED = Gauge(
    "dn_intake_parked", "Partner requests waiting for what they name to arrive", ["service"]
)
# Set after each record or batch from the high-water mark the broker sent with the fetch (as
# Kafka's own records-lag): partitions are few, so the label stays bounded.
CONSUMER_LAG = Gauge(
    "dn_consumer_lag",
    "Records behind the partition's end after the last record handled, per consumer group",
    ["group", "topic", "partition"],
)
# Labelled by route template (``/beneficiaries/{beneficiary_id}``), never by the raw path: an id
# in a label would be one time series per person.
HTTP_REQUEST_SECONDS = Histogram(
    "dn_http_request_seconds",
    "HTTP request latency (GraphQL operations are POST /graphql on the gateway)",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
