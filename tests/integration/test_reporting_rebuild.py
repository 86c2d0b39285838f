"""A rebuild on the real broker and MongoDB: it replays the topics into a new version while
the live consumer keeps going, switches reads over, and the figures equal a from-scratch
computation of every event, including those sent during the rebuild."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.event import EventData
from contracts.orientation import OutcomeClass, PlacementKind, PlacementRecordedV1
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
)
from contracts.topics import ORIENTATION_EVENTS, REGISTRATION_EVENTS, TRAINING_EVENTS
from contracts.training import (
    AnonymousAttendanceRecordedV1,
    AttendanceRecordedV1,
    AttendanceStatus,
    BeneficiaryTrainedV1,
    SessionKind,
    SessionScheduledV1,
)
from kit.kafka_ends import true_end_offsets
from kit.log_positions import LOG_HEADER, POSITION_HEADER
from kit.mongo import Document
from services.reporting.handlers import TOPICS
from services.reporting.rebuild import LogHead, ReplayShort, rebuild
from services.reporting.store import ReportingStore
from tests.conftest import TestInfra
from tests.histories import Delivery, from_scratch
from tests.integration.conftest import Projection, as_record, enrolment, live_projection
from tests.support import eventually

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPIC = {"registration": REGISTRATION_EVENTS, "training": TRAINING_EVENTS,
         "orientation": ORIENTATION_EVENTS}  # fmt: skip


def programme(association: str, people: list[UUID]) -> list[Delivery]:
    """Enrolments, attendance, completions and placements of ``people``; the last one is a
    duplicate record merged into the first, the one before is erased at the end. Three of the
    association's sessions get anonymous headcounts: a collective one counted 6 then corrected
    to 4, a collective one whose headcount of 5 comes before its schedule, a staff one (3, not
    residents reached): 9 anonymous attendees."""
    deliveries: list[Delivery] = []

    def add(topic: str, event: EventData) -> None:
        deliveries.append(Delivery(topic, event, event.to_event(f"dn/{topic}")))

    corrected, late, staff = (f"{association}-workshop-{n}" for n in range(3))
    for n, person in enumerate(people):
        if n == 3:  # in the first half: the live projection counts these before the rebuild
            add("training", headcount(late, 5, START + timedelta(days=2, hours=3)))
            add("training", session(corrected, association, SessionKind.COLLECTIVE))
            add("training", headcount(corrected, 6, START + timedelta(hours=3)))
            add("training", session(staff, association, SessionKind.STAFF))
            add("training", headcount(staff, 3, START + timedelta(hours=3)))
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
    add("training", headcount(corrected, 4, START + timedelta(hours=4)))
    add("training", session(late, association, SessionKind.COLLECTIVE, days=2))
    return deliveries


def session(
    session_id: str, association: str, kind: SessionKind, days: int = 0
) -> SessionScheduledV1:
    return SessionScheduledV1(
        session_id=session_id, association_id=association, district_id="qpv-benauge",
        module_id="m-1", kind=kind, place_type="association_premises",
        starts_at=START + timedelta(days=days), duration_minutes=180,
    )  # fmt: skip


def headcount(session_id: str, count: int, at: datetime) -> AnonymousAttendanceRecordedV1:
    return AnonymousAttendanceRecordedV1(session_id=session_id, count=count, recorded_at=at)


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


async def publish_log(
    bootstrap: str, deliveries: list[Delivery], log_id: str, partition: int = 0
) -> None:
    """Publish as a service's relay does: one partition of its topic, positions 1, 2, 3 … in
    ``dn_log`` / ``dn_position``, many sends in flight and their acks gathered (so the producer
    packs them into multi-record batches)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=65536
    )
    await producer.start()
    try:
        sent = []
        for position, delivery in enumerate(deliveries, start=1):
            value, headers = as_record(delivery.ce)
            headers += [(LOG_HEADER, log_id.encode()), (POSITION_HEADER, str(position).encode())]
            key = (delivery.ce.subject or "").encode()
            sent.append(
                await producer.send(
                    TOPIC[delivery.topic], value, key=key, headers=headers, partition=partition
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def enrolments(association: str, count: int) -> list[Delivery]:
    events = [enrolment(association) for _ in range(count)]
    return [Delivery("registration", e, e.to_event("dn/registration")) for e in events]


async def records_in_canonical_topics(bootstrap: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, n)
            for topic in TOPICS
            for n in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        starts = await consumer.beginning_offsets(partitions)
        ends = await true_end_offsets(consumer, partitions)
        return sum(ends[p] - starts[p] for p in partitions)
    finally:
        await consumer.stop()


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
    assert final[(None, None, "anonymous_attendees")] == 9  # 4 (corrected from 6) + 5
    assert final[("district", "qpv-benauge", "anonymous_attendees")] == 9
    assert final[("association", association, "anonymous_attendees")] == 9
    db = projection.versions.db
    assert not [n for n in await db.list_collection_names() if n.startswith(f"v{old_version}_")]


async def test_a_batched_log_is_replayed_whole_and_live_lag_reaches_zero_only_once_applied(
    infra: TestInfra, mongo: AsyncMongoClient[Document]
) -> None:
    """1,200 events a relay published in multi-record batches (the embedded broker's listed
    end is then its newest batch's start + 1): the live projection's lag counts down to 0 only
    when the last one is applied, and a rebuild replays every record."""
    association = f"asso-{uuid4().hex[:8]}"
    scope = f"association:{association}"
    deliveries = enrolments(association, 1200)
    log_id = uuid4().hex
    await publish_log(infra.kafka_bootstrap, deliveries, log_id)

    # A live projection started after the publication: every fetch it makes knows the real end.
    async with live_projection(infra.kafka_bootstrap, mongo) as fresh:
        labels = {"group": fresh.group_id, "topic": REGISTRATION_EVENTS, "partition": "0"}
        samples: list[tuple[int, float | None, int]] = []  # applied, lag, applied again
        deadline = time.monotonic() + 90  # the new group's assignment takes seconds
        while not samples or samples[-1][1:] != (0, len(deliveries)):
            assert time.monotonic() < deadline, f"the projection did not catch up: {samples[-3:]}"
            samples.append(
                (
                    await fresh.enrolled(association),
                    REGISTRY.get_sample_value("dn_consumer_lag", labels),
                    await fresh.enrolled(association),
                )
            )
            if samples[-1][0] == 0:  # not started: no need to read as fast as it can
                await asyncio.sleep(0.02)
        # The lag read between two counts: the gauge is set after a batch is applied, so 0
        # there with the second count short would mean "caught up" before the last record.
        # (None: the first batch of the partition is applied but its lag not yet set.)
        draining = [(b, lag, a) for b, lag, a in samples if b > 0 and a < 1200 and lag is not None]
        assert draining, "the drain was sampled while records remained"
        assert all(lag is not None and lag > 0 for _, lag, _ in draining), draining
        assert all(after == 1200 for before, lag, after in samples if before > 0 and lag == 0)

        held = await records_in_canonical_topics(infra.kafka_bootstrap)
        old_version = (await fresh.store()).version
        report = await rebuild(
            fresh.client,
            fresh.versions,
            fresh.bootstrap,
            heads={TopicPartition(REGISTRATION_EVENTS, 0): LogHead("registration", log_id, 1200)},
        )
        # At least what the topics held at the start (the embedded broker listed less); more
        # when a service still running from another test published meanwhile.
        assert report.events >= held
        assert report.applied + report.skipped == report.events
        assert report.retired == old_version
        expected = scope_counters(from_scratch(deliveries), scope)
        assert await counters_in(await fresh.store(), scope) == expected
        assert expected[(None, None, "enrolled")] == 1200


async def test_a_rebuild_refuses_to_switch_when_the_broker_holds_less_than_the_logs(
    projection: Projection,
) -> None:
    """The services' logs say 10 events were published in a partition where the broker holds
    3 (it restarted empty; the relay is re-publishing): the new version is abandoned and the
    old one keeps serving, its figures untouched."""
    association = f"asso-{uuid4().hex[:8]}"
    scope = f"association:{association}"
    log_id = uuid4().hex
    await publish_log(projection.bootstrap, enrolments(association, 3), log_id)
    before = await eventually(
        lambda: stored_counters(projection, scope),
        lambda found: found.get((None, None, "enrolled")) == 3,
        timeout_s=60,
        what="live projection of the three enrolments",
    )
    old_version = (await projection.store()).version

    with pytest.raises(ReplayShort) as refused:
        await rebuild(
            projection.client,
            projection.versions,
            projection.bootstrap,
            heads={TopicPartition(REGISTRATION_EVENTS, 0): LogHead("registration", log_id, 10)},
            stall_s=1.0,
        )

    assert refused.value.logs == {"registration": (3, 10)}
    assert refused.value.serving == old_version
    assert str(refused.value).startswith(
        "the broker holds 3 of the 10 events the services' logs have published "
        f"(registration: 3 of 10); version {old_version} keeps serving."
    )
    registry = await projection.versions.current()
    assert (registry.active, registry.building) == (old_version, None)
    db = projection.versions.db
    versions_left = {name.split("_")[0] for name in await db.list_collection_names()}
    assert {v for v in versions_left if v.startswith("v")} == {f"v{old_version}"}
    assert await stored_counters(projection, scope) == before
