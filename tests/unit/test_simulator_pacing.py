"""The partner simulator's sending: each request exactly once, and with ``max_unconfirmed`` it
waits for the platform."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import cast
from uuid import uuid4

from aiokafka import AIOKafkaProducer, ConsumerRecord

from contracts.training import AttendanceRecordedV1, AttendanceReportedV1
from dn.simulation.delivery import Delivery, DeliveryOptions, _encoded
from dn.simulation.programme import plan_programme
from kit.outbox import partition_of

NOW = datetime(2026, 6, 15, 18, 0, tzinfo=UTC)


async def test_sending_waits_while_too_many_requests_are_unconfirmed() -> None:
    programme = plan_programme(seed=1, people=5, days=30, now=NOW)
    delivery = Delivery(programme, "unused:9092", DeliveryOptions(max_unconfirmed=2))
    delivery.report.sent["dn.intake.registration.enrolment_requested.v1"] = 2

    waiting = asyncio.create_task(delivery._wait_for_room())
    await asyncio.sleep(0.2)
    assert not waiting.done()
    delivery.report.confirmed = 1

    assert await asyncio.wait_for(waiting, 1.0) is True


async def test_without_a_limit_sending_never_waits() -> None:
    programme = plan_programme(seed=1, people=5, days=30, now=NOW)
    delivery = Delivery(programme, "unused:9092")
    delivery.report.sent["dn.intake.registration.enrolment_requested.v1"] = 10_000

    assert await asyncio.wait_for(delivery._wait_for_room(), 1.0) is False


class RecordingProducer:
    """Stands in for the Kafka producer: keeps the ``ce_id`` of every record sent."""

    def __init__(self) -> None:
        self.ce_ids: Counter[str] = Counter()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        headers: list[tuple[str, bytes]],
        partition: int,
    ) -> asyncio.Future[object]:
        assert partition == partition_of(key, 3)  # as the producer's own partitioner
        self.ce_ids[dict(headers)["ce_id"].decode()] += 1
        acknowledged: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged


async def test_every_request_is_sent_exactly_once() -> None:
    programme = plan_programme(seed=3, people=20, days=60, now=NOW)
    delivery = Delivery(programme, "unused:9092", DeliveryOptions(rate=1_000_000.0))
    producer = RecordingProducer()

    sending = cast(AIOKafkaProducer, producer)
    await delivery._send_all(sending, await _encoded(sending, programme.requests))

    assert producer.ce_ids == Counter(str(r.ce_id) for r in programme.requests)
    assert set(producer.ce_ids.values()) == {1}
    assert delivery.report.sent_total == len(programme.requests)
    assert delivery.report.resent == 0


def test_a_canonical_event_confirms_its_request_and_other_records_are_passed_over() -> None:
    """The run decodes the data of the types that confirm a request, nothing else."""
    programme = plan_programme(seed=3, people=20, days=60, now=NOW)
    delivery = Delivery(programme, "unused:9092")
    request = next(r for r in programme.requests if isinstance(r.data, AttendanceReportedV1))
    data = request.data
    assert isinstance(data, AttendanceReportedV1)
    recorded = AttendanceRecordedV1(
        attendance_id=str(uuid4()), session_id=data.session_id, beneficiary_id=data.beneficiary_id,
        association_id="asso-lac-connecte", module_id="m", status=data.status,
        minutes=data.minutes or 0, session_starts_at=NOW, recorded_at=NOW,
    )  # fmt: skip

    def record(value: bytes, ce_type: str) -> ConsumerRecord[bytes, bytes]:
        headers = [("ce_type", ce_type.encode()), ("content-type", b"application/json")]
        return ConsumerRecord("t", 0, 0, 0, 0, b"k", value, None, len(value), 0, headers)

    delivery._fact(record(b"{not json", recorded.event_type))  # unreadable: passed over
    delivery._fact(record(b"{}", "dn.registration.district_announced.v1"))  # confirms nothing
    assert delivery.report.confirmed == 0
    value, _ = recorded.to_event("dn/training").to_kafka()
    delivery._fact(record(value, recorded.event_type))
    assert delivery.report.confirmed == 1
    delivery._fact(record(value, recorded.event_type))  # seen again: counted once
    assert delivery.report.confirmed == 1
