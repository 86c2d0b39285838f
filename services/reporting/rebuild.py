"""Rebuild: replay the canonical topics into a fresh projection version, then switch reads.

1. A new version is registered as *being built*. From the next batch on, the live consumer
   writes every event to it as well as to the active version.
2. The topics are read from the beginning up to their end offsets taken *after* step 1, in
   large batches through the same projector (``ce_id`` makes the overlap with the live
   consumer harmless; the projection does not depend on order, so interleaving is too).
   An event the live consumer applied before it saw step 1 was produced before step 1, so it
   lies below those end offsets and is replayed here: nothing is missed.
3. One update of the registry makes the new version the one reads use; the old one is dropped.

Training and orientation are replayed before registration, so a person's activity is counted
before an erasure that ends what can be linked to them. Reads keep using the old version
throughout. The replay reads partitions directly (no consumer group: nothing to join, nothing
to leave behind).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo import AsyncMongoClient

from contracts import catalogue
from contracts.envelope import CloudEvent, EnvelopeError
from contracts.event import EventData
from kit.mongo import Document
from services.reporting.handlers import TOPICS, ProjectionHandler
from services.reporting.store import Versions

BATCH = 2000
HEARTBEAT_S = 5.0

Progress = Callable[[int, int], None]  # (events read, events to read)


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


async def rebuild(
    client: AsyncMongoClient[Document],
    versions: Versions,
    bootstrap: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> RebuildReport:
    started = time.perf_counter()
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
    try:
        partitions = await _partitions(consumer)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        total = sum(ends[p] - starts[p] for p in partitions)
        if progress:
            progress(0, total)
        beat = time.monotonic()
        for topic in TOPICS:
            mine = [p for p in partitions if p.topic == topic and ends[p] > starts[p]]
            if not mine:
                continue
            consumer.assign(mine)
            await consumer.seek_to_beginning(*mine)
            remaining = set(mine)
            while remaining:
                fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch)
                records: list[ConsumerRecord[bytes, bytes]] = []
                for found in fetched.values():
                    # Whole batches, even past the end offset: some brokers (the embedded
                    # Tansu) report a partition's end as its last batch's first offset + 1,
                    # and stopping there would skip the rest of that batch. Reading further
                    # is harmless: those events reach the new version live anyway, once.
                    records += found
                for partition in list(remaining):
                    if await consumer.position(partition) >= ends[partition]:
                        remaining.discard(partition)
                decoded = _readable(records)
                if decoded:
                    await handler.apply(version, decoded)
                events += len(records)
                applied += len(decoded)
                skipped += len(records) - len(decoded)
                if progress:
                    progress(events, total)
                if time.monotonic() - beat > HEARTBEAT_S:
                    await versions.heartbeat(version)
                    beat = time.monotonic()
    except BaseException:
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


async def _partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    await consumer.topics()  # fetches the cluster's metadata
    found = []
    for topic in TOPICS:
        numbers = consumer.partitions_for_topic(topic) or set()
        found += [TopicPartition(topic, n) for n in sorted(numbers)]
    return found


def _readable(records: list[ConsumerRecord[bytes, bytes]]) -> list[tuple[CloudEvent, EventData]]:
    """Events reporting can apply; the rest were dead-lettered by the live consumer already."""
    decoded = []
    for record in records:
        try:
            event = CloudEvent.from_kafka(record.value, record.headers)
            decoded.append((event, catalogue.decode(event)))
        except EnvelopeError:
            continue
    return decoded


def run_rebuild(*, force: bool = False) -> int:
    """``dn reporting rebuild``: a progress bar, then what was replayed; exit code 0/1/2."""
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kit.mongo import connect
    from kit.settings import get_settings
    from services.reporting.store import RebuildRunning

    console = Console(stderr=True)
    settings = get_settings()

    async def main() -> RebuildReport:
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
                )
        finally:
            await client.close()

    try:
        report = asyncio.run(main())
    except RebuildRunning as error:
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
