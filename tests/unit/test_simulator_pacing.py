"""The partner simulator's flow control: with ``max_unconfirmed`` it waits for the platform."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from kit.simulation.delivery import Delivery, DeliveryOptions
from kit.simulation.programme import plan_programme

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
