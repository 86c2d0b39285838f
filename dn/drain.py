"""A clean stop's drain: once partner intake is closed, the services apply what the broker
already accepted before they stop.

Two backlogs are waited for: partner records on the intake topics not yet committed by their
service's consumer group (measured against the partitions' true ends, see ``kit.kafka_ends``),
and canonical events not yet applied by every subscriber (an outbox record still unsent, or a
subscriber short of the head of a partition of another service's log). A subscriber saves its
position at most once a second, so one that has read its partition to the broker's end counts
as there too.

Applying an event may make another (an enrolment frees attendance parked for it), so the drain
ends only after two readings in a row find nothing left: everything the first saw as applied
had its consequences committed before the second began.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from kit.event_logs import EventLogReport, read_event_logs
from kit.kafka_ends import true_end_offsets
from kit.settings import Settings

DRAIN_POLL_S = 0.5
BROKER_TIMEOUT_MS = 4000

Offsets = Mapping[tuple[str, int], int]  # (topic, partition) → offset


@dataclass(frozen=True)
class Subscription:
    """A consumer group and the topics it reads."""

    group: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Subscriptions:
    intake: tuple[Subscription, ...]  # partner records
    canonical: tuple[Subscription, ...]  # the services' logs

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(topic for sub in (*self.intake, *self.canonical) for topic in sub.topics)
        )


def platform_subscriptions(settings: Settings) -> Subscriptions:
    """The consumer groups the services declare, and what each reads."""
    # Imported here, as the CLI does: kit does not depend on the services at import time.
    from services.orientation import handlers as orientation
    from services.registration import handlers as registration
    from services.reporting import handlers as reporting
    from services.training import handlers as training

    projection = reporting.projection_group(settings.database_prefix)
    return Subscriptions(
        intake=(
            Subscription(registration.GROUP_ID, registration.TOPICS),
            Subscription(training.INTAKE_GROUP_ID, training.INTAKE_TOPICS),
            Subscription(orientation.INTAKE_GROUP_ID, orientation.INTAKE_TOPICS),
        ),
        canonical=(
            Subscription(registration.ACTIVITY_GROUP_ID, registration.ACTIVITY_TOPICS),
            Subscription(training.BENEFICIARIES_GROUP_ID, training.BENEFICIARIES_TOPICS),
            Subscription(orientation.BENEFICIARIES_GROUP_ID, orientation.BENEFICIARIES_TOPICS),
            Subscription(projection, reporting.TOPICS),
        ),
    )


@dataclass(frozen=True)
class Backlog:
    """What the services have still to apply."""

    partner_records: int
    events: int

    @property
    def empty(self) -> bool:
        return self.partner_records == 0 and self.events == 0

    def line(self) -> str:
        return (
            f"draining: {self.partner_records:,} partner records and {self.events:,} events "
            "still to apply…"
        )


def partner_backlog(
    intake: Sequence[Subscription], ends: Offsets, committed: Mapping[str, Offsets]
) -> int:
    """Intake records not yet committed by the group reading their topic (a group that never
    committed reads from the start)."""
    behind = 0
    for subscription in intake:
        done = committed.get(subscription.group, {})
        for (topic, partition), end in ends.items():
            if topic in subscription.topics:
                behind += max(0, end - done.get((topic, partition), 0))
    return behind


def events_backlog(
    logs: Sequence[EventLogReport],
    canonical: Sequence[Subscription],
    ends: Offsets,
    committed: Mapping[str, Offsets],
) -> int:
    """Events not yet applied everywhere: each log's unsent records, plus, per subscriber and
    partition, the positions between the last it saved and the head of that partition."""
    saved = {
        (sub.group, sub.topic, sub.partition): (sub.log_id, sub.position)
        for log in logs
        for sub in log.subscribers
    }
    behind = sum(log.unsent for log in logs)
    for subscription in canonical:
        for log in logs:
            if log.topic is None or log.topic not in subscription.topics:
                continue
            for partition, head in log.partitions.items():
                key = (subscription.group, log.topic, partition)
                log_id, position = saved.get(key, (log.log_id, 0))
                if log_id != log.log_id:
                    position = 0  # a position in an older log says nothing of this one
                if position >= head:
                    continue
                end = ends.get((log.topic, partition), 0)
                read_to = committed.get(subscription.group, {}).get((log.topic, partition))
                if end > 0 and read_to is not None and read_to >= end:
                    continue  # read to the broker's end: its position is not saved yet
                behind += head - position
    return behind


@dataclass(frozen=True)
class DrainOutcome:
    backlog: Backlog | None  # the last reading (None: nothing could be read)
    seconds: float
    how: str  # "drained", "timed out", "skipped"

    def line(self) -> str:
        if self.how == "drained":
            return f"drained in {self.seconds:.1f} s: every accepted record applied"
        left = self.backlog.line().removeprefix("draining: ").rstrip("…") if self.backlog else ""
        if self.how == "skipped":
            return f"drain skipped after {self.seconds:.1f} s" + (f" ({left})" if left else "")
        return (
            f"drain stopped after {self.seconds:.0f} s"
            + (f" ({left})" if left else "")
            + ": the services apply the rest when they start again, as long as the broker "
            "keeps it"
        )


class BrokerOffsets:
    """True end offsets and consumer groups' committed offsets, read from the broker."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
            request_timeout_ms=BROKER_TIMEOUT_MS,
        )
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=BROKER_TIMEOUT_MS
        )
        self._partitions: list[TopicPartition] = []

    @classmethod
    async def open(cls, bootstrap: str, topics: Sequence[str]) -> BrokerOffsets:
        """Connected, and knowing the partitions of ``topics``."""
        opened = cls(bootstrap)
        try:
            await opened._consumer.start()
            await opened._admin.start()
            await opened._consumer.topics()  # refreshes the metadata partitions_for_topic reads
        except BaseException:
            await opened.stop()
            raise
        opened._partitions = [
            TopicPartition(topic, number)
            for topic in topics
            for number in sorted(opened._consumer.partitions_for_topic(topic) or ())
        ]
        return opened

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def ends(self) -> dict[tuple[str, int], int]:
        found = await true_end_offsets(self._consumer, self._partitions)
        return {(p.topic, p.partition): offset for p, offset in found.items()}

    async def committed(self, groups: Sequence[str]) -> dict[str, dict[tuple[str, int], int]]:
        by_group = {}
        for group in groups:
            # Partitions named: the "all partitions" form is one the embedded broker garbles.
            offsets = await self._admin.list_consumer_group_offsets(
                group, partitions=self._partitions
            )
            by_group[group] = {
                (p.topic, p.partition): meta.offset
                for p, meta in offsets.items()
                if meta.offset >= 0
            }
        return by_group


async def read_backlog(
    settings: Settings,
    client: httpx.AsyncClient,
    broker: BrokerOffsets,
    subscriptions: Subscriptions,
) -> Backlog | None:
    """One reading; None when a service or the broker does not answer now. The logs are read
    before the ends, the ends before the committed offsets: an event a log shows as sent is
    within the ends read after, and an offset committed is never past a record not handled."""
    logs = await read_event_logs(settings, client)
    if any(log is None for log in logs.values()):
        return None
    ends = await broker.ends()
    groups = [sub.group for sub in (*subscriptions.intake, *subscriptions.canonical)]
    committed = await broker.committed(groups)
    found = [log for log in logs.values() if log is not None]
    return Backlog(
        partner_records=partner_backlog(subscriptions.intake, ends, committed),
        events=events_backlog(found, subscriptions.canonical, ends, committed),
    )


def drain(
    settings: Settings,
    bootstrap: str,
    *,
    timeout_s: float,
    progress: Callable[[Backlog], None],
    skip: Callable[[], bool] = lambda: False,
) -> DrainOutcome:
    """Wait until the services have applied every record the broker accepted (two empty
    readings in a row), ``timeout_s`` passes, or ``skip()`` says so. Close partner intake
    (the gateway, simulators) first, or the wait may never end."""
    return asyncio.run(_drain(settings, bootstrap, timeout_s, progress, skip))


async def _drain(
    settings: Settings,
    bootstrap: str,
    timeout_s: float,
    progress: Callable[[Backlog], None],
    skip: Callable[[], bool],
) -> DrainOutcome:
    started = time.monotonic()
    subscriptions = platform_subscriptions(settings)
    broker: BrokerOffsets | None = None
    last: Backlog | None = None
    empty_before = False
    try:
        async with asyncio.timeout(timeout_s), httpx.AsyncClient() as client:
            while not skip():
                try:
                    if broker is None:
                        broker = await BrokerOffsets.open(bootstrap, subscriptions.topics)
                    backlog = await read_backlog(settings, client, broker, subscriptions)
                except (KafkaError, TimeoutError, OSError, ValidationError):
                    backlog = None  # the broker or a service busy or away: read again
                if backlog is not None:
                    if backlog.empty and empty_before:
                        return DrainOutcome(backlog, time.monotonic() - started, "drained")
                    empty_before = backlog.empty
                    last = backlog
                    if not backlog.empty:
                        progress(backlog)
                await asyncio.sleep(DRAIN_POLL_S)
            return DrainOutcome(last, time.monotonic() - started, "skipped")
    except TimeoutError:
        return DrainOutcome(last, time.monotonic() - started, "timed out")
    finally:
        if broker is not None:
            await broker.stop()
