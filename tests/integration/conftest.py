"""A shared, long-lived projection consumer on the real broker (a new group takes seconds)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.envelope import CloudEvent
from contracts.registration import BeneficiaryEnrolledV1
from contracts.topics import REGISTRATION_EVENTS
from gateway.context import Context
from gateway.loaders import Loaders
from gateway.services import Services
from kit.auth import Role, issue_token
from kit.broker import build_broker
from kit.consumer import RetryPolicy, subscribe_batch
from kit.deadletter import DeadLetters
from kit.mongo import Document
from kit.settings import Settings
from services.reporting.handlers import TOPICS, ProjectionHandler
from services.reporting.store import ReportingStore, Versions
from tests.conftest import TestInfra
from tests.support import eventually, produce

POISON_SUBJECT = "poison-pill"


def enrolment(association_id: str, district_id: str = "qpv-saige") -> BeneficiaryEnrolledV1:
    return BeneficiaryEnrolledV1(
        beneficiary_id=uuid4(),
        association_id=association_id,
        district_id=district_id,
        gender=Gender.FEMALE,
        age_band=AgeBand.FROM_26_TO_44,
        tracks=[Track.DIGITAL_CAREERS],
        employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
        enrolled_at=datetime.now(UTC),
    )


def as_record(event: CloudEvent) -> tuple[bytes, list[tuple[str, bytes]]]:
    value, headers = event.to_kafka()
    return value, [(name, text.encode()) for name, text in headers.items()]


@dataclass
class Projection:
    versions: Versions
    bootstrap: str
    client: AsyncMongoClient[Document]
    group_id: str

    async def store(self) -> ReportingStore:
        """The version reads use now (a rebuild switches it)."""
        return await self.versions.active_store()

    async def count(
        self, scope: str, indicator: str, dimension: str | None = None, value: str | None = None
    ) -> int:
        counters = await (await self.store()).counters_of(scope)
        found = [c for c in counters if c.get("dimension") == dimension and c.get("value") == value]
        return int(found[0].get(indicator, 0)) if found else 0

    async def enrolled(self, association_id: str) -> int:
        store = await self.store()
        counters = await store.counters_of(f"association:{association_id}")
        totals = [c for c in counters if c.get("dimension") is None]
        return int(totals[0].get("enrolled", 0)) if totals else 0


@contextlib.asynccontextmanager
async def live_projection(
    bootstrap: str, mongo: AsyncMongoClient[Document]
) -> AsyncIterator[Projection]:
    """The reporting projection handler behind kit's at-least-once batch subscriber, in-process,
    with a database and a consumer group of its own (a new group reads the topics from their
    beginning, once the broker has assigned it partitions: seconds)."""
    db = mongo[f"test_reporting_{uuid4().hex[:8]}"]
    versions = Versions(db)
    store = await versions.active_store()
    await store.ensure_indexes()
    handler = ProjectionHandler(mongo, versions)

    async def handle(events: list[CloudEvent]) -> None:
        if any(event.subject == POISON_SUBJECT for event in events):
            raise RuntimeError("this event always fails")
        await handler(events)

    broker: KafkaBroker = build_broker(bootstrap, client_id="test-projection")
    dead_letters = DeadLetters(bootstrap, consumer="test-projection")
    group_id = f"test-projection-{uuid4().hex[:8]}"
    subscribe_batch(
        broker,
        *TOPICS,
        group_id=group_id,
        handle=handle,
        dead_letters=dead_letters,
        retry=RetryPolicy(attempts=3, first_delay_s=0.05, max_delay_s=0.2),
    )
    await dead_letters.start()
    await broker.start()
    try:
        yield Projection(versions, bootstrap, mongo, group_id)
    finally:
        await broker.stop()
        await dead_letters.stop()


@pytest.fixture(scope="session")
async def projection(
    infra: TestInfra, mongo: AsyncMongoClient[Document]
) -> AsyncIterator[Projection]:
    """One live projection shared by the tests, ready: its consumer group has its partitions."""
    async with live_projection(infra.kafka_bootstrap, mongo) as projection:
        # Wait for the group assignment: a probe event must come through.
        probe_association = f"probe-{uuid4().hex[:8]}"
        value, headers = as_record(enrolment(probe_association).to_event("dn/test"))
        await produce(infra.kafka_bootstrap, REGISTRATION_EVENTS, [(b"probe", value, headers)])
        await eventually(lambda: projection.enrolled(probe_association), lambda n: n == 1,
                         timeout_s=60, what="consumer group assignment")  # fmt: skip
        yield projection


@contextlib.asynccontextmanager
async def behind_the_gateway(
    settings: Settings, service: str, app: FastAPI
) -> AsyncIterator[tuple[Context, httpx.AsyncClient]]:
    """The service ``app`` running (its lifespan), reached as the gateway reaches it: a
    coordinator's GraphQL context over the gateway's own clients, and a client straight to the
    service carrying the token the gateway would sign for it."""
    transport = httpx.ASGITransport(app=app)
    services = Services(settings, transport=transport)
    context = Context(settings, services, Loaders)
    context.connection_params = {
        "Authorization": f"Bearer {issue_token(settings, Role.COORDINATOR)}"
    }
    token = services.token_for(service, context.authorization)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url=f"http://{service}",
            headers={"authorization": f"Bearer {token}"},
        ) as http,
    ):
        yield context, http
    await services.close()
