"""Live figures: a graphql-transport-ws subscription to impactUpdated through the gateway gets
the figures at once, then the change an enrolment makes, about a second at most later; a
filter on another district hears nothing of it; no token, no subscription."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator
from statistics import median
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.conftest import TestInfra
from tests.e2e.conftest import enrolment, until
from tests.e2e.test_trace_and_status_cli import dn

pytestmark = pytest.mark.e2e

PROTOCOL = "graphql-transport-ws"
IMPACT_UPDATED = """
subscription Live($filter: ImpactFilter) {
  impactUpdated(filter: $filter) { enrolled updatedAt byDistrict { districtId enrolled } } }"""
ENROL = """
mutation Enrol($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"""
ENROLMENTS = 8
SPACING_S = 0.4
# The promise is "within a second"; the margin covers a loaded 2-core test machine.
PUSH_WITHIN_S = 3.0
PUSH_SPAN = "impactUpdated push"


class LiveConnection:
    """One graphql-transport-ws connection to the gateway."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.answers: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def initialise(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        message: dict[str, Any] = json.loads(await self.socket.recv())
        if message["type"] == "connection_ack":
            self._reader = asyncio.create_task(self._read())
        return message

    async def subscribe(self, operation_id: str, variables: dict[str, Any]) -> None:
        self.answers[operation_id] = asyncio.Queue()
        payload = {"query": IMPACT_UPDATED, "variables": variables}
        await self.socket.send(
            json.dumps({"id": operation_id, "type": "subscribe", "payload": payload})
        )

    async def next(self, operation_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """The operation's next message (``next``, ``error`` or ``complete``)."""
        return await asyncio.wait_for(self.answers[operation_id].get(), timeout_s)

    async def next_impact(self, operation_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        message = await self.next(operation_id, timeout_s)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        impact: dict[str, Any] = message["payload"]["data"]["impactUpdated"]
        return impact

    async def _read(self) -> None:
        async for text in self.socket:
            message = json.loads(text)
            if message.get("type") == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
            elif "id" in message and message["id"] in self.answers:
                self.answers[message["id"]].put_nowait(message)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.socket.close()


def websocket_url(platform: Platform) -> str:
    return platform.settings.gateway_url.replace("http://", "ws://") + "/graphql"


@contextlib.asynccontextmanager
async def live(platform: Platform, payload: dict[str, Any]) -> AsyncIterator[LiveConnection]:
    async with connect(websocket_url(platform), subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        connection = LiveConnection(socket)
        ack = await connection.initialise(payload)
        assert ack["type"] == "connection_ack", ack
        try:
            yield connection
        finally:
            await connection.close()


@pytest.fixture
async def coordinator_live(
    platform: Platform, coordinator_token: str
) -> AsyncIterator[LiveConnection]:
    async with live(platform, {"Authorization": f"Bearer {coordinator_token}"}) as connection:
        yield connection


@pytest.fixture
async def gateway_async(
    platform: Platform, coordinator_token: str
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"authorization": f"Bearer {coordinator_token}"}
    async with httpx.AsyncClient(
        base_url=platform.settings.gateway_url, headers=headers, timeout=15
    ) as client:
        yield client


async def enrol(client: httpx.AsyncClient, **overrides: Any) -> str:
    response = await client.post(
        "/graphql", json={"query": ENROL, "variables": {"input": enrolment(**overrides)}}
    )
    body = response.json()
    assert "errors" not in body, body
    beneficiary_id: str = body["data"]["enrolBeneficiary"]["id"]
    return beneficiary_id


async def until_enrolled(
    connection: LiveConnection, operation_id: str, expected: int, timeout_s: float
) -> dict[str, Any]:
    """The first pushed Impact counting ``expected`` people (other pushes are skipped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no pushed Impact with enrolled={expected} in {timeout_s} s")
        impact = await connection.next_impact(operation_id, remaining)
        if impact["enrolled"] >= expected:
            return impact


def push_seconds_observed(platform: Platform) -> tuple[float, float]:
    """(count, sum) of reporting's dn_impact_push_seconds histogram."""
    url = platform.settings.service_url("reporting") + "/metrics"
    samples = {}
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith("dn_impact_push_seconds_"):
            name, _, value = line.partition(" ")
            samples[name] = float(value)
    return samples.get("dn_impact_push_seconds_count", 0.0), samples.get(
        "dn_impact_push_seconds_sum", 0.0
    )


async def test_an_enrolment_is_pushed_to_impact_subscribers_within_a_second(
    platform: Platform,
    coordinator_live: LiveConnection,
    gateway_async: httpx.AsyncClient,
) -> None:
    await coordinator_live.subscribe("all", {})
    first = await coordinator_live.next_impact("all")
    enrolled = first["enrolled"]
    pushes_before = push_seconds_observed(platform)
    delays: list[float] = []  # mutation sent → pushed Impact received
    after_answer: list[float] = []  # mutation answered → pushed Impact received
    for _ in range(ENROLMENTS):
        # Spaced like people enrolling, so the four-answers-a-second limit does not delay them.
        await asyncio.sleep(SPACING_S)
        sent = time.perf_counter()
        await enrol(gateway_async)
        answered = time.perf_counter()
        pushed = await until_enrolled(coordinator_live, "all", enrolled + 1, PUSH_WITHIN_S)
        received = time.perf_counter()
        delays.append(received - sent)
        after_answer.append(received - answered)
        assert pushed["enrolled"] == enrolled + 1
        enrolled = pushed["enrolled"]
    count, total = push_seconds_observed(platform)
    pushes = count - pushes_before[0]
    reporting_mean = (total - pushes_before[1]) / max(1.0, pushes)
    print(
        f"\n{ENROLMENTS} enrolments: mutation sent → Impact pushed p50 {ms(median(delays))}, "
        f"max {ms(max(delays))}; mutation answered → pushed p50 {ms(median(after_answer))}, "
        f"max {ms(max(after_answer))}; event time → change notice out of reporting "
        f"(dn_impact_push_seconds) mean {ms(reporting_mean)} over {pushes:.0f} notices"
    )
    assert max(delays) < PUSH_WITHIN_S


def path_to(span: dict[str, Any], name: str) -> list[dict[str, Any]] | None:
    """The spans from ``span`` down to the first one called ``name``, both included."""
    if span["name"] == name:
        return [span]
    for child in span["children"]:
        if (below := path_to(child, name)) is not None:
            return [span, *below]
    return None


async def test_the_push_joins_the_trace_of_the_enrolment_that_caused_it(
    platform: Platform,
    settings: Settings,
    infra: TestInfra,
    coordinator_live: LiveConnection,
    gateway_async: httpx.AsyncClient,
) -> None:
    """GraphQL → registration → outbox → Kafka → reporting → change notice → gateway push: one
    trace. A push carries the latest change's trace, so another event landing in the same
    instant may take it: up to three enrolments are tried."""
    await coordinator_live.subscribe("traced", {})
    enrolled = (await coordinator_live.next_impact("traced"))["enrolled"]
    path: list[dict[str, Any]] | None = None
    for _ in range(3):
        response = await gateway_async.post(
            "/graphql", json={"query": ENROL, "variables": {"input": enrolment()}}
        )
        assert "errors" not in response.json(), response.text
        trace_id = response.headers["x-trace-id"]
        enrolled = (await until_enrolled(coordinator_live, "traced", enrolled + 1, 10.0))[
            "enrolled"
        ]

        def shown(trace_id: str = trace_id) -> subprocess.CompletedProcess[str]:
            return dn(settings, infra, "trace", trace_id, "--json")

        def has_push(result: subprocess.CompletedProcess[str]) -> bool:
            return result.returncode == 0 and PUSH_SPAN in result.stdout

        result = await asyncio.to_thread(until, shown, has_push, 10)
        if has_push(result):
            [root] = json.loads(result.stdout)["spans"]
            path = path_to(root, PUSH_SPAN)
            break
    assert path is not None, "no push span joined any of three enrolments' traces"
    assert path[0]["name"] == "POST /graphql"
    services = [span["service"] for span in path]
    assert services[0] == "dn-gateway"
    assert services[-1] == "dn-gateway"
    assert "dn-registration" in services
    assert "dn-reporting" in services
    assert services.index("dn-registration") < services.index("dn-reporting")
    assert not any(span["orphan"] for span in path)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


async def test_a_filter_on_another_district_hears_nothing_of_the_enrolment(
    coordinator_live: LiveConnection, gateway_async: httpx.AsyncClient
) -> None:
    await coordinator_live.subscribe("elsewhere", {"filter": {"districtId": "qpv-aubiers-lac"}})
    await coordinator_live.subscribe("here", {"filter": {"districtId": "qpv-saige"}})
    await coordinator_live.next_impact("elsewhere")
    here = await coordinator_live.next_impact("here")
    await enrol(gateway_async, districtId="qpv-saige")
    pushed = await until_enrolled(coordinator_live, "here", here["enrolled"] + 1, PUSH_WITHIN_S)
    assert pushed["enrolled"] == here["enrolled"] + 1
    try:
        told: dict[str, Any] | None = await coordinator_live.next("elsewhere", timeout_s=1.5)
    except TimeoutError:
        told = None
    assert told is None, f"the other district's subscription was told: {told}"


async def test_a_subscription_without_a_token_is_refused_with_a_reason(
    platform: Platform,
) -> None:
    async with connect(websocket_url(platform), subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed):
            await socket.recv()
    assert socket.close_code == 4403
    assert socket.close_reason is not None
    assert "Authorization" in socket.close_reason


async def test_a_subscription_with_a_forged_token_is_refused(platform: Platform) -> None:
    forged = issue_token(
        Settings(jwt_secret="not-the-platform-key-" * 3),
        Role.COORDINATOR,
    )
    async with connect(websocket_url(platform), subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        payload = {"authorization": f"Bearer {forged}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed):
            await socket.recv()
    assert socket.close_code == 4403
    assert "not valid" in (socket.close_reason or "")


async def test_a_role_that_may_not_read_the_figures_gets_an_error_not_figures(
    platform: Platform, settings: Settings
) -> None:
    ops = issue_token(settings, Role.OPS)
    async with live(platform, {"Authorization": f"Bearer {ops}"}) as connection:
        await connection.subscribe("ops", {})
        message = await connection.next("ops")
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN", message


async def test_the_token_may_come_in_the_handshake_header_instead(
    platform: Platform, coordinator_token: str
) -> None:
    headers = {"Authorization": f"Bearer {coordinator_token}"}
    async with connect(
        websocket_url(platform),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers=headers,
    ) as socket:
        connection = LiveConnection(socket)
        assert (await connection.initialise({}))["type"] == "connection_ack"
        await connection.subscribe("header", {})
        impact = await connection.next_impact("header")
        await connection.close()
    assert impact["enrolled"] >= 0
