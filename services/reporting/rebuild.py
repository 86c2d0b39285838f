"""Rebuild: replay the canonical topics into a fresh projection version, then switch reads.

1. A new version is registered as *being built*. From the next batch on, the live consumer
   writes every event to it as well as to the active version.
2. The topics are read from the beginning up to their true end offsets (``kit.kafka_ends``)
   taken *after* step 1, in large batches through the same projector (``ce_id`` makes the
   overlap with the live consumer harmless; the projection does not depend on order, so
   interleaving is too). An event the live consumer applied before it saw step 1 was produced
   before step 1, so it lies below those end offsets and is replayed here: nothing is missed.
   Given the services' log heads (``dn reporting rebuild`` asks each service's ``GET /log``
   first), a partition is also read until it has shown the last position its log had given:
   a broker can hold less than the logs published (it restarted empty and the relays are
   re-publishing), and a version built from it would be short of events.
3. One update of the registry makes the new version the one reads use; the old one is dropped.
   A partition that stops short of its head (read to the broker's end, and nothing new there
   for ``stall_s``) abandons the new version instead: the old one keeps serving, and
   :class:`ReplayShort` says how far the broker's copy of each log goes.

Registration is replayed first, so everyone's cells (association, district, gender…) are known
before their activity arrives and each later batch moves only the counters it changes (the cheap
transition, :func:`services.reporting.domain.transition`). An erasure replayed before the
person's activity leaves their facts re-keyed and linked for 7 days from when the rebuild applies
it (``ReportingStore.save_facts``), so that activity still counts, as it did live.

Each batch is fetched and decoded while the one before it is written (one transaction in flight
at a time), under :func:`kit.heap.batch_collection`. Reads keep using the old version
throughout. The replay reads partitions directly (no consumer group: nothing to join, nothing
to leave behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TypeAlias

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo import AsyncMongoClient

from contracts import catalogue, topics
from contracts.envelope import CloudEvent, EnvelopeError
from contracts.event import EventData
from kit.event_logs import read_event_logs
from kit.heap import batch_collection
from kit.kafka_ends import true_end_offsets
from kit.log_positions import log_mark
from kit.mongo import Document
from kit.settings import Settings
from services.reporting.handlers import TOPICS, ProjectionHandler
from services.reporting.store import Versions

BATCH = 5000
DECODE_CHUNK = 250  # records decoded between chances for the batch being written to go on
# Registration first: see the module's doc.
REPLAY_ORDER = (topics.REGISTRATION_EVENTS, topics.TRAINING_EVENTS, topics.ORIENTATION_EVENTS)
HEARTBEAT_S = 5.0
STALL_S = 10.0  # read to the broker's end, short of its log's head, nothing new this long
LOG_SERVICES = ("training", "orientation", "registration")  # whose logs reporting replays

Progress = Callable[[int, int], None]  # (events read, events to read)
Record: TypeAlias = ConsumerRecord[bytes, bytes]
Decoded: TypeAlias = list[tuple[CloudEvent, EventData]]


@dataclass(frozen=True)
class LogHead:
    """The last position a service's log had given in one partition of its topic."""

    service: str
    log_id: str
    position: int


Heads = Mapping[TopicPartition, LogHead]


class ReplayShort(Exception):
    """The broker held fewer events than the services' logs had published: nothing switched."""

    def __init__(self, logs: dict[str, tuple[int, int]], stopped: list[str], serving: int) -> None:
        self.logs = logs  # service -> (events the broker held, events its log had published)
        self.stopped = stopped  # partitions without a head that stopped below their end
        self.serving = serving
        super().__init__(self.explain())

    def explain(self) -> str:
        held = sum(h for h, _ in self.logs.values())
        published = sum(p for _, p in self.logs.values())
        parts = []
        if self.logs:
            each = ", ".join(f"{name}: {h:,} of {p:,}" for name, (h, p) in self.logs.items())
            parts.append(
                f"the broker holds {held:,} of the {published:,} events the services' logs "
                f"have published ({each})"
            )
        if self.stopped:
            parts.append("reading stopped short in " + ", ".join(self.stopped))
        return (
            "; ".join(parts) + f"; version {self.serving} keeps serving. Wait until `dn status` "
            "shows no re-publishing and run it again."
        )


@dataclass
class RebuildReport:
    version: int
    retired: int
    events: int
    applied: int
    skipped: int  # unreadable or of no interest to reporting (dead letters are the live path's)
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class _Reading:
    """How far the replay has read one partition, and how far it must."""

    end: int  # the true end offset taken after the new version was registered
    head: LogHead | None
    offset: int = 0  # the next offset to read
    seen: int = 0  # the highest position of the head's log read
    idle_since: float | None = None  # since when the broker has had nothing more to give

    def take(self, records: list[Record]) -> None:
        if self.head is None:
            return
        for record in records:
            mark = log_mark(record.headers)
            if mark is not None and mark[0] == self.head.log_id:
                self.seen = max(self.seen, mark[1])

    @property
    def done(self) -> bool:
        return self.offset >= self.end and (self.head is None or self.seen >= self.head.position)


async def rebuild(
    client: AsyncMongoClient[Document],
    versions: Versions,
    bootstrap: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH,
    heads: Heads | None = None,
    stall_s: float = STALL_S,
) -> RebuildReport:
    """Replay into a new version and switch reads to it. With ``heads`` (the services' logs'
    last positions, see :func:`published_heads`), raises :class:`ReplayShort` when the broker
    does not give them within ``stall_s`` of having nothing more: the old version keeps serving."""
    started = time.perf_counter()
    heads = {p: h for p, h in (heads or {}).items() if h.position > 0 and p.topic in TOPICS}
    version = await versions.begin_rebuild(force=force)
    handler = ProjectionHandler(client, versions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    events = applied = skipped = 0
    beat = time.monotonic()
    writing = _OneInFlight(lambda decoded: handler.apply(version, decoded))

    async def apply(records: list[Record]) -> None:
        nonlocal events, applied, skipped, beat
        decoded = await _readable(records)
        await writing.start(decoded)
        events += len(records)
        applied += len(decoded)
        skipped += len(records) - len(decoded)
        if progress:
            progress(events, total)
        if time.monotonic() - beat > HEARTBEAT_S:
            await versions.heartbeat(version)
            beat = time.monotonic()

    async def count(records: list[Record]) -> None:
        nonlocal events
        events += len(records)
        if progress:
            progress(events, total)

    total = 0
    with batch_collection():  # decoded batches die young, see kit.heap
        try:
            present = await _partitions(consumer)
            ends = await true_end_offsets(consumer, present)
            starts = await consumer.beginning_offsets(present)
            total = sum(ends[p] - starts[p] for p in present)
            if progress:
                progress(0, total)
            readings = {p: _Reading(ends[p], heads.get(p), offset=starts[p]) for p in present}
            # A head in a partition the broker does not have: nothing of it can be read.
            missing = {p: _Reading(0, head) for p, head in heads.items() if p not in readings}
            short = list(missing)
            pending = list(REPLAY_ORDER)
            while pending:
                if short:  # nothing will switch: the rest is read at once, to say how far it goes
                    replayed, pending = pending, []
                else:
                    replayed = [pending.pop(0)]
                mine = {p: reading for p, reading in readings.items() if p.topic in replayed}
                short += await _replay(consumer, mine, batch, count if short else apply, stall_s)
            await writing.finish()
            if short:
                raise ReplayShort(
                    _held_by_service({**readings, **missing}),
                    [
                        f"{p.topic}[{p.partition}] at offset {readings[p].offset:,} of "
                        f"{readings[p].end:,}"
                        for p in short
                        if p in readings and readings[p].head is None
                    ],
                    (await versions.current()).active,
                )
        except BaseException:
            await writing.cancel()
            await versions.abandon(version)
            raise
        finally:
            await consumer.stop()
    retired = await versions.switch(version)
    await versions.drop(retired)
    return RebuildReport(
        version=version,
        retired=retired,
        events=events,
        applied=applied,
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )


async def _replay(
    consumer: AIOKafkaConsumer,
    readings: dict[TopicPartition, _Reading],
    batch: int,
    take: Callable[[list[Record]], Awaitable[None]],
    stall_s: float,
) -> list[TopicPartition]:
    """Read ``readings``' partitions from their beginning until each is done; returns those that
    stopped short: read to the broker's high-water mark, and nothing new for ``stall_s``."""
    remaining = {p for p, reading in readings.items() if not reading.done}
    if not remaining:
        return []
    consumer.assign(list(remaining))
    await consumer.seek_to_beginning(*remaining)
    stopped = []
    while remaining:
        fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch)
        now = time.monotonic()
        records: list[Record] = []
        for partition, found in fetched.items():
            # Whole batches, even past the end: those events reach the new version live
            # anyway, and reading them again is harmless.
            readings[partition].take(found)
            records += found
        for partition in list(remaining):
            reading = readings[partition]
            reading.offset = await consumer.position(partition)
            highwater = consumer.highwater(partition)
            if reading.done:
                remaining.discard(partition)
            elif highwater is None or reading.offset < highwater:
                reading.idle_since = None  # records are there: a slow fetch is not a stall
            elif reading.idle_since is None:
                reading.idle_since = now
            elif now - reading.idle_since > stall_s:
                remaining.discard(partition)
                stopped.append(partition)
        await take(records)
    return stopped


def _held_by_service(readings: dict[TopicPartition, _Reading]) -> dict[str, tuple[int, int]]:
    """Per service, (events of its log read, events its log had published)."""
    logs: dict[str, tuple[int, int]] = {}
    for reading in readings.values():
        if reading.head is not None:
            held, published = logs.get(reading.head.service, (0, 0))
            position = reading.head.position
            logs[reading.head.service] = (held + min(reading.seen, position), published + position)
    return logs


async def _partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    await consumer.topics()  # fetches the cluster's metadata
    found = []
    for topic in TOPICS:
        numbers = consumer.partitions_for_topic(topic) or set()
        found += [TopicPartition(topic, n) for n in sorted(numbers)]
    return found


class _OneInFlight:
    """Writes batches in order, one at a time, in the background: the caller fetches and decodes
    the next batch while the previous one's transaction runs. A failed write is raised by the
    next :meth:`start` or by :meth:`finish`."""

    def __init__(self, write: Callable[[Decoded], Coroutine[object, None, object]]) -> None:
        self.write = write
        self.running: asyncio.Task[object] | None = None

    async def start(self, decoded: Decoded) -> None:
        await self.finish()
        if decoded:
            self.running = asyncio.create_task(self.write(decoded))

    async def finish(self) -> None:
        running, self.running = self.running, None
        if running is not None:
            await running

    async def cancel(self) -> None:
        running, self.running = self.running, None
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # its own end
                await running


async def _readable(records: list[Record]) -> Decoded:
    """Events reporting can apply; the rest were dead-lettered by the live consumer already.
    Decoded a chunk at a time, letting the batch being written go on in between."""
    decoded = []
    for first in range(0, len(records), DECODE_CHUNK):
        for record in records[first : first + DECODE_CHUNK]:
            try:
                event = CloudEvent.from_kafka(record.value, record.headers)
                decoded.append((event, catalogue.decode(event)))
            except EnvelopeError:
                continue
        await asyncio.sleep(0)
    return decoded


class LogsUnanswered(Exception):
    """A service did not say how far its log goes: the replay would not know what to expect."""


async def published_heads(
    settings: Settings, client: httpx.AsyncClient
) -> dict[TopicPartition, LogHead]:
    """The last position each replayed service's log had given, per partition of its topic."""
    logs = await read_event_logs(settings, client)
    heads = {}
    for service in LOG_SERVICES:
        log = logs.get(service)
        if log is None:
            raise LogsUnanswered(
                f"{service} did not say how far its log goes "
                f"({settings.service_url(service)}/log does not answer)"
            )
        if log.topic is not None:
            for partition, position in log.partitions.items():
                heads[TopicPartition(log.topic, partition)] = LogHead(service, log.log_id, position)
    return heads


def run_rebuild(*, force: bool = False) -> int:
    """``dn reporting rebuild``: the services' log heads, a progress bar, then what was
    replayed; exit 0 rebuilt, 1 not rebuilt (another rebuild runs, the broker holds less than
    the logs), 2 failed (a service, MongoDB or the broker does not answer)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kit.mongo import connect
    from kit.settings import get_settings
    from services.reporting.store import RebuildRunning

    console = Console(stderr=True)
    settings = get_settings()

    async def main() -> RebuildReport:
        async with httpx.AsyncClient() as http:
            heads = await published_heads(settings, http)
        bootstrap = settings.resolved_kafka_bootstrap
        client = connect(settings.resolved_mongodb_url)
        try:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("replaying events", total=None)

                def show(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                return await rebuild(
                    client,
                    Versions(client[f"{settings.database_prefix}reporting"]),
                    bootstrap,
                    force=force,
                    progress=show,
                    heads=heads,
                )
        finally:
            await client.close()

    try:
        report = asyncio.run(main())
    except LogsUnanswered as error:
        console.print(
            f"[red]not rebuilt:[/] {error}; the rebuild needs every service's log to know how "
            "many events to replay. Start the platform (`dn up`) and run it again."
        )
        return 2
    except (RebuildRunning, ReplayShort) as error:
        console.print(f"[red]not rebuilt:[/] {error}")
        return 1
    except Exception as error:  # the platform is down, the broker unreachable…
        console.print(f"[red]rebuild failed, reads still use the previous version:[/] {error}")
        return 2
    console.print(
        f"rebuilt version {report.version} from {report.events} events "
        f"({report.applied} applied, {report.skipped} not for reporting) in "
        f"{report.seconds:.1f} s, {report.events_per_second:.0f} events/s; "
        f"reads switched from version {report.retired}"
    )
    return 0
