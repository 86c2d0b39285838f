"""A rebuild on the real broker and MongoDB: it replays the topics into a new version while
the live consumer keeps going, switches reads over, and the figures equal a from-scratch
computation of every event, including those sent during the rebuild."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.event import EventData
from contracts.orientation import OutcomeClass, PlacementKind, PlacementRecordedV1
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
)
from contracts.topics import ORIENTATION_EVENTS, REGISTRATION_EVENTS, TRAINING_EVENTS
from contracts.training import AttendanceRecordedV1, AttendanceStatus, BeneficiaryTrainedV1
from services.reporting.rebuild import rebuild
from services.reporting.store import ReportingStore
from tests.histories import Delivery, from_scratch
from tests.integration.conftest import Projection, as_record
from tests.support import eventually

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPIC = {"registration": REGISTRATION_EVENTS, "training": TRAINING_EVENTS,
         "orientation": ORIENTATION_EVENTS}  # fmt: skip


def programme(association: str, people: list[UUID]) -> list[Delivery]:
    """Enrolments, attendance, completions and placements of ``people``; the last one is a
    duplicate record merged into the first, the one before is erased at the end."""
    deliveries: list[Delivery] = []

    def add(topic: str, event: EventData) -> None:
        deliveries.append(Delivery(topic, event, event.to_event(f"dn/{topic}")))

    for n, person in enumerate(people):
        add("registration", BeneficiaryEnrolledV1(
            beneficiary_id=person, association_id=association,
            district_id=("qpv-benauge", "qpv-aubiers-lac")[n % 2],
            gender=(Gender.FEMALE, Gender.MALE, Gender.NON_BINARY)[n % 3],
            age_band=AgeBand.FROM_26_TO_44, tracks=[Track.DIGITAL_CAREERS],
            employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
            enrolled_at=START + timedelta(days=n),
        ))  # fmt: skip
        for week in range(n % 6):
            starts = START + timedelta(weeks=week, days=n)
            present = week % 4 != 3
            add("training", AttendanceRecordedV1(
                beneficiary_id=person, attendance_id=f"{person}-{week}",
                session_id=f"{association}-s{week}",
                status=AttendanceStatus.PRESENT if present else AttendanceStatus.UNEXCUSED_ABSENCE,
                minutes=180 if present else 0, module_id="m-1", association_id=association,
                session_starts_at=starts, recorded_at=starts + timedelta(hours=3),
            ))  # fmt: skip
        if n % 6 >= 4:
            add("training", BeneficiaryTrainedV1(
                beneficiary_id=person, sessions_present=4, minutes_present=720,
                trained_at=START + timedelta(weeks=5, days=n),
            ))  # fmt: skip
        if n % 5 == 0:
            add("orientation", PlacementRecordedV1(
                beneficiary_id=person, placement_id=uuid4(), kind=PlacementKind.CDI,
                outcome_class=OutcomeClass.DURABLE_EMPLOYMENT, directed_to_employment=True,
                digital_sector=True, starts_on=date(2026, 6, 1), recorded_at=START,
            ))  # fmt: skip
    add("registration", BeneficiariesMergedV1(
        beneficiary_id=people[0], merged_id=people[-1], merged_at=START + timedelta(days=90),
    ))  # fmt: skip
    add("registration", BeneficiaryErasedV1(
        beneficiary_id=people[-2], erased_at=START + timedelta(days=95), reason="retention",
    ))  # fmt: skip
    return deliveries


async def send(projection: Projection, deliveries: list[Delivery]) -> None:
    """Produce as a partner system's producer would: many records per batch (a broker that
    misreports a batch's end offset must not make the rebuild miss the rest of it)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=projection.bootstrap, acks="all", linger_ms=20, max_batch_size=65536
    )
    await producer.start()
    try:
        for delivery in deliveries:
            value, headers = as_record(delivery.ce)
            key = (delivery.ce.subject or "").encode()
            await producer.send(TOPIC[delivery.topic], value=value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


def scope_counters(expected: dict[tuple[tuple[str, str | None, str | None], str], int],
                   scope: str) -> dict[tuple[str | None, str | None, str], int]:  # fmt: skip
    return {(d, v, i): n for ((s, d, v), i), n in expected.items() if s == scope}


async def stored_counters(
    projection: Projection, scope: str
) -> dict[tuple[str | None, str | None, str], int]:
    return await counters_in(await projection.store(), scope)


async def counters_in(
    store: ReportingStore, scope: str
) -> dict[tuple[str | None, str | None, str], int]:
    """The scope's non-zero counters, keyed (dimension, value, indicator)."""
    found = {}
    for document in await store.counters_of(scope):
        for indicator, value in document.items():
            if indicator not in ("_id", "scope", "dimension", "value") and value:
                found[(document["dimension"], document["value"], indicator)] = value
    return found


async def test_rebuild_switches_to_a_version_equal_to_a_from_scratch_computation(
    projection: Projection,
) -> None:
    association = f"asso-{uuid4().hex[:8]}"
    scope = f"association:{association}"
    deliveries = programme(association, [uuid4() for _ in range(30)])
    before, during = deliveries[: len(deliveries) // 2], deliveries[len(deliveries) // 2 :]
    await send(projection, before)
    expected_before = scope_counters(from_scratch(before), scope)
    await eventually(
        lambda: stored_counters(projection, scope),
        lambda found: found == expected_before,
        timeout_s=60,
        what="live projection of the first half",
    )
    old_version = (await projection.store()).version

    # The rebuild replays everything while the second half arrives live.
    rebuilding = asyncio.create_task(
        rebuild(projection.client, projection.versions, projection.bootstrap, batch=500)
    )
    await send(projection, during[:20])
    await asyncio.sleep(0.5)
    await send(projection, during[20:] + during[:5])  # a few redelivered
    report = await rebuilding

    assert report.version > old_version
    assert report.retired == old_version
    assert (await projection.store()).version == report.version
    expected = scope_counters(from_scratch(deliveries), scope)
    final = await eventually(
        lambda: stored_counters(projection, scope),
        lambda found: found == expected,
        timeout_s=60,
        what="rebuilt version equal to the from-scratch computation",
    )
    assert final[(None, None, "enrolled")] == 29  # 30 records, one merged into another
    assert final[(None, None, "directed_to_employment")] == 6
    db = projection.versions.db
    assert not [n for n in await db.list_collection_names() if n.startswith(f"v{old_version}_")]
