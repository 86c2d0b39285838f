"""`impact` query latency under 50 concurrent clients over a large programme, next to computing
the same figures by aggregation over the raw records, and a check that both agree.

1. Generated people (no real personal data): each enrolled, with ``--attendance`` attendance
   records (statuses and lengths drawn at random) and, where the default rule holds (≥ 4
   sessions present, ≥ 12 h), the completion training emits.
2. The projection: those canonical events, as CloudEvents, through reporting's
   ``ProjectionHandler`` (decode, then ``project`` in one transaction per 2,000 events — the
   batch path a rebuild takes) into the running platform's ``dn_reporting``. No counter is
   written by hand.
3. The raw records, shaped like registration's ``beneficiaries`` and training's
   ``attendance`` collections (same fields and indexes; the sealed personal data replaced by
   random bytes), in a database of their own on the same mongod.
4. ``--clients`` concurrent GraphQL clients ask the gateway for a dashboard's ``impact`` for
   ``--seconds``; then one MongoDB aggregation pipeline computes the same figures (totals and
   the district, association and gender breakdowns) from the raw records, ``--runs`` times.
5. The figures of both are compared.

6. The gateway's own floor: the same clients asking ``{ __typename }`` (no service called, no
   resolver run) for ``--floor-seconds``: what one request costs before any figure is read.

Usage: python -m bench.impact_query [--people 100000] [--attendance 20] [--clients 50]
       [--seconds 30] [--runs 5] [--floor-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from bench.http_load import ConnectionLost, KeepAliveClient
from bench.stack import START_TIMEOUT_S, Stack, embedded_infra
from bench.stats import latency_ms, load_average, machine, report_path
from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.registration import BeneficiaryEnrolledV1
from contracts.training import AttendanceRecordedV1, AttendanceStatus, BeneficiaryTrainedV1
from dn.platform import Platform, running
from dn.simulation.programme import ASSOCIATIONS, CAREERS_MODULES, INCLUSION_MODULES
from kit.mongo import Document, connect
from services.reporting.handlers import ProjectionHandler
from services.reporting.store import Versions

RESULTS = report_path("impact_query")
SEED = 20260301
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Events per projection transaction. A rebuild applies 2,000 (its default, a parameter); the
# projector's result does not depend on the batch, only its cost does (services/reporting/
# projector.py), and larger batches keep the build of the full-size state within minutes.
BATCH = 5000
INSERT_CHUNK = 20_000
RAW_DATABASE = "bench_raw"
TRAINED_SESSIONS, TRAINED_MINUTES = 4, 12 * 60  # the default rule (services/training)

FLOOR = "{ __typename }"
IMPACT = """{ impact {
  enrolled funnel { stage count } trained directedToEmployment attendanceRate
  byDistrict { districtId enrolled attended trained attendanceRate }
  byAssociation { associationId enrolled attended trained attendanceRate }
  byGender { gender enrolled attended trained attendanceRate }
  progress { indicator target actual share forecastOn }
  freshness { lagSeconds p50Seconds p99Seconds }
} }"""
# The breakdowns compared, GraphQL list → (its key field, the raw record's field).
BREAKDOWNS = {
    "byDistrict": ("districtId", "district_id"),
    "byAssociation": ("associationId", "association_id"),
    "byGender": ("gender", "gender"),
}


# -- the generated programme ----------------------------------------------------------------------


@dataclass
class Person:
    enrolment: BeneficiaryEnrolledV1
    attendances: list[AttendanceRecordedV1] = field(default_factory=list)
    trained: BeneficiaryTrainedV1 | None = None

    def events(self) -> Iterator[EventData]:
        yield self.enrolment
        yield from self.attendances
        if self.trained is not None:
            yield self.trained


def person(rng: random.Random, index: int, attendance: int) -> Person:
    """One generated person: dimensions drawn at random, ``attendance`` roll-calls."""
    beneficiary = UUID(int=rng.getrandbits(128), version=4)
    association = ASSOCIATIONS[index % len(ASSOCIATIONS)]
    roll = rng.random()
    tracks = [Track.DIGITAL_INCLUSION] if roll < 0.75 else [Track.DIGITAL_CAREERS]
    enrolled_at = START + timedelta(days=rng.randint(0, 300), hours=rng.randint(0, 8))
    someone = Person(
        BeneficiaryEnrolledV1(
            beneficiary_id=beneficiary,
            association_id=association.id,
            district_id=rng.choice(association.districts),
            gender=rng.choices(list(Gender), weights=(55, 40, 2, 3))[0],
            age_band=rng.choice([band for band in AgeBand if band is not AgeBand.UNKNOWN]),
            tracks=tracks,
            employment_status=rng.choice(list(EmploymentStatus)),
            enrolled_at=enrolled_at,
            shares_with_partners=rng.random() < 0.8,
        )
    )
    modules = tuple(INCLUSION_MODULES if Track.DIGITAL_INCLUSION in tracks else CAREERS_MODULES)
    # Some people drop out early: about one in five attends fewer than four sessions.
    showing_up = 0.82 if rng.random() < 0.8 else 0.1
    present = minutes = 0
    for n in range(attendance):
        roll = rng.random()
        status = (
            AttendanceStatus.PRESENT
            if roll < showing_up
            else AttendanceStatus.EXCUSED_ABSENCE
            if roll < showing_up + (1 - showing_up) / 3
            else AttendanceStatus.UNEXCUSED_ABSENCE
        )
        length = rng.choice((60, 90, 120, 180)) if status is AttendanceStatus.PRESENT else 0
        starts = enrolled_at + timedelta(days=7 * (n + 1))
        module = modules[n % len(modules)]
        someone.attendances.append(
            AttendanceRecordedV1(
                beneficiary_id=beneficiary,
                attendance_id=f"att-{beneficiary.hex[:12]}-{n:03d}",
                session_id=f"session-{association.id}-{module}-{starts:%Y%m%d%H}-{n % 7}",
                status=status,
                minutes=length,
                module_id=module,
                association_id=association.id,
                session_starts_at=starts,
                recorded_at=starts + timedelta(hours=3),
            )
        )
        present += status is AttendanceStatus.PRESENT
        minutes += length
        if someone.trained is None and present >= TRAINED_SESSIONS and minutes >= TRAINED_MINUTES:
            someone.trained = BeneficiaryTrainedV1(
                beneficiary_id=beneficiary,
                sessions_present=present,
                minutes_present=minutes,
                trained_at=starts + timedelta(hours=3),
            )
    return someone


def raw_documents(someone: Person) -> tuple[Document, list[Document]]:
    """The registration ``beneficiaries`` and training ``attendance`` documents of a person."""
    enrolment = someone.enrolment
    beneficiary: Document = {
        "_id": str(enrolment.beneficiary_id),
        "association_id": enrolment.association_id,
        "district_id": enrolment.district_id,
        "gender": enrolment.gender.value,
        "age_band": enrolment.age_band.value,
        "tracks": [track.value for track in enrolment.tracks],
        "employment_status": enrolment.employment_status.value,
        "consent": {
            "programme_follow_up": True,
            "share_with_partners": enrolment.shares_with_partners,
            "contact_for_surveys": False,
        },
        # Where registration keeps the sealed personal data: random bytes of a similar size.
        "personal": {"key_id": "bench", "nonce": os.urandom(12), "sealed": os.urandom(96)},
        "enrolled_at": enrolment.enrolled_at,
        "last_contact_at": enrolment.enrolled_at,
        "status": "active",
    }
    attendance = [
        {
            "_id": record.attendance_id,
            "session_id": record.session_id,
            "beneficiary_id": str(record.beneficiary_id),
            "status": record.status.value,
            "minutes": record.minutes,
            "module_id": record.module_id,
            "association_id": record.association_id,
            "session_starts_at": record.session_starts_at,
            "recorded_at": record.recorded_at,
        }
        for record in someone.attendances
    ]
    return beneficiary, attendance


# -- building both ---------------------------------------------------------------------------------


@dataclass
class Built:
    people: int = 0
    events: int = 0
    attendance: int = 0
    trained: int = 0
    projection_seconds: float = 0.0  # inside the handler, summed over batches
    raw_seconds: float = 0.0  # inside insert_many, summed (runs alongside the projection)
    wall_seconds: float = 0.0


async def build(
    client: AsyncMongoClient[Document], reporting: str, people: int, attendance: int
) -> Built:
    """The projection through reporting's handler, and the raw records, for the same people.
    The raw records are inserted while the projection applies the next batch."""
    versions = Versions(client[reporting])
    handler = ProjectionHandler(client, versions)
    raw = client[RAW_DATABASE]
    await raw.drop_collection("beneficiaries")
    await raw.drop_collection("attendance")
    # training's indexes (services/training/store.py); registration's _id is the person.
    await raw["attendance"].create_index(
        [("session_id", ASCENDING), ("beneficiary_id", 1)], unique=True
    )
    await raw["attendance"].create_index([("beneficiary_id", ASCENDING)])
    rng = random.Random(SEED)
    built = Built()
    began = time.perf_counter()
    pending: list[CloudEvent] = []
    beneficiaries: list[Document] = []
    records: list[Document] = []
    inserting: asyncio.Task[float] | None = None
    step = max(1, people // 10)

    async def project(events: list[CloudEvent]) -> None:
        built.events += len(events)
        started = time.perf_counter()
        await handler(events)
        built.projection_seconds += time.perf_counter() - started

    for index in range(people):
        someone = person(rng, index, attendance)
        for data in someone.events():
            pending.append(data.to_event(f"dn/{data.topic.split('.')[1]}"))
        built.people += 1
        built.attendance += len(someone.attendances)
        built.trained += someone.trained is not None
        beneficiary, rows = raw_documents(someone)
        beneficiaries.append(beneficiary)
        records += rows
        if len(records) >= INSERT_CHUNK:
            if inserting is not None:
                built.raw_seconds += await inserting
            inserting = asyncio.create_task(_insert(raw, beneficiaries, records))
            beneficiaries, records = [], []
        if len(pending) >= BATCH:
            await project(pending)
            pending = []
        if (index + 1) % step == 0:
            print(f"  {index + 1} people, {built.events} events projected", file=sys.stderr)
    if pending:
        await project(pending)
    if inserting is not None:
        built.raw_seconds += await inserting
    if beneficiaries or records:
        built.raw_seconds += await _insert(raw, beneficiaries, records)
    built.wall_seconds = time.perf_counter() - began
    return built


async def _insert(
    raw: AsyncDatabase[Document], beneficiaries: list[Document], records: list[Document]
) -> float:
    started = time.perf_counter()
    if beneficiaries:
        await raw["beneficiaries"].insert_many(beneficiaries, ordered=False)
    if records:
        await raw["attendance"].insert_many(records, ordered=False)
    return time.perf_counter() - started


# -- the figures, both ways ----------------------------------------------------------------------


def aggregation_pipeline() -> list[Document]:
    """Enrolled, attended, trained and attendance rate per person from the raw records, then
    summed for the programme and per district, association and gender. One pass over both
    collections ($unionWith, then $group by person) rather than a $lookup per person."""
    is_present = {"$eq": ["$status", "present"]}
    sums = {
        "enrolled": {"$sum": 1},
        "attended": {"$sum": {"$cond": [{"$gt": ["$present", 0]}, 1, 0]}},
        "trained": {"$sum": {"$cond": ["$trained", 1, 0]}},
        "present": {"$sum": "$present"},
        "recorded": {"$sum": "$recorded"},
    }
    return [
        {"$project": {"district_id": 1, "association_id": 1, "gender": 1, "enrolled": "$_id"}},
        {
            "$unionWith": {
                "coll": "attendance",
                "pipeline": [
                    {
                        "$project": {
                            "_id": "$beneficiary_id",
                            "recorded": {"$literal": 1},
                            "present": {"$cond": [is_present, 1, 0]},
                            "minutes": {"$cond": [is_present, "$minutes", 0]},
                        }
                    }
                ],
            }
        },
        {
            "$group": {
                "_id": "$_id",
                "enrolled": {"$max": "$enrolled"},
                "district_id": {"$max": "$district_id"},
                "association_id": {"$max": "$association_id"},
                "gender": {"$max": "$gender"},
                "recorded": {"$sum": "$recorded"},
                "present": {"$sum": "$present"},
                "minutes": {"$sum": "$minutes"},
            }
        },
        # Attendance of someone never enrolled is not part of these figures (there is none).
        {"$match": {"enrolled": {"$ne": None}}},
        {
            "$set": {
                "trained": {
                    "$and": [
                        {"$gte": ["$present", TRAINED_SESSIONS]},
                        {"$gte": ["$minutes", TRAINED_MINUTES]},
                    ]
                }
            }
        },
        {
            "$facet": {
                "all": [{"$group": {"_id": None, **sums}}],
                **{
                    name: [{"$group": {"_id": f"${raw_field}", **sums}}]
                    for name, (_, raw_field) in BREAKDOWNS.items()
                },
            }
        },
    ]


def figures_of_aggregation(answer: Document) -> dict[str, Any]:
    """The aggregation's answer in the shape :func:`figures_of_graphql` gives."""

    def cell(row: Document) -> dict[str, Any]:
        rate = row["present"] / row["recorded"] if row["recorded"] else None
        return {
            "enrolled": row["enrolled"],
            "attended": row["attended"],
            "trained": row["trained"],
            "attendance_rate": None if rate is None else round(rate, 6),
        }

    totals = answer["all"][0] if answer["all"] else {"enrolled": 0, "attended": 0, "trained": 0}
    totals.setdefault("present", 0)
    totals.setdefault("recorded", 0)
    return {
        "totals": cell(totals),
        **{name: {str(row["_id"]): cell(row) for row in answer[name]} for name in BREAKDOWNS},
    }


def figures_of_graphql(impact: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL ``impact`` answer's figures: totals and the compared breakdowns."""

    def rate(value: float | None) -> float | None:
        return None if value is None else round(value, 6)

    attended = next((s["count"] for s in impact["funnel"] if s["stage"] == "attended"), None)
    result: dict[str, Any] = {
        "totals": {
            "enrolled": impact["enrolled"],
            "attended": attended,
            "trained": impact["trained"],
            "attendance_rate": rate(impact["attendanceRate"]),
        }
    }
    for name, (key, _) in BREAKDOWNS.items():
        result[name] = {
            str(row[key]).lower(): {
                "enrolled": row["enrolled"],
                "attended": row["attended"],
                "trained": row["trained"],
                "attendance_rate": rate(row["attendanceRate"]),
            }
            for row in impact[name]
            if row["enrolled"]  # a cell the projection knows with nobody in it
        }
    return result


def differences(projection: dict[str, Any], aggregation: dict[str, Any]) -> list[str]:
    """Where the two disagree, one line each; empty when every compared figure is equal."""
    found = []
    for part in sorted(set(projection) | set(aggregation)):
        ours, theirs = projection.get(part, {}), aggregation.get(part, {})
        if part == "totals":
            ours, theirs = {"": ours}, {"": theirs}
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key) != theirs.get(key):
                found.append(f"{part}[{key}]: projection {ours.get(key)} ≠ raw {theirs.get(key)}")
    return found


# -- the measurements ----------------------------------------------------------------------------


async def query_clients(
    stack: Stack, clients: int, seconds: float, query: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``clients`` concurrent GraphQL clients asking ``query`` (the dashboard's ``impact``) for
    ``seconds``, each on a keep-alive connection of its own (bench/http_load.py): latency
    summary, and the last answer's data."""
    body = json.dumps({"query": query or IMPACT}).encode()
    headers = {"Authorization": f"Bearer {stack.token()}"}
    url = f"{stack.gateway_url}/graphql"
    connections = [KeepAliveClient(url, body, headers) for _ in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    last = b""
    try:
        # Warm up: connections made, the gateway's reference data read once.
        for connection in connections:
            await connection.post()
        deadline = time.perf_counter() + seconds

        async def client(connection: KeepAliveClient) -> None:
            nonlocal last
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    status, answer = await connection.post()
                except ConnectionLost as error:  # counted, and the client goes on
                    errors.append(str(error)[:300])
                    await asyncio.sleep(0.1)
                    continue
                elapsed = time.perf_counter() - started
                # Checked without parsing ~70 KiB of JSON per answer (the load generator shares
                # the gateway's two cores); the last answer is parsed and its figures checked.
                if status != 200 or not answer.startswith(b'{"data":{') or b'"errors":' in answer:
                    errors.append(f"{status} {answer[:300]!r}")
                    continue
                latencies.append(elapsed)
                last = answer

        started = time.perf_counter()
        await asyncio.gather(*(client(connection) for connection in connections))
        wall = time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()
    summary = {
        "clients": clients,
        "seconds": round(wall, 1),
        "queries": len(latencies),
        "queries_per_s": round(len(latencies) / wall, 1) if wall else None,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        **latency_ms(latencies),
    }
    data: dict[str, Any] = json.loads(last)["data"] if last else {}
    return summary, data


async def aggregate(
    client: AsyncMongoClient[Document], runs: int
) -> tuple[dict[str, Any], Document]:
    latencies = []
    answer: Document = {}
    for _ in range(runs):
        started = time.perf_counter()
        cursor = await client[RAW_DATABASE]["beneficiaries"].aggregate(
            aggregation_pipeline(), allowDiskUse=True
        )
        answers = await cursor.to_list()
        latencies.append(time.perf_counter() - started)
        answer = answers[0]
    return {"runs": runs, "clients": 1, **latency_ms(latencies)}, answer


async def build_both(
    mongodb_url: str, reporting: str, args: argparse.Namespace, loads: dict[str, list[float]]
) -> Built:
    client = connect(mongodb_url)
    try:
        print(f"projecting {args.people} people × {args.attendance} attendance …", file=sys.stderr)
        built = await build(client, reporting, args.people, args.attendance)
    finally:
        await client.close()
    loads["after_build"] = load_average()
    return built


async def measure(
    stack: Stack, args: argparse.Namespace, built: Built, loads: dict[str, list[float]]
) -> dict[str, Any]:
    client = connect(stack.mongodb_url)
    try:
        loads["platform_started"] = load_average()
        print(f"{args.clients} clients asking for impact …", file=sys.stderr)
        queries, answer = await query_clients(stack, args.clients, args.seconds)
        loads["after_queries"] = load_average()
        print(f"{args.clients} clients asking for {FLOOR} …", file=sys.stderr)
        floor, _ = await query_clients(stack, args.clients, args.floor_seconds, FLOOR)
        print(f"aggregating the raw records {args.runs}× …", file=sys.stderr)
        aggregation, raw_answer = await aggregate(client, args.runs)
        loads["after_aggregation"] = load_average()
    finally:
        await client.close()
    projection = figures_of_graphql(answer["impact"])
    from_raw = figures_of_aggregation(raw_answer)
    mismatches = differences(projection, from_raw)
    totals = projection["totals"]
    p50, raw_p50 = queries["p50_ms"], aggregation["p50_ms"]
    return {
        "benchmark": "impact_query",
        "at": datetime.now(UTC).isoformat(),
        "people": built.people,
        "attendance_events": built.attendance,
        "events_projected": built.events,
        "trained_generated": built.trained,
        "projection_build_seconds": round(built.projection_seconds, 1),
        "projection_build_events_per_s": round(built.events / built.projection_seconds)
        if built.projection_seconds
        else None,
        "raw_insert_seconds": round(built.raw_seconds, 1),
        "build_wall_seconds": round(built.wall_seconds, 1),
        "projection_batch_events": BATCH,
        "graphql_impact": queries,
        "graphql_floor": {"query": FLOOR, **floor},
        "raw_aggregation": aggregation,
        "speed_up_p50": round(raw_p50 / p50, 1) if p50 and raw_p50 else None,
        "figures_agree": not mismatches,
        "mismatches": mismatches[:50],
        "figures": {
            "enrolled": totals["enrolled"],
            "attended": totals["attended"],
            "trained": totals["trained"],
            "attendance_rate": totals["attendance_rate"],
        },
        "figures_checked": {
            name: len(projection.get(name, {})) for name in ("totals", *BREAKDOWNS)
        },
        "query": " ".join(IMPACT.split()),
        "machine": machine(loads),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--attendance", type=int, default=20, help="records per person")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=5, help="aggregation runs")
    parser.add_argument(
        "--floor-seconds", type=float, default=10.0, help=f"{FLOOR} asked the same way"
    )
    args = parser.parse_args(argv)
    loads = {"start": load_average()}
    # The state is built before the platform starts: its idle consumers (polling the broker
    # every fetch_max_wait_ms) would only slow the build down.
    with embedded_infra() as (settings, mongodb_url, bootstrap):
        reporting = f"{settings.database_prefix}reporting"
        built = asyncio.run(build_both(mongodb_url, reporting, args, loads))
        with running(Platform(settings, mongodb_url, bootstrap), START_TIMEOUT_S):
            stack = Stack(settings, mongodb_url, bootstrap)
            result = asyncio.run(measure(stack, args, built, loads))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
