"""At-least-once consumption on the real broker: once per ce_id, bad input dead-lettered."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from contracts.envelope import CloudEvent
from contracts.topics import DEAD_LETTER, REGISTRATION_EVENTS
from tests.integration.conftest import POISON_SUBJECT, Projection, as_record, enrolment
from tests.support import eventually, header, produce, read_topic

pytestmark = pytest.mark.integration


def association() -> str:
    return f"asso-{uuid4().hex[:8]}"


async def test_redelivered_event_changes_projection_once(projection: Projection) -> None:
    target = association()
    value, headers = as_record(enrolment(target).to_event("dn/test"))
    sentinel_value, sentinel_headers = as_record(enrolment(target).to_event("dn/test"))
    key = target.encode()  # one key: one partition, so the sentinel comes after both copies

    await produce(
        projection.bootstrap,
        REGISTRATION_EVENTS,
        [(key, value, headers), (key, value, headers), (key, sentinel_value, sentinel_headers)],
    )

    # The sentinel is processed after both copies; a double count would show 3.
    enrolled = await eventually(
        lambda: projection.enrolled(target), lambda n: n >= 2, what="sentinel processed"
    )
    assert enrolled == 2


async def test_malformed_message_is_dead_lettered_while_next_good_message_is_processed(
    projection: Projection,
) -> None:
    target = association()
    # Readable JSON, but without the ce_* headers that make it an event.
    garbage = b'{"beneficiary_id": "' + uuid4().hex.encode() + b'"}'
    partner_header = ("x-partner-note", b"\xff\xfe not utf-8")
    good_value, good_headers = as_record(enrolment(target).to_event("dn/test"))
    key = target.encode()

    await produce(
        projection.bootstrap,
        REGISTRATION_EVENTS,
        [
            (key, garbage, [("content-type", b"application/json"), partner_header]),
            (key, good_value, good_headers),
        ],
    )

    assert await eventually(lambda: projection.enrolled(target), lambda n: n == 1) == 1
    records = await read_topic(
        projection.bootstrap, DEAD_LETTER, until=lambda rs: any(r.value == garbage for r in rs)
    )
    dead = next(r for r in records if r.value == garbage)
    assert dead.key == key
    assert header(dead, "dn_error") == "missing_attribute"
    assert "ce_id" in (header(dead, "dn_error_detail") or "")
    assert header(dead, "dn_source_topic") == REGISTRATION_EVENTS
    assert header(dead, "dn_failed_at")
    assert partner_header in list(dead.headers), "original headers are kept byte for byte"


async def test_invalid_json_is_dead_lettered_with_its_reason(projection: Projection) -> None:
    event = enrolment(association()).to_event("dn/test")
    _, headers = as_record(event)
    garbage = b"not json at all " + uuid4().hex.encode()

    await produce(projection.bootstrap, REGISTRATION_EVENTS, [(b"k", garbage, headers)])

    records = await read_topic(
        projection.bootstrap, DEAD_LETTER, until=lambda rs: any(r.value == garbage for r in rs)
    )
    dead = next(r for r in records if r.value == garbage)
    assert header(dead, "dn_error") == "invalid_json"
    assert header(dead, "ce_id") == str(event.id)


async def test_unknown_event_type_is_dead_lettered(projection: Projection) -> None:
    event = CloudEvent(
        source="dn/test", type="dn.registration.something_new.v9", subject="x", data={"a": 1}
    )
    value, headers = as_record(event)

    await produce(projection.bootstrap, REGISTRATION_EVENTS, [(b"x", value, headers)])

    records = await read_topic(
        projection.bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == str(event.id) for r in rs),
    )
    dead = next(r for r in records if header(r, "ce_id") == str(event.id))
    assert header(dead, "dn_error") == "unknown_type"
    assert "something_new" in (header(dead, "dn_error_detail") or "")


async def test_event_failing_every_retry_is_dead_lettered_and_the_partition_moves_on(
    projection: Projection,
) -> None:
    target = association()
    poison = CloudEvent(
        source="dn/test",
        type="dn.registration.beneficiary_enrolled.v1",
        subject=POISON_SUBJECT,
        data=enrolment(target).model_dump(mode="json"),
    )
    poison_value, poison_headers = as_record(poison)
    good_value, good_headers = as_record(enrolment(target).to_event("dn/test"))
    key = target.encode()

    await produce(
        projection.bootstrap,
        REGISTRATION_EVENTS,
        [(key, poison_value, poison_headers), (key, good_value, good_headers)],
    )

    assert await eventually(lambda: projection.enrolled(target), lambda n: n == 1) == 1
    records = await read_topic(
        projection.bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == str(poison.id) for r in rs),
    )
    dead = next(r for r in records if header(r, "ce_id") == str(poison.id))
    assert header(dead, "dn_error") == "processing_failed"
    assert "RuntimeError: this event always fails" in (header(dead, "dn_error_detail") or "")


async def test_consumer_lag_is_exposed_per_partition_and_returns_to_zero(
    projection: Projection,
) -> None:
    """A burst on one partition shows as dn_consumer_lag while the batches drain, then 0."""
    target = association()
    burst = [as_record(enrolment(target).to_event("dn/test")) for _ in range(3_000)]
    key = target.encode()
    seen: list[float] = []
    labels: dict[str, str] = {}

    def lag() -> float | None:
        if not labels:
            return None
        return REGISTRY.get_sample_value("dn_consumer_lag", labels)

    async def watch() -> None:
        while True:
            if (value := lag()) is not None:
                seen.append(value)
            await asyncio.sleep(0.005)

    producer = AIOKafkaProducer(bootstrap_servers=projection.bootstrap, acks="all")
    await producer.start()
    try:
        first = await producer.send_and_wait(
            REGISTRATION_EVENTS, burst[0][0], key, headers=burst[0][1]
        )
        labels.update(
            group=projection.group_id, topic=REGISTRATION_EVENTS, partition=str(first.partition)
        )
        watcher = asyncio.create_task(watch())
        for value, headers in burst[1:]:
            await producer.send(REGISTRATION_EVENTS, value, key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
    try:
        await eventually(lambda: projection.enrolled(target), lambda n: n == len(burst))
    finally:
        watcher.cancel()
    assert max(seen) > 0, "the backlog of the burst was visible while it drained"
    assert lag() == 0, "caught up: nothing behind on that partition"
