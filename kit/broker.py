"""The FastStream Kafka broker every service uses, and the outbox's publish function."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from kit.outbox import Publish


def build_broker(bootstrap: str, client_id: str) -> KafkaBroker:
    # The telemetry middleware injects traceparent on publish and parents the consume span on
    # it; AIOKafkaInstrumentor must not also run on this path or each hop is traced twice.
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        acks="all",
        middlewares=[KafkaTelemetryMiddleware()],
        log_level=logging.DEBUG,
    )


def outbox_publisher(broker: KafkaBroker) -> Publish:
    async def publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        await broker.publish(value, topic, key=key, headers=headers)

    return publish
