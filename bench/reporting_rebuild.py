"""Reporting catch-up and freshness: rebuild rate next to the raw consume rate, and the delay
from event to projection at a steady live load, printed as JSON.

Starts its own embedded MongoDB and broker on free ports in a temporary DN_HOME (or uses
DN_MONGODB_URL / DN_KAFKA_BOOTSTRAP, with a database of its own), produces canonical events as
the services emit them (CloudEvents binary mode, keyed by beneficiary), then measures, in one run:

1. consume only: every record of the three canonical topics read with ``getmany``, nothing
   decoded — the ceiling a catch-up could reach on this machine;
2. rebuild: :func:`services.reporting.rebuild.rebuild` into a fresh database, checked against
   the programme-wide totals counted from the generated events;
3. freshness: the live subscriber wired as ``services/reporting/app.py`` wires it
   (``subscribe_batch`` + ``ProjectionHandler``) in a process of its own, fed at
   ``--steady-rate`` events/s for ``--steady-seconds``; freshness is projection commit time
   minus event time, as the handler's ``Freshness`` records it.

Usage: python -m bench.reporting_rebuild [--events 200000] [--steady-rate 200]
       [--steady-seconds 30] [--profile]   (--profile: cProfile of the rebuild on stderr)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from bench.stats import report_path
from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.orientation import (
    FollowUpRecordedV1,
    PartnerKind,
    PlacementKind,
    PlacementRecordedV1,
    ReferralMadeV1,
    WorkshopAttendedV1,
)
from contracts.registration import BeneficiaryEnrolledV1, BeneficiaryWithdrawnV1
from contracts.training import (
    AssessmentStage,
    AttendanceRecordedV1,
    AttendanceStatus,
    Autonomy,
    BeneficiaryTrainedV1,
    SkillAssessedV1,
)
from dn.infra import EmbeddedInfra
from dn.platform import free_port
from dn.simulation.programme import ASSOCIATIONS, CAREERS_MODULES, INCLUSION_MODULES, JOB_FAMILIES
from kit.kafka_ends import true_end_offsets
from kit.mongo import connect
from kit.settings import Settings
from services.orientation.domain import outcome_class
from services.reporting.handlers import TOPICS
from services.reporting.rebuild import RebuildReport, rebuild
from services.reporting.store import Versions

RESULTS = report_path("reporting_rebuild")
SEED = 20260105
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PRODUCE_WINDOW = 5000
# The live consumer's warm-up ends once it is up to date (delay < 1 s) or after this long.
WARM_UP_LIMIT_S = 90.0  # sends in flight before waiting for their acknowledgements
Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]  # topic, key, value, headers
# The ALL-scope totals checked after the rebuild (services/reporting/domain.py names).
CHECKED = (
    "enrolled",
    "attended",
    "trained",
    "withdrawn",
    "career_workshop",
    "referred",
    "placed",
    "directed_to_employment",
    "in_post_6m",
    "sessions_present",
    "sessions_excused",
    "sessions_unexcused",
    "minutes_present",
)


# -- the programme's events -----------------------------------------------------------------------


@dataclass
class Beneficiary:
    id: UUID
    association_id: str
    modules: tuple[str, ...]


@dataclass
class GeneratedProgramme:
    """What was produced, and the totals the projection must show for it."""

    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    truth: Counter[str] = field(default_factory=Counter)
    people: list[Beneficiary] = field(default_factory=list)


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _record(data: EventData, at: datetime | None = None) -> Record:
    """The Kafka record the service's outbox relay would publish for ``data``."""
    service = data.topic.split(".")[1]
    event = data.to_event(f"dn/{service}", **({"time": at} if at else {}))
    value, headers = event.to_kafka()
    key = data.subject().encode()
    return data.topic, key, value, [(name, text.encode()) for name, text in headers.items()]


def person_events(rng: random.Random, index: int, truth: Counter[str]) -> Iterator[EventData]:
    """One person's year: enrolment, ~15 sessions, assessments, completion, and for the careers
    track workshops, referral, placement and follow-up. Counts what it emits into ``truth``."""
    person = _uuid(rng)
    association = ASSOCIATIONS[index % len(ASSOCIATIONS)]
    roll = rng.random()
    tracks = (
        [Track.DIGITAL_INCLUSION]
        if roll < 0.7
        else [Track.DIGITAL_CAREERS]
        if roll < 0.9
        else [Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS]
    )
    enrolled_at = START + timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 8))
    yield BeneficiaryEnrolledV1(
        beneficiary_id=person,
        association_id=association.id,
        district_id=rng.choice(association.districts),
        gender=rng.choices(list(Gender), weights=(55, 40, 2, 3))[0],
        age_band=rng.choice([band for band in AgeBand if band is not AgeBand.UNKNOWN]),
        tracks=tracks,
        employment_status=rng.choice(list(EmploymentStatus)),
        enrolled_at=enrolled_at,
        shares_with_partners=rng.random() < 0.8,
    )
    truth["enrolled"] += 1
    modules = tuple(INCLUSION_MODULES if Track.DIGITAL_INCLUSION in tracks else CAREERS_MODULES)
    present = minutes = 0
    sessions = rng.randint(10, 20)
    for n in range(sessions):
        roll = rng.random()
        status = (
            AttendanceStatus.PRESENT
            if roll < 0.8
            else AttendanceStatus.EXCUSED_ABSENCE
            if roll < 0.88
            else AttendanceStatus.UNEXCUSED_ABSENCE
        )
        length = rng.choice((120, 180))
        attended = length if status is AttendanceStatus.PRESENT else 0
        starts = enrolled_at + timedelta(days=7 * (n + 1))
        module = modules[n % len(modules)]
        yield AttendanceRecordedV1(
            beneficiary_id=person,
            attendance_id=str(_uuid(rng)),
            session_id=f"session-{association.id}-{module}-{starts:%Y%m%d}",
            status=status,
            minutes=attended,
            module_id=module,
            association_id=association.id,
            session_starts_at=starts,
            recorded_at=starts + timedelta(hours=3),
        )
        present += status is AttendanceStatus.PRESENT
        minutes += attended
        truth[
            "sessions_"
            + {"present": "present", "excused_absence": "excused"}.get(status.value, "unexcused")
        ] += 1
    truth["minutes_present"] += minutes
    truth["attended"] += present > 0
    competences = (INCLUSION_MODULES | CAREERS_MODULES)[modules[0]]
    for competence in competences[:2]:
        stages = [AssessmentStage.INITIAL] + ([AssessmentStage.FINAL] if present >= 8 else [])
        for stage in stages:
            yield SkillAssessedV1(
                beneficiary_id=person,
                competence=competence,
                stage=stage,
                level=rng.randint(0, 3) + (2 if stage is AssessmentStage.FINAL else 0),
                autonomy=rng.choice(list(Autonomy)),
                assessed_at=enrolled_at
                + timedelta(days=7 if stage is AssessmentStage.INITIAL else 150),
            )
    if present >= 4 and minutes >= 720:
        yield BeneficiaryTrainedV1(
            beneficiary_id=person,
            sessions_present=present,
            minutes_present=minutes,
            trained_at=enrolled_at + timedelta(days=100),
        )
        truth["trained"] += 1
    if rng.random() < 0.05:
        yield BeneficiaryWithdrawnV1(
            beneficiary_id=person, withdrawn_at=enrolled_at + timedelta(days=60)
        )
        truth["withdrawn"] += 1
    if Track.DIGITAL_CAREERS in tracks and rng.random() < 0.8:
        yield from _orientation(rng, person, association.id, enrolled_at, truth)


def _orientation(
    rng: random.Random,
    person: UUID,
    association_id: str,
    enrolled_at: datetime,
    truth: Counter[str],
) -> Iterator[EventData]:
    yield WorkshopAttendedV1(
        beneficiary_id=person,
        workshop_id=_uuid(rng),
        association_id=association_id,
        job_families=rng.sample(JOB_FAMILIES, 2),
        women_focused=rng.random() < 0.3,
        held_at=enrolled_at + timedelta(days=40),
    )
    truth["career_workshop"] += 1
    if rng.random() >= 0.5:
        return
    yield ReferralMadeV1(
        beneficiary_id=person,
        referral_id=_uuid(rng),
        partner_kind=rng.choice(list(PartnerKind)),
        made_at=enrolled_at + timedelta(days=60),
    )
    truth["referred"] += 1
    if rng.random() >= 0.5:
        return
    kind = rng.choice(list(PlacementKind))
    placement_id = _uuid(rng)
    directed = kind is not PlacementKind.OTHER
    yield PlacementRecordedV1(
        beneficiary_id=person,
        placement_id=placement_id,
        kind=kind,
        outcome_class=outcome_class(kind),
        directed_to_employment=directed,
        digital_sector=rng.random() < 0.5,
        starts_on=(enrolled_at + timedelta(days=90)).date(),
        recorded_at=enrolled_at + timedelta(days=91),
    )
    truth["placed"] += 1
    truth["directed_to_employment"] += directed
    if rng.random() < 0.7:
        still = rng.random() < 0.7
        yield FollowUpRecordedV1(
            beneficiary_id=person,
            placement_id=placement_id,
            months=6,
            still_in_post=still,
            recorded_at=enrolled_at + timedelta(days=270),
        )
        truth["in_post_6m"] += still


async def produce_programme(bootstrap: str, events: int) -> tuple[GeneratedProgramme, float]:
    """Produce whole people until at least ``events`` events are out; returns what and how long.

    Batched, except each partition's last record, sent alone afterwards: the embedded broker
    (Tansu 0.6) reports a partition's end offset as its last batch's *base* offset + 1, so a
    reader stopping at the end offsets would miss the rest of a final batch."""
    rng = random.Random(SEED)
    programme = GeneratedProgramme()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    started = time.perf_counter()
    try:
        counts = {topic: len(await producer.partitions_for(topic)) for topic in TOPICS}
        held: dict[tuple[str, int], Record] = {}
        pending: list[asyncio.Future[Any]] = []
        index = 0
        while programme.events < events:
            for data in person_events(rng, index, programme.truth):
                if isinstance(data, BeneficiaryEnrolledV1):
                    modules = (
                        INCLUSION_MODULES
                        if Track.DIGITAL_INCLUSION in data.tracks
                        else CAREERS_MODULES
                    )
                    programme.people.append(
                        Beneficiary(data.beneficiary_id, data.association_id, tuple(modules))
                    )
                record = _record(data)
                topic, key = record[0], record[1]
                partition = (murmur2(key) & 0x7FFFFFFF) % counts[topic]
                previous = held.get((topic, partition))
                held[(topic, partition)] = record
                if previous is not None:
                    _, key, value, headers = previous
                    sent = await producer.send(
                        topic, value, key=key, headers=headers, partition=partition
                    )
                    pending.append(sent)
                programme.events += 1
                programme.by_type[data.event_type] += 1
                if len(pending) >= PRODUCE_WINDOW:
                    await asyncio.gather(*pending)
                    pending.clear()
            index += 1
        await asyncio.gather(*pending)
        for (topic, partition), (_, key, value, headers) in held.items():
            await producer.send_and_wait(
                topic, value, key=key, headers=headers, partition=partition
            )
    finally:
        await producer.stop()
    return programme, time.perf_counter() - started


async def records_in_topics(bootstrap: str) -> int:
    """What the broker says the canonical topics hold (end − beginning offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await canonical_partitions(consumer)
        ends = await true_end_offsets(consumer, partitions)
        starts = await consumer.beginning_offsets(partitions)
        return sum(ends[p] - starts[p] for p in partitions)
    finally:
        await consumer.stop()


def steady_events(rng: random.Random, programme: GeneratedProgramme) -> Iterator[EventData]:
    """What the live path sees on a normal day: mostly roll-calls for people already enrolled,
    some assessments and workshops, a few new enrolments."""
    truth: Counter[str] = Counter()  # live events are not part of the rebuild's check
    index = len(programme.people)
    while True:
        roll = rng.random()
        if roll < 0.07:
            enrolment = next(person_events(rng, index, truth))
            index += 1
            yield enrolment
            continue
        person = rng.choice(programme.people)
        now = datetime.now(UTC)
        if roll < 0.87:
            module = rng.choice(person.modules)
            yield AttendanceRecordedV1(
                beneficiary_id=person.id,
                attendance_id=str(_uuid(rng)),
                session_id=f"session-{person.association_id}-{module}-{now:%Y%m%d}",
                status=AttendanceStatus.PRESENT,
                minutes=180,
                module_id=module,
                association_id=person.association_id,
                session_starts_at=now - timedelta(hours=3),
                recorded_at=now,
            )
        elif roll < 0.95:
            yield SkillAssessedV1(
                beneficiary_id=person.id,
                competence=(INCLUSION_MODULES | CAREERS_MODULES)[person.modules[0]][0],
                stage=AssessmentStage.FINAL,
                level=rng.randint(1, 5),
                autonomy=Autonomy.AUTONOMOUS,
                assessed_at=now,
            )
        else:
            yield WorkshopAttendedV1(
                beneficiary_id=person.id,
                workshop_id=_uuid(rng),
                association_id=person.association_id,
                job_families=[rng.choice(JOB_FAMILIES)],
                women_focused=False,
                held_at=now,
            )


# -- consume only, rebuild ------------------------------------------------------------------------


async def canonical_partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    await consumer.topics()
    found = []
    for topic in TOPICS:
        found += [
            TopicPartition(topic, n) for n in sorted(consumer.partitions_for_topic(topic) or ())
        ]
    return found


async def consume_only(bootstrap: str) -> tuple[int, float]:
    """Every record of the canonical topics up to their end offsets, undecoded: (count, s)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = await canonical_partitions(consumer)
        ends = await true_end_offsets(consumer, partitions)
        starts = await consumer.beginning_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        count = 0
        remaining = {p for p in partitions if ends[p] > starts[p]}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=2000)
            for partition, records in fetched.items():
                count += sum(1 for record in records if record.offset < ends[partition])
            for partition in list(remaining):
                if await consumer.position(partition) >= ends[partition]:
                    remaining.discard(partition)
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


async def rebuild_and_check(
    mongodb_url: str, bootstrap: str, database: str, truth: Counter[str], profile: bool
) -> tuple[RebuildReport, dict[str, Any]]:
    client = connect(mongodb_url)
    try:
        versions = Versions(client[database])
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        report = await rebuild(client, versions, bootstrap)
        if profiler:
            profiler.disable()
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(40)
            print(text.getvalue(), file=sys.stderr)
        store = await versions.active_store()
        totals = next((c for c in await store.counters_of("all") if c["_id"] == "all"), {})
        rebuilt = {name: int(totals.get(name, 0)) for name in CHECKED}
        expected = {name: int(truth[name]) for name in CHECKED}
        mismatches = {
            name: {"expected": expected[name], "rebuilt": rebuilt[name]}
            for name in CHECKED
            if expected[name] != rebuilt[name]
        }
        check = {"ok": not mismatches, "totals": rebuilt, "mismatches": mismatches}
        return report, check
    finally:
        await client.close()


# -- the live path, in a process of its own ------------------------------------------------------


@dataclass(frozen=True)
class LiveSetup:
    home: str
    mongodb_url: str
    bootstrap: str
    database: str
    group_id: str


def live_reporting(setup: LiveSetup, commands: Connection) -> None:
    """Child process: reporting's live consumer, answering the parent's commands on a pipe."""
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # its logs stay out of the JSON report
    asyncio.run(_live_reporting(setup, commands))


async def _live_reporting(setup: LiveSetup, commands: Connection) -> None:
    # Wired as services/reporting/app.py and kit/service.py wire the reporting process, without
    # the HTTP server; tracing is on as it is there.
    from kit.broker import build_broker
    from kit.consumer import Fetching, subscribe_batch
    from kit.deadletter import DeadLetters
    from kit.telemetry import setup_telemetry
    from services.reporting.handlers import Freshness, ProjectionHandler
    from services.reporting.live import ImpactFeed

    settings = Settings(home=Path(setup.home))
    setup_telemetry("reporting", settings.home, flush_ms=settings.trace_flush_ms)
    client = connect(setup.mongodb_url)
    versions = Versions(client[setup.database])
    registry = await versions.current()
    await versions.store(registry.active).ensure_indexes()

    class SteadyFreshness(Freshness):
        """The handler's Freshness, also keeping every delay of events made after ``since``."""

        def __init__(self) -> None:
            super().__init__()
            self.since = datetime.max.replace(tzinfo=UTC)
            self.steady: list[float] = []

        def record(self, events: Sequence[CloudEvent], committed_at: datetime) -> None:
            super().record(events, committed_at)
            self.steady += [
                max((committed_at - event.time).total_seconds(), 0.0)
                for event in events
                if event.time >= self.since
            ]

    freshness = SteadyFreshness()
    handler = ProjectionHandler(client, versions, ImpactFeed(), freshness)
    broker = build_broker(setup.bootstrap, client_id="dn-reporting-bench")
    dead_letters = DeadLetters(setup.bootstrap, consumer="dn-reporting-bench")
    subscribe_batch(
        broker,
        *TOPICS,
        group_id=setup.group_id,
        handle=handler,
        dead_letters=dead_letters,
        fetching=Fetching(fetch_max_wait_ms=settings.live_fetch_max_wait_ms),
    )
    await dead_letters.start()
    await broker.start()
    commands.send("ready")
    try:
        while True:
            command = await asyncio.to_thread(commands.recv)
            if command == "status":
                last = freshness.delays[-1] if freshness.delays else None
                commands.send((len(freshness.delays), len(freshness.steady), last))
            elif command == "steady":
                freshness.since = datetime.now(UTC)
                commands.send("steady")
            elif command == "delays":
                commands.send(freshness.steady)
            else:
                break
    finally:
        await broker.stop()
        await dead_letters.stop()
        await client.close()


async def _ask(commands: Connection, command: str) -> Any:
    def exchange() -> Any:
        commands.send(command)
        return commands.recv()

    return await asyncio.to_thread(exchange)


async def start_group_at_end(bootstrap: str, group_id: str) -> bool:
    """Commit the group's offsets at the topics' ends, so the live consumer starts there rather
    than replaying the bulk load; False when the broker refuses (then it catches up first)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await canonical_partitions(consumer)
        ends = await true_end_offsets(consumer, partitions)
        await consumer.commit({p: ends[p] for p in partitions})
        return True
    except Exception as error:
        print(f"could not place the live group at the end ({error}); it will catch up first")
        return False
    finally:
        await consumer.stop()


async def steady_load(
    bootstrap: str,
    commands: Connection,
    programme: GeneratedProgramme,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Warm the live consumer up, then produce at ``rate`` for ``seconds`` and collect every
    delay the handler recorded for that load."""
    rng = random.Random(SEED + 1)
    source = steady_events(rng, programme)
    # The outbox relay publishes one event at a time, without lingering.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:

        async def produce_for(duration: float, until_caught_up: bool) -> int:
            started = time.monotonic()
            sent = 0
            next_check = started + 0.5
            first_seen: float | None = None
            while True:
                now = time.monotonic()
                if until_caught_up and now >= next_check:
                    count, _, last = await _ask(commands, "status")
                    next_check = now + 0.5
                    if count and first_seen is None:
                        first_seen = now
                    settled = first_seen is not None and now - first_seen > 3
                    if settled and last is not None and last < 1.0:
                        return sent
                elif not until_caught_up and now - started >= duration:
                    return sent
                if until_caught_up and now - started > duration:
                    return sent  # not settled: the steady phase starts behind
                due = int((now - started) * rate) + 1
                while sent < due:
                    topic, key, value, headers = _record(next(source), datetime.now(UTC))
                    await producer.send(topic, value, key=key, headers=headers)
                    sent += 1
                await asyncio.sleep(0.002)

        warm_up_started = time.monotonic()
        await produce_for(WARM_UP_LIMIT_S, until_caught_up=True)
        warm_up = time.monotonic() - warm_up_started
        await _ask(commands, "steady")
        sent = await produce_for(seconds, until_caught_up=False)
        await producer.flush()
        deadline = time.monotonic() + 120
        while (await _ask(commands, "status"))[1] < sent:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        delays: list[float] = sorted(await _ask(commands, "delays"))
    finally:
        await producer.stop()

    def at(share: float) -> float | None:
        if not delays:
            return None
        return round(1000 * delays[min(len(delays) - 1, int(len(delays) * share))], 1)

    return {
        "steady_events": sent,
        "samples": len(delays),
        "warm_up_seconds": round(warm_up, 1),
        "warm_up_settled": warm_up < WARM_UP_LIMIT_S,
        "p50_ms": at(0.5),
        "p90_ms": at(0.9),
        "p99_ms": at(0.99),
        "max_ms": round(1000 * delays[-1], 1) if delays else None,
    }


async def freshness_at_steady_load(
    setup: LiveSetup, programme: GeneratedProgramme, rate: float, seconds: float
) -> dict[str, Any]:
    placed = await start_group_at_end(setup.bootstrap, setup.group_id)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=live_reporting, args=(setup, theirs), daemon=True)
    process.start()
    try:
        if not await asyncio.to_thread(ours.poll, 60):
            raise RuntimeError("the live reporting process did not start within 60 s")
        ours.recv()
        result = await steady_load(setup.bootstrap, ours, programme, rate, seconds)
        result["live_group_started_at"] = "end offsets" if placed else "beginning"
        return result
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join(10)


# -- the run --------------------------------------------------------------------------------------


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


async def measure(
    args: argparse.Namespace, mongodb_url: str, bootstrap: str, home: Path
) -> dict[str, Any]:
    database = f"bench_reporting_{uuid.uuid4().hex[:8]}"
    loads = {"start": load()}
    print(f"producing {args.events} events …", file=sys.stderr)
    before = await records_in_topics(bootstrap)
    programme, produce_seconds = await produce_programme(bootstrap, args.events)
    held = await records_in_topics(bootstrap) - before
    loads["after_produce"] = load()
    print("consuming only …", file=sys.stderr)
    consumed, consume_seconds = await consume_only(bootstrap)
    loads["after_consume_only"] = load()
    print("rebuilding …", file=sys.stderr)
    report, check = await rebuild_and_check(
        mongodb_url, bootstrap, database, programme.truth, args.profile
    )
    loads["after_rebuild"] = load()
    freshness: dict[str, Any] = {}
    if args.steady_seconds > 0:
        print(
            f"steady load: {args.steady_rate} events/s for {args.steady_seconds} s …",
            file=sys.stderr,
        )
        setup = LiveSetup(
            home=str(home),
            mongodb_url=mongodb_url,
            bootstrap=bootstrap,
            database=database,
            group_id=f"dn-reporting-projection-{database}",
        )
        freshness = await freshness_at_steady_load(
            setup, programme, args.steady_rate, args.steady_seconds
        )
        loads["after_steady"] = load()
    client = connect(mongodb_url)
    try:
        await client.drop_database(database)
    finally:
        await client.close()

    consume_rate = consumed / consume_seconds if consume_seconds else 0.0
    rebuild_rate = report.events_per_second
    return {
        "benchmark": "reporting_rebuild",
        "at": datetime.now(UTC).isoformat(),
        "events": programme.events,
        "people": len(programme.people),
        "events_by_type": dict(sorted(programme.by_type.items())),
        "produce_events_per_s": round(programme.events / produce_seconds),
        # Other records on a shared broker are replayed too (then the check cannot hold).
        "records_in_topics_before": before,
        "records_in_topics_after_produce": held + before,
        "consume_only_events": consumed,
        "consume_only_seconds": round(consume_seconds, 2),
        "consume_only_events_per_s": round(consume_rate),
        "rebuild_events": report.events,
        "rebuild_applied": report.applied,
        "rebuild_skipped": report.skipped,
        "rebuild_seconds": round(report.seconds, 2),
        "rebuild_events_per_s": round(rebuild_rate),
        "ratio": round(rebuild_rate / consume_rate, 4) if consume_rate else None,
        "rebuild_check": check,
        "freshness_p50_ms": freshness.get("p50_ms"),
        "freshness_p99_ms": freshness.get("p99_ms"),
        "freshness": freshness,
        "steady_rate": args.steady_rate,
        "steady_seconds": args.steady_seconds,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_1_5_15": loads,
            "note": "shared development machine: other engineers' test runs may load it",
        },
    }


def table(result: dict[str, Any]) -> str:
    return (
        f"{result['events']} events | consume only {result['consume_only_events_per_s']}/s | "
        f"rebuild {result['rebuild_events_per_s']}/s ({100 * (result['ratio'] or 0):.1f} %) | "
        f"check {'ok' if result['rebuild_check']['ok'] else 'FAILED'} | "
        f"freshness at {result['steady_rate']}/s p50 {result['freshness_p50_ms']} ms "
        f"p99 {result['freshness_p99_ms']} ms | {result['machine']['cpu_count']} CPUs, "
        f"load {result['machine']['load_average_1_5_15']['start'][0]}"
    )


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--steady-rate", type=float, default=200.0)
    parser.add_argument("--steady-seconds", type=float, default=30.0, help="0 skips freshness")
    parser.add_argument("--profile", action="store_true", help="cProfile the rebuild (stderr)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dn-bench-"))
    settings = Settings(home=home, mongodb_port=free_port(), kafka_port=free_port())
    infra = EmbeddedInfra(settings)
    try:
        status, _ = infra.up()  # starts only the parts DN_* does not point elsewhere
        result = asyncio.run(measure(args, status.mongodb_url, status.kafka_bootstrap, home))
        result["infrastructure"] = {
            "mongodb": "embedded mongod 6.0" if status.mongodb.embedded else "DN_MONGODB_URL",
            "kafka": "embedded Tansu 0.6 (memory)"
            if status.kafka.embedded
            else "DN_KAFKA_BOOTSTRAP",
        }
    finally:
        infra.down()
        shutil.rmtree(home, ignore_errors=True)
    result["table"] = table(result)
    return result


if __name__ == "__main__":
    report = main()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(report["table"])
