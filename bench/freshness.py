"""End-to-end freshness: from a canonical event produced to the figure it moves being pushed to
a GraphQL ``impactUpdated`` subscriber, at steady rates, next to the broker's own round trip
measured in the same run with the same fetch settings.

On a platform of its own (bench/stack.py): a programme is produced first (``--base-events``,
bench/reporting_rebuild.py's generator) and reporting catches up. Then, for each rate:

1. **broker round trip**: the same records produced with aiokafka (``linger_ms=0``,
   ``acks=all``, as the outbox relay sends) to a topic of their own, read back by a consumer with
   the platform's ``fetch_max_wait_ms``; delay = read time − send time;
2. **platform**: the live mix (roll-calls, assessments, workshops, ~7 % new enrolments) produced
   on the canonical topics, where the four services and the gateway read them. Each new
   enrolment is a marker: the k-th one produced is visible once a subscription answer shows
   ``enrolled ≥ start + k``; delay = time of that answer − send time of the marker. This
   includes the projection's batch commit, reporting's change stream to the gateway, the
   gateway composing the answer (once for every subscriber) and pushing it. The projection's
   own figure (``impact.freshness``, event time → commit, over its last ≤ 2,000 events) is
   read at the end of each phase and recorded alongside.

Then, on the idle platform, ``--enrolments`` enrolments through GraphQL one after another (as a
trainer enrols people): from sending the ``enrolBeneficiary`` mutation to the first
``impactUpdated`` answer counting the person, next to the mutation's own answer time.

Usage: python -m bench.freshness [--rates 200 1000] [--seconds 30] [--base-events 20000]
       [--enrolments 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.reporting_rebuild import (
    SEED,
    GeneratedProgramme,
    _record,
    produce_programme,
    steady_events,
)
from bench.stack import Stack, platform_stack
from bench.stats import latency_ms, load_average, machine, report_path
from contracts.registration import BeneficiaryEnrolledV1
from dn.demo import ENROL, demo_enrolment
from kit.kafka_ends import true_end_offsets

RESULTS = report_path("freshness")
ROUND_TRIP_TOPIC = "dn.bench.round-trip"
SENT_HEADER = "bench_sent"
WARM_UP_S = 3.0
CATCH_UP_TIMEOUT_S = 180.0
SUBSCRIPTION = """subscription { impactUpdated {
  enrolled freshness { lagSeconds p50Seconds p99Seconds } } }"""
PROJECTION_FRESHNESS = "{ impact { enrolled freshness { lagSeconds p50Seconds p99Seconds } } }"
ASSOCIATIONS = "{ associations { id districts { id } } }"
ENROLMENT_PAUSE_S = 0.3  # between enrolments: each is measured on an idle platform


@dataclass
class Subscriber:
    """One graphql-transport-ws subscription to ``impactUpdated``: every answer with its time."""

    socket: ClientConnection
    answers: list[tuple[float, int]] = field(default_factory=list)  # (time.time(), enrolled)
    errors: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    operations: int = 0

    @property
    def enrolled(self) -> int:
        return self.answers[-1][1] if self.answers else -1

    async def read(self) -> None:
        async for text in self.socket:
            received = time.time()
            message = json.loads(text)
            if message.get("type") == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
            elif message.get("type") == "next":
                payload = message["payload"]
                if "errors" in payload:
                    self.errors.append(json.dumps(payload["errors"])[:300])
                    continue
                self.answers.append((received, int(payload["data"]["impactUpdated"]["enrolled"])))
                self.changed.set()
            elif message.get("type") in ("error", "complete"):
                # The gateway ends a subscription whose first answer failed (reporting busy):
                # subscribe again, as a dashboard would.
                self.errors.append(str(text)[:300])
                await asyncio.sleep(0.5)
                await self.subscribe()

    async def subscribe(self) -> None:
        self.operations += 1
        await self.socket.send(
            json.dumps(
                {
                    "id": str(self.operations),
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION},
                }
            )
        )

    async def until(self, enrolled: int, timeout_s: float) -> bool:
        """Wait until an answer shows at least ``enrolled``; False when the time is up."""
        deadline = time.monotonic() + timeout_s
        while self.enrolled < enrolled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):  # wait_for may swallow a cancel (3.11)
                    await self.changed.wait()
        return True


@contextlib.asynccontextmanager
async def subscribed(stack: Stack) -> Any:
    url = stack.gateway_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        init = {"Authorization": f"Bearer {stack.token()}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await socket.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"the gateway refused the subscription: {ack}")
        subscriber = Subscriber(socket)
        reader = asyncio.create_task(subscriber.read())
        await subscriber.subscribe()
        try:
            yield subscriber
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


def visible_delays(
    markers: list[tuple[int, float]], answers: list[tuple[float, int]]
) -> list[float]:
    """For each marker (enrolled count it makes, send time): the time from its send to the first
    answer showing that count. Markers never shown are left out (counted by the caller)."""
    delays = []
    position = 0
    for target, sent in sorted(markers):
        while position < len(answers) and answers[position][1] < target:
            position += 1
        if position == len(answers):
            break
        delays.append(max(0.0, answers[position][0] - sent))
    return delays


async def pace(rate: float, seconds: float, send: Any) -> int:
    """Call ``send()`` ``rate`` times a second for ``seconds``; returns how many were sent."""
    started = time.monotonic()
    sent = 0
    while (now := time.monotonic()) - started < seconds:
        due = int((now - started) * rate) + 1
        while sent < due:
            await send()
            sent += 1
        await asyncio.sleep(0.002)
    return sent


async def broker_round_trip(
    bootstrap: str, programme: GeneratedProgramme, rate: float, seconds: float, fetch_ms: int
) -> dict[str, Any]:
    """The live records produced and consumed again, nothing else: the broker's share."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if ROUND_TRIP_TOPIC not in await admin.list_topics():
            await admin.create_topics([NewTopic(ROUND_TRIP_TOPIC, 6, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=fetch_ms
    )
    await producer.start()
    await consumer.start()
    delays: list[float] = []
    source = steady_events(random.Random(SEED + 7), programme)
    try:
        partitions = [
            TopicPartition(ROUND_TRIP_TOPIC, n)
            for n in sorted(await producer.partitions_for(ROUND_TRIP_TOPIC))
        ]
        for partition, end in (await true_end_offsets(consumer, partitions)).items():
            consumer.seek(partition, end)
        stop = asyncio.Event()

        async def read() -> None:
            while not stop.is_set() or len(delays) < sent_count[0]:
                batches = await consumer.getmany(timeout_ms=200)
                received = time.time()
                for records in batches.values():
                    for record in records:
                        sent = dict(record.headers).get(SENT_HEADER)
                        # Seeking to the end may land inside an earlier phase's last batch.
                        if sent is not None and float(sent.decode()) >= began:
                            delays.append(received - float(sent.decode()))
                if stop.is_set() and not batches:
                    break

        async def send() -> None:
            _, key, value, headers = _record(next(source), datetime.now(UTC))
            headers = [*headers, (SENT_HEADER, repr(time.time()).encode())]
            await producer.send(ROUND_TRIP_TOPIC, value, key=key, headers=headers)

        sent_count = [0]
        began = time.time()
        reader = asyncio.create_task(read())
        sent_count[0] = await pace(rate, seconds, send)
        await producer.flush()
        stop.set()
        await asyncio.wait_for(reader, 30)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"sent": sent_count[0], "fetch_max_wait_ms": fetch_ms, **latency_ms(delays)}


async def platform_freshness(
    stack: Stack,
    subscriber: Subscriber,
    programme: GeneratedProgramme,
    rate: float,
    seconds: float,
    enrolled: int,
) -> tuple[dict[str, Any], int]:
    """The live mix at ``rate`` for a warm-up then ``seconds``; delays of the markers sent after
    the warm-up. ``enrolled`` is what the figures show now; returns what they show after."""
    source = steady_events(random.Random(SEED + int(rate)), programme)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", linger_ms=0)
    await producer.start()
    markers: list[tuple[int, float]] = []
    measuring = False
    target = enrolled

    async def send() -> None:
        nonlocal target
        data = next(source)
        topic, key, value, headers = _record(data, datetime.now(UTC))
        sent = time.time()
        await producer.send(topic, value, key=key, headers=headers)
        if isinstance(data, BeneficiaryEnrolledV1):
            target += 1
            if measuring:
                markers.append((target, sent))

    try:
        first = len(subscriber.answers)
        await pace(rate, WARM_UP_S, send)
        measuring = True
        sent = await pace(rate, seconds, send)
        await producer.flush()
    finally:
        await producer.stop()
    shown = await subscriber.until(target, CATCH_UP_TIMEOUT_S)
    answers = subscriber.answers[first:]
    delays = visible_delays(markers, answers)
    projection = await projection_freshness(stack)
    answered = [at for at, _ in answers]
    gaps = [later - earlier for earlier, later in pairwise(answered)]
    return {
        "rate": rate,
        "seconds": seconds,
        "events_sent": sent,
        "markers": len(markers),
        "markers_unseen": len(markers) - len(delays),
        "all_shown": shown,
        "subscription_answers": len(answers),
        "answer_interval_ms": latency_ms(gaps),
        "graphql_visible": latency_ms(delays),
        "projection_commit": projection,
    }, target


async def enrolment_push(
    stack: Stack, subscriber: Subscriber, count: int, enrolled: int
) -> dict[str, Any]:
    """``count`` enrolments through GraphQL one at a time: from the mutation sent to the first
    ``impactUpdated`` answer counting the person, next to the mutation's own answer."""
    headers = {"authorization": f"Bearer {stack.token()}"}
    rng = random.Random(SEED)
    pushed: list[float] = []
    answered: list[float] = []
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=headers, timeout=30) as http:
        associations = (await http.post("/graphql", json={"query": ASSOCIATIONS})).json()
        choices = associations["data"]["associations"]
        for _ in range(count):
            await asyncio.sleep(ENROLMENT_PAUSE_S)
            first = len(subscriber.answers)
            person = demo_enrolment(rng, rng.choice(choices))
            sent = time.time()
            response = await http.post(
                "/graphql", json={"query": ENROL, "variables": {"input": person}}
            )
            answered.append(time.time() - sent)
            if "errors" in response.json():
                raise RuntimeError(f"enrolment refused: {response.text[:300]}")
            enrolled += 1
            if not await subscriber.until(enrolled, CATCH_UP_TIMEOUT_S):
                raise RuntimeError(f"no impactUpdated answer counted enrolment {enrolled}")
            pushed += visible_delays([(enrolled, sent)], subscriber.answers[first:])
    return {
        "enrolments": count,
        "graphql_push": latency_ms(pushed),
        "mutation_answer": latency_ms(answered),
        "measured": "enrolBeneficiary sent → first impactUpdated answer counting the person",
    }


async def projection_freshness(stack: Stack) -> dict[str, Any]:
    """``impact.freshness`` now: the projection's own delays over its last ≤ 2,000 events."""
    headers = {"authorization": f"Bearer {stack.token()}"}
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=headers, timeout=30) as http:
        answer = (await http.post("/graphql", json={"query": PROJECTION_FRESHNESS})).json()
    freshness = answer["data"]["impact"]["freshness"]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(1000 * value, 1)

    return {
        "p50_ms": ms(freshness["p50Seconds"]),
        "p99_ms": ms(freshness["p99Seconds"]),
        "lag_ms": ms(freshness["lagSeconds"]),
        "over": "the projection's last ≤ 2,000 events, event time → commit",
    }


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    loads = {"start": load_average()}
    print(f"producing a programme of {args.base_events} events …", file=sys.stderr)
    programme, _ = await produce_programme(stack.kafka_bootstrap, args.base_events)
    phases = []
    async with subscribed(stack) as subscriber:
        people = len(programme.people)
        if not await subscriber.until(people, CATCH_UP_TIMEOUT_S):
            raise RuntimeError(
                f"reporting did not show {people} people within {CATCH_UP_TIMEOUT_S:.0f} s "
                f"(it shows {subscriber.enrolled}; errors: {subscriber.errors[:2]})"
            )
        loads["caught_up"] = load_average()
        enrolled = subscriber.enrolled
        for rate in args.rates:
            print(f"{rate:g} events/s: broker round trip …", file=sys.stderr)
            broker = await broker_round_trip(
                stack.kafka_bootstrap,
                programme,
                rate,
                args.seconds,
                stack.settings.live_fetch_max_wait_ms,
            )
            print(f"{rate:g} events/s: through the platform …", file=sys.stderr)
            phase, enrolled = await platform_freshness(
                stack, subscriber, programme, rate, args.seconds, enrolled
            )
            phase["broker_round_trip"] = broker
            phase["load_after"] = load_average()
            phases.append(phase)
        print(f"{args.enrolments} enrolments through GraphQL …", file=sys.stderr)
        enrolments = await enrolment_push(stack, subscriber, args.enrolments, enrolled)
        loads["after_enrolments"] = load_average()
        errors = subscriber.errors
    return {
        "benchmark": "freshness",
        "at": datetime.now(UTC).isoformat(),
        "base_events": programme.events,
        "base_people": len(programme.people),
        "warm_up_seconds": WARM_UP_S,
        "rates": phases,
        "enrolment_push": enrolments,
        "subscription_errors": errors[:5],
        "measured": "event produced (send time) → first impactUpdated answer showing it; "
        "markers are new enrolments within the live mix",
        "machine": machine(loads),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[200.0, 1000.0])
    parser.add_argument("--seconds", type=float, default=30.0, help="per rate, after warm-up")
    parser.add_argument("--base-events", type=int, default=20_000)
    parser.add_argument("--enrolments", type=int, default=30, help="through GraphQL, idle")
    args = parser.parse_args(argv)
    with platform_stack() as stack:
        result = asyncio.run(measure(stack, args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
