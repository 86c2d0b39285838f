"""The partner simulator's sending: each request exactly once, and with ``max_unconfirmed`` it
waits for the platform."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import cast

from aiokafka import AIOKafkaProducer

from dn.simulation.delivery import Delivery, DeliveryOptions
from dn.simulation.programme import plan_programme

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

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[object]:
        self.ce_ids[dict(headers)["ce_id"].decode()] += 1
        acknowledged: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged


async def test_every_request_is_sent_exactly_once() -> None:
    programme = plan_programme(seed=3, people=20, days=60, now=NOW)
    delivery = Delivery(programme, "unused:9092", DeliveryOptions(rate=1_000_000.0))
    producer = RecordingProducer()

    await delivery._send_all(cast(AIOKafkaProducer, producer))

    assert producer.ce_ids == Counter(str(r.ce_id) for r in programme.requests)
    assert set(producer.ce_ids.values()) == {1}
    assert delivery.report.sent_total == len(programme.requests)
    assert delivery.report.resent == 0
