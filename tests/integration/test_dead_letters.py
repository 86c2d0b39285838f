"""Dead letters on the real broker: a record as large as a partner may send is kept whole; one
too large to carry is dead-lettered without its value rather than retried for ever."""

from __future__ import annotations

from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord

from contracts.topics import DEAD_LETTER, INTAKE_TRAINING
from kit.deadletter import MAX_DEAD_LETTER_BYTES, DeadLetters
from tests.conftest import TestInfra
from tests.support import header, read_topic

pytestmark = pytest.mark.integration

# The most a producer sends in one record with its default max_request_size (1 MiB): the dead
# letter adds the dn_* headers on top.
LARGEST_PARTNER_VALUE = 1_048_000


def record(value: bytes, marker: str) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=INTAKE_TRAINING, partition=0, offset=1, timestamp=0, timestamp_type=0,
        key=marker.encode(), value=value, checksum=None, serialized_key_size=len(marker),
        serialized_value_size=len(value), headers=[("probe", marker.encode())],
    )  # fmt: skip


async def dead_letter_of(infra: TestInfra, marker: str) -> ConsumerRecord[bytes, bytes]:
    records = await read_topic(
        infra.kafka_bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "probe") == marker for r in rs),
    )
    return next(r for r in records if header(r, "probe") == marker)


async def test_a_record_as_large_as_a_partner_may_send_is_dead_lettered_whole(
    infra: TestInfra,
) -> None:
    marker = f"largest-{uuid4()}"
    value = b"{" + b"x" * LARGEST_PARTNER_VALUE
    dead_letters = DeadLetters(infra.kafka_bootstrap, consumer="test-dead-letters")
    await dead_letters.start()
    try:
        await dead_letters.send(record(value, marker), "invalid_json", "x" * 5000)
    finally:
        await dead_letters.stop()

    dead = await dead_letter_of(infra, marker)
    assert dead.value == value
    assert header(dead, "dn_error") == "invalid_json"


async def test_a_record_too_large_for_a_dead_letter_is_sent_without_its_value(
    infra: TestInfra,
) -> None:
    marker = f"too-large-{uuid4()}"
    value = b"x" * (MAX_DEAD_LETTER_BYTES + 1)
    dead_letters = DeadLetters(infra.kafka_bootstrap, consumer="test-dead-letters")
    await dead_letters.start()
    try:
        await dead_letters.send(record(value, marker), "invalid_json", "not JSON")
    finally:
        await dead_letters.stop()

    dead = await dead_letter_of(infra, marker)
    assert dead.value is None
    assert dead.key == marker.encode()
    assert header(dead, "dn_value_omitted") == str(len(value))
    assert header(dead, "dn_error") == "invalid_json"
