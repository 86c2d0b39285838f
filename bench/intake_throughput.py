"""Partner intake end to end: requests applied per second next to the raw produce rate.

Builds a programme's worth of partner requests (enrolments, sessions, attendance, placements),
sends them as fast as the broker takes them, *newest first* (every attendance before its
session and its person's enrolment, every placement before its enrolment: the order a partner
cannot promise), then waits until every service's delivery log has applied them all. Reports
the produce rate, the applied rate per service and in all, the most requests seen waiting,
and the refusals (there must be none). Writes bench/results/intake_throughput.json.

    python -m bench.intake_throughput [--people 1000] [--sessions 200] [--per-person 8]

on a platform of its own (bench/stack.py), as ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaProducer

from bench.stats import report_path
from contracts.event import EventData
from contracts.intake import EnrolmentRequestedV1
from contracts.orientation import PlacementKind, PlacementReportedV1
from contracts.training import AttendanceReportedV1, AttendanceStatus, SessionReportedV1
from kit.auth import Role, issue_token
from kit.settings import Settings

RESULTS = report_path("intake_throughput")
SOURCE = "partner/bench-crm"
ASSOCIATIONS = (
    ("asso-lac-connecte", "qpv-aubiers-lac"),
    ("asso-saige-en-ligne", "qpv-saige"),
)
SERVICES = ("registration", "training", "orientation")


def enrolment(
    person: UUID, association: str, district: str, n: int, seed: int
) -> EnrolmentRequestedV1:
    return EnrolmentRequestedV1.model_validate(
        {
            "beneficiary_id": person,
            "association_id": association,
            "district_id": district,
            "first_name": f"Banc{seed}",
            "last_name": f"Essai{n}",
            "birth_year": 1960 + n % 45,
            "phone": f"06 {seed % 100:02d}{n:06d}",
            "gender": ("female", "male")[n % 2],
            "tracks": ["digital_inclusion"],
            "employment_status": "unemployed_not_registered",
            "consent": {
                "programme_follow_up": True,
                "share_with_partners": True,
                "contact_for_surveys": False,
            },
        }
    )


def session(session_id: UUID, association: str, district: str, starts: datetime) -> EventData:
    return SessionReportedV1.model_validate(
        {
            "session_id": session_id,
            "association_id": association,
            "district_id": district,
            "module_id": "mod-demarches-en-ligne",
            "kind": "collective",
            "place_type": "association_premises",
            "starts_at": starts.isoformat(),
            "duration_minutes": 180,
            "capacity": 1000,
        }
    )


def plan(people: int, sessions: int, per_person: int, seed: int) -> list[tuple[str, EventData]]:
    """(topic, request) in the order a careful partner would send them."""
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=300)
    requests: list[tuple[str, EventData]] = []
    by_association: dict[str, list[UUID]] = {a: [] for a, _ in ASSOCIATIONS}
    for n in range(sessions):
        association, district = ASSOCIATIONS[n % len(ASSOCIATIONS)]
        session_id = uuid4()
        by_association[association].append(session_id)
        starts = start + timedelta(days=n % 280, hours=n % 7)
        requests.append(("dn.intake.training", session(session_id, association, district, starts)))
    for n in range(people):
        association, district = ASSOCIATIONS[n % len(ASSOCIATIONS)]
        person = uuid4()
        requests.append(
            ("dn.intake.registration", enrolment(person, association, district, n, seed))
        )
        chosen = rng.sample(by_association[association], min(per_person, sessions // 2))
        for session_id in chosen:
            mark = AttendanceReportedV1(
                session_id=str(session_id),
                beneficiary_id=person,
                status=AttendanceStatus.PRESENT,
                minutes=180,
            )
            requests.append(("dn.intake.training", mark))
        if n % 10 == 0:
            placement = PlacementReportedV1(
                beneficiary_id=person,
                kind=PlacementKind.CDI,
                starts_on=date.today() - timedelta(days=30),
            )
            requests.append(("dn.intake.orientation", placement))
    return requests


async def produce(bootstrap: str, requests: list[tuple[str, EventData]]) -> float:
    """Send every request, newest first, as fast as the broker acknowledges; seconds taken."""
    records = []
    for topic, data in reversed(requests):
        value, headers = data.to_event(SOURCE).to_kafka()
        encoded = [(name, text.encode()) for name, text in headers.items()]
        records.append((topic, data.subject().encode(), value, encoded))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for topic, key, value, headers in records:
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            if len(pending) >= 2_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def delivery_lines(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    lines: dict[str, Any] = {}
    for service in SERVICES:
        token = issue_token(settings, Role.COORDINATOR, audience=service)
        response = await client.get(
            f"{settings.service_url(service)}/deliveries",
            params={"partner": SOURCE},
            headers={"authorization": f"Bearer {token}"},
        )
        found = response.json()
        lines[service] = found[0] if found else {"accepted": 0, "rejected": 0, "waiting": 0}
    return lines


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    requests = plan(args.people, args.sessions, args.per_person, args.seed)
    expected = {service: 0 for service in SERVICES}
    for topic, _ in requests:
        expected[topic.removeprefix("dn.intake.")] += 1
    async with httpx.AsyncClient(timeout=10) as client:
        before = await delivery_lines(client, settings)  # a platform used before: counted on
    for service, line in before.items():
        expected[service] += line["accepted"] + line["rejected"]
    load_at_start = os.getloadavg()
    produce_s = await produce(settings.resolved_kafka_bootstrap, requests)
    print(f"produced {len(requests):,} requests in {produce_s:.1f} s", flush=True)
    # Applied is timed from the first record sent: the platform consumes while they arrive.
    started = time.perf_counter() - produce_s
    done_at: dict[str, float] = {}
    most_waiting = 0
    async with httpx.AsyncClient(timeout=10) as client:
        deadline = time.monotonic() + args.timeout
        while len(done_at) < len(SERVICES) and time.monotonic() < deadline:
            lines = await delivery_lines(client, settings)
            most_waiting = max(most_waiting, sum(line["waiting"] for line in lines.values()))
            for service, line in lines.items():
                if (
                    service not in done_at
                    and line["accepted"] + line["rejected"] >= expected[service]
                ):
                    done_at[service] = time.perf_counter() - started
            await asyncio.sleep(0.2)
        lines = await delivery_lines(client, settings)
    applied_s = max(done_at.values()) if len(done_at) == len(SERVICES) else None
    total = len(requests)
    return {
        "benchmark": "intake_throughput",
        "at": datetime.now(UTC).isoformat(),
        "requests": total,
        "per_service": expected,
        "produce_s": round(produce_s, 2),
        "produce_per_s": round(total / produce_s),
        "applied_s": None if applied_s is None else round(applied_s, 2),
        "applied_per_s": None if applied_s is None else round(total / applied_s),
        "service_done_s": {s: round(t, 2) for s, t in done_at.items()},
        "most_waiting": most_waiting,
        "refused": {s: line["rejected"] - before[s]["rejected"] for s, line in lines.items()},
        "accepted": {s: line["accepted"] - before[s]["accepted"] for s, line in lines.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1_5_15": {
                "start": [round(v, 2) for v in load_at_start],
                "end": [round(v, 2) for v in os.getloadavg()],
            },
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--per-person", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--own-platform", action="store_true", help="start a platform for it")
    args = parser.parse_args(argv)
    if args.own_platform:
        from bench.stack import platform_stack

        with platform_stack() as stack:
            os.environ.update(stack.environment())
            return asyncio.run(measure(args))
    return asyncio.run(measure(args))


if __name__ == "__main__":
    result = main()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
