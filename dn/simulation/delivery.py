"""Sends a planned programme over the intake topics as the associations' systems would.

Requests go in simulated-time order at a steady rate, in CloudEvents binary mode, keyed by the
person (or the session, the association…), and each is sent exactly once. Out of order across
topics is normal here: an attendance report can reach training before the enrolment it names
has; the service then keeps it waiting and applies it when the enrolment arrives (kit.parking),
so a partner never re-sends. The run reads the canonical topics: the event each request makes
(the person enrolled, the attendance recorded…) confirms it was applied. It also reads
``dn.deadletter``, only to report: a dead letter of one of its own ``ce_id``s is a failure of
the run (with the platform's parking there should be none), never a reason to send again. The
run ends when every request is confirmed or dead-lettered, so nothing is left unaccounted for;
whatever is neither when the platform stops making progress is reported as unconfirmed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from contracts.topics import (
    CANONICAL,
    DEAD_LETTER,
    INTAKE_ORIENTATION,
    INTAKE_REGISTRATION,
    INTAKE_TRAINING,
)
from dn.simulation.confirmation import CONFIRMING, confirmed_fact, expected_fact
from dn.simulation.programme import PlannedRequest, Programme
from kit.kafka_ends import true_end_offsets
from kit.outbox import partition_of

# The consumer group applying each intake topic (the services' handlers; a unit test keeps
# these in step): a run starts once they have members.
INTAKE_GROUPS = {
    INTAKE_REGISTRATION: "dn-registration-intake",
    INTAKE_TRAINING: "dn-training-intake",
    INTAKE_ORIENTATION: "dn-orientation-intake",
}
IN_FLIGHT = 256

Progress = Callable[["DeliveryReport"], None]


@dataclass(frozen=True)
class DeliveryOptions:
    rate: float = 200.0  # sends per second (each request is sent once)
    quiet_timeout_s: float = 120.0  # the wait for confirmations ends after this long without one
    # At most this many requests sent but neither applied nor dead-lettered: sending waits for the
    # platform instead of piling up a backlog (None: the rate alone paces it).
    max_unconfirmed: int | None = None
    consumers_timeout_s: float = 30.0  # for the platform's intake consumers to be there


@dataclass(frozen=True)
class DeadLetter:
    """One of the run's own requests the platform dead-lettered: a failure of the run."""

    ce_id: str
    event_type: str
    reason: str
    detail: str


@dataclass
class DeliveryReport:
    total: int
    sent: Counter[str] = field(default_factory=Counter)  # requests sent, per type
    sends: Counter[str] = field(default_factory=Counter)  # producer sends, per ce_id
    dead_lettered: list[DeadLetter] = field(default_factory=list)  # of our own ce_ids
    confirmed: int = 0  # requests whose canonical event was seen
    unconfirmed: Counter[str] = field(default_factory=Counter)  # per type, when the wait ended
    sending_s: float = 0.0
    total_s: float = 0.0
    cancelled: bool = False
    problem: str | None = None

    @property
    def sent_total(self) -> int:
        return sum(self.sent.values())

    @property
    def resent(self) -> int:
        """Sends beyond the first of any request, counted at the producer (0: sent once each)."""
        return sum(n - 1 for n in self.sends.values() if n > 1)

    @property
    def ok(self) -> bool:
        return not (
            self.dead_lettered or self.unconfirmed or self.resent or self.cancelled or self.problem
        )

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "sent": self.sent_total,
            "sent_by_type": dict(sorted(self.sent.items())),
            "resent": self.resent,
            "dead_letters": [vars(d) for d in self.dead_lettered],
            "dead_letters_by_reason": dict(Counter(d.reason for d in self.dead_lettered)),
            "confirmed": self.confirmed,
            "unconfirmed": dict(sorted(self.unconfirmed.items())),
            "sending_s": round(self.sending_s, 2),
            "total_s": round(self.total_s, 2),
            "rate": round(self.sent_total / self.sending_s, 1) if self.sending_s else None,
            "applied_rate": round(self.confirmed / self.total_s, 1) if self.total_s else None,
            "cancelled": self.cancelled,
            "problem": self.problem,
        }


class DeliveryError(RuntimeError):
    """The broker or the platform cannot take the simulation; the message says what to do."""


@dataclass(frozen=True)
class Outgoing:
    """A request as the producer sends it, encoded (and its partition chosen as the producer's
    default partitioner would) before the first send: the run's clock measures the platform,
    not the simulator building records."""

    request: PlannedRequest
    partition: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _record(request: PlannedRequest) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    value, headers = request.envelope().to_kafka()
    return request.key.encode(), value, [(k, v.encode()) for k, v in headers.items()]


async def _encoded(
    producer: AIOKafkaProducer, requests: Sequence[PlannedRequest]
) -> list[Outgoing]:
    partitions = {
        topic: len(await producer.partitions_for(topic))
        for topic in dict.fromkeys(r.topic for r in requests)
    }
    outgoing = []
    for request in requests:
        key, value, headers = _record(request)
        partition = partition_of(key, partitions[request.topic])
        outgoing.append(Outgoing(request, partition, key, value, headers))
    return outgoing


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


class Delivery:
    """One run: send each request once, then wait until each is confirmed applied (or is
    dead-lettered, which the report counts as a failure)."""

    def __init__(
        self,
        programme: Programme,
        bootstrap: str,
        options: DeliveryOptions = DeliveryOptions(),
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.requests = programme.requests
        self.bootstrap = bootstrap
        self.options = options
        self.progress = progress or (lambda _: None)
        self.cancel = cancel or threading.Event()
        self.by_id = {str(r.ce_id): r for r in self.requests}
        self.dead: set[str] = set()  # ce_ids dead-lettered
        self.awaited = {expected_fact(r.data): str(r.ce_id) for r in self.requests}
        self.last_news = time.monotonic()
        self.report = DeliveryReport(total=len(self.requests))

    async def run(self) -> DeliveryReport:
        started = time.monotonic()
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        dead_letters = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            await producer.start()
            await dead_letters.start()
        except Exception as error:
            await producer.stop()
            raise DeliveryError(
                f"cannot reach the broker at {self.bootstrap} ({error}); start the platform "
                "with `dn up`, or set DN_KAFKA_BOOTSTRAP"
            ) from error
        facts = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            await facts.start()
            await self._wait_for_consumers()
            partitions = await self._from_now_on(dead_letters, DEAD_LETTER)
            canonical = await self._from_now_on(facts, *CANONICAL)
            outgoing = await _encoded(producer, self.requests)
            tasks = [
                asyncio.create_task(self._watch(dead_letters, partitions, self._dead_lettered)),
                asyncio.create_task(self._watch(facts, canonical, self._fact)),
            ]
            # From the first send to the last confirmation (the set-up above is not the
            # platform's time).
            started = time.monotonic()
            try:
                await self._send_all(producer, outgoing)
                self.report.sending_s = time.monotonic() - started
                await self._settle()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await facts.stop()
            await dead_letters.stop()
            await producer.stop()
            self.report.total_s = time.monotonic() - started
            self.report.cancelled = self.cancel.is_set()
            self.progress(self.report)
        return self.report

    async def _wait_for_consumers(self) -> None:
        """The platform's intake consumers must be there, or nothing would read the requests."""
        deadline = time.monotonic() + self.options.consumers_timeout_s
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            while True:
                missing = sorted(set(INTAKE_GROUPS.values()) - await _active_groups(admin))
                if not missing:
                    return
                if time.monotonic() > deadline or self.cancel.is_set():
                    raise DeliveryError(
                        f"no intake consumer ({', '.join(missing)}) reads from {self.bootstrap}; "
                        "start the platform with `dn up` first"
                    )
                await asyncio.sleep(0.5)
        finally:
            await admin.close()

    async def _from_now_on(self, consumer: AIOKafkaConsumer, *topics: str) -> list[TopicPartition]:
        """Assign every partition of ``topics`` and start reading at their current end (the
        true one: ``seek_to_end`` would start inside the embedded broker's newest batch)."""
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        consumer.assign(partitions)
        # Resolved now, before anything is sent.
        for partition, end in (await true_end_offsets(consumer, partitions)).items():
            consumer.seek(partition, end)
        return partitions

    async def _send(self, producer: AIOKafkaProducer, record: Outgoing) -> asyncio.Future[object]:
        self.report.sends[str(record.request.ce_id)] += 1
        future: asyncio.Future[object] = await producer.send(
            record.request.topic,
            value=record.value,
            key=record.key,
            headers=record.headers,
            partition=record.partition,
        )
        return future

    async def _send_all(self, producer: AIOKafkaProducer, outgoing: list[Outgoing]) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        in_flight: list[asyncio.Future[object]] = []
        for record in outgoing:
            if self.cancel.is_set():
                break
            if await self._wait_for_room():
                due = max(due, loop.time())  # no burst to catch up after a wait
            ahead = due - loop.time()
            if ahead > 0.002:
                await asyncio.sleep(ahead)
            due += 1 / self.options.rate
            in_flight.append(await self._send(producer, record))
            self.report.sent[record.request.event_type] += 1
            if len(in_flight) >= IN_FLIGHT:
                await asyncio.gather(*in_flight)
                in_flight.clear()
                self.progress(self.report)
        await asyncio.gather(*in_flight)
        self.progress(self.report)

    async def _wait_for_room(self) -> bool:
        """Wait while ``max_unconfirmed`` requests are outstanding; True when it waited."""
        limit = self.options.max_unconfirmed
        waited = False
        while limit is not None and not self.cancel.is_set():
            outstanding = (
                self.report.sent_total - self.report.confirmed - len(self.report.dead_lettered)
            )
            stalled = time.monotonic() - self.last_news > self.options.quiet_timeout_s
            if outstanding < limit or stalled:
                break  # a stalled platform is reported by _settle, not waited for here
            waited = True
            await asyncio.sleep(0.05)
        return waited

    async def _watch(
        self,
        consumer: AIOKafkaConsumer,
        partitions: list[TopicPartition],
        take: Callable[[ConsumerRecord[bytes, bytes]], None],
    ) -> None:
        while True:
            batches = await consumer.getmany(*partitions, timeout_ms=200)
            for records in batches.values():
                for record in records:
                    take(record)

    def _fact(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """A canonical event: the request it confirms, if ours, was applied. Only the types
        that confirm a request are decoded, from the record's value (the data: the platform
        publishes in binary mode)."""
        model = CONFIRMING.get(_header(record, "ce_type") or "")
        if model is None:
            return
        try:
            event = model.model_validate_json(record.value or b"")
        except ValidationError:
            return  # not ours to judge: the platform dead-letters its own problems
        fact = confirmed_fact(event)
        if fact is not None and self.awaited.pop(fact, None) is not None:
            self.report.confirmed += 1
            self.last_news = time.monotonic()
            if self.report.confirmed % 64 == 0:
                self.progress(self.report)

    def _dead_lettered(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """A dead letter: if of one of our requests, it was not applied and never will be (it
        is reported, not sent again)."""
        ce_id = _header(record, "ce_id")
        if ce_id is None or ce_id not in self.by_id or ce_id in self.dead:
            return  # not ours (another partner, or a test's)
        request = self.by_id[ce_id]
        self.dead.add(ce_id)
        self.awaited.pop(expected_fact(request.data), None)
        self.last_news = time.monotonic()
        reason = _header(record, "dn_error") or "unknown"
        detail = _header(record, "dn_error_detail") or ""
        self.report.dead_lettered.append(DeadLetter(ce_id, request.event_type, reason, detail))
        self.progress(self.report)

    async def _settle(self) -> None:
        """Wait until every request is confirmed or dead-lettered, while the platform makes
        progress (a confirmation or a dead letter within ``quiet_timeout_s``)."""
        while self.awaited and not self.cancel.is_set():
            if time.monotonic() - self.last_news > self.options.quiet_timeout_s:
                waiting = set(self.awaited.values())
                self.report.unconfirmed = Counter(self.by_id[ce_id].event_type for ce_id in waiting)
                self.report.problem = (
                    f"{len(waiting)} requests neither applied nor dead-lettered after "
                    f"{self.options.quiet_timeout_s:.0f} s without progress (a seed played "
                    "before is applied once: its requests change nothing and make no event; "
                    "requests still waiting for what they name show under 'waiting' in the "
                    "delivery log and in each service's GET /log)"
                )
                return
            await asyncio.sleep(0.2)


async def _active_groups(admin: AIOKafkaAdminClient) -> set[str]:
    """Which of the intake groups have members now. One group per request (the embedded
    broker misreads several); a broker that cannot describe groups is taken at its word."""
    active = set()
    for group in INTAKE_GROUPS.values():
        try:
            responses = await admin.describe_consumer_groups([group])
        except KafkaError:
            active.add(group)
            continue
        for response in responses:
            for error_code, name, _state, _kind, _protocol, members, *_ in response.groups:
                if error_code == 0 and name == group and members:
                    active.add(group)
    return active


async def deliver(
    programme: Programme,
    bootstrap: str,
    options: DeliveryOptions = DeliveryOptions(),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> DeliveryReport:
    """Send ``programme`` to the platform at ``bootstrap``; the report says what became of it."""
    return await Delivery(programme, bootstrap, options, progress, cancel).run()
