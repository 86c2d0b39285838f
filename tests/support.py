"""Test helpers that talk to the real broker as a partner or an auditor would, and read GraphQL
answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kit.kafka_ends import true_end_offsets

T = TypeVar("T")
Record = ConsumerRecord[bytes, bytes]


class ManualClock:
    """A clock the test moves by hand (``clock.now += 1.5``), for code taking ``clock=``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[Record]], bool],
    timeout_s: float = 30.0,
) -> list[Record]:
    """Every record of ``topic`` from the beginning, read until ``until(records)`` holds.

    No consumer group: partitions are assigned by hand, so there is no join delay.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            await consumer.topics()  # refresh metadata once
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        deadline = time.monotonic() + timeout_s
        while not until(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: condition not met within {timeout_s} s")
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
        return records
    finally:
        await consumer.stop()


async def produce(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
) -> None:
    """Send (key, value, headers) records in order, waiting for each acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    timeout_s: float = 30.0,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until ``accept`` holds; fails with the last value seen."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s; last value: {value!r}")
        await asyncio.sleep(0.1)


def header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


async def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every record currently in ``topic`` (up to the true end offsets seen at the start)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = await true_end_offsets(consumer, partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []

        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
        return records
    finally:
        await consumer.stop()


def graphql_data(response: httpx.Response) -> dict[str, Any]:
    """A GraphQL answer's ``data``, failing the test with the answer when it holds errors."""
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]
    return found


@contextlib.contextmanager
def recording_spans(
    *modules: ModuleType,
) -> Iterator[tuple[InMemorySpanExporter, trace.Tracer]]:
    """Spans kept in memory, from a tracer provider of the block's own, and a tracer of it;
    ``modules``' own tracers (``tracer``, ``_tracer``) use it for the block. Never the
    process's global provider: set in this test process, it would make the instrumented HTTP
    clients of the e2e tests send their trace context to the gateway, whose request would then
    hang under a span no span file holds (the one-trace tests fail)."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    patched: list[tuple[ModuleType, str, object]] = []
    for module in modules:
        for name in ("tracer", "_tracer"):
            if hasattr(module, name):
                patched.append((module, name, getattr(module, name)))
                setattr(module, name, provider.get_tracer(module.__name__))
    try:
        yield exporter, provider.get_tracer("tests")
    finally:
        for module, name, original in patched:
            setattr(module, name, original)
        provider.shutdown()
