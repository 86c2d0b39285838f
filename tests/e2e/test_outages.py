"""MongoDB or the broker unavailable for 30 s while staff and partners keep working: no process
dies, callers get a clear refusal they can retry, and once the part is back every enrolment lands
exactly once in every service and in the reporting figures (issue #7).

Both outages run on a platform of their own (own ``DN_HOME``, mongod, broker and ports), so
stopping a part never disturbs the session's platform; the figures are therefore the whole
programme of that platform and must equal the ground truth kept from the inputs.

* **MongoDB**: mongod is killed with SIGKILL and started again on the same dbpath and port after
  the outage (``EmbeddedInfra.up``, as ``dn infra up`` would); it comes back as primary with
  every acknowledged write.
* **Broker**: Tansu here is built with memory and S3 storage only (``--storage-engine
  sqlite://…`` fails with ``FeatureNotEnabled { feature: "libsql" }``, postgres likewise), so
  killing it would lose its log and the committed offsets — a loss no replicated Kafka cluster
  has. The platform therefore reaches the broker through ``tansu proxy`` (advertising itself in
  the metadata), and the outage kills that proxy with SIGKILL and restarts it afterwards: every
  client sees what a crashed broker looks like (connections reset, new ones refused) while the
  log survives, as it would on a cluster. SIGSTOP was not chosen: a frozen broker accepts
  connections and never answers, which is a hang, not the unavailability asked about.

``DN_TEST_OUTAGE_S`` sets the outage length (30 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from contracts.envelope import CloudEvent
from contracts.topics import INTAKE_REGISTRATION
from dn.infra import EmbeddedInfra, tansu_binary
from dn.platform import Platform, free_port, free_process_ports
from dn.status import figures_from_exposition
from kit import outbox
from kit.auth import Role, issue_token
from kit.mongo import Document, connect
from kit.settings import SERVICE_NAMES, Settings
from tests.e2e.conftest import enrolment
from tests.support import eventually

pytestmark = pytest.mark.e2e

OUTAGE_S = float(os.environ.get("DN_TEST_OUTAGE_S", "30"))
# Longest a caller may wait for any answer, refusal included (the gateway gives a service 10 s).
ANSWER_BOUND_S = 15.0
# A service's /healthz bounds its pings to 1.5 s; unbounded, it would wait out server selection
# (10 s). The margin is for a busy machine.
HEALTH_BOUND_S = 8.0
# A partner's producer gives up on a send after this, then sends the same record again.
PARTNER_SEND_TIMEOUT_S = 10.0
RECOVERY_TIMEOUT_S = 90.0
REQUESTED = "dn.intake.registration.enrolment_requested.v1"
PLACES = (("asso-saige-en-ligne", "qpv-saige"), ("asso-lac-connecte", "qpv-aubiers-lac"))
GENDERS = ("FEMALE", "MALE", "NON_BINARY")
ENROL = "mutation ($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
# Where each service keeps the people it knows (by beneficiary id).
KNOWN_PEOPLE = {
    "registration": "beneficiaries",
    "training": "beneficiaries",
    "orientation": "people",
}
IMPACT = (
    """{ impact { enrolled byGender { gender enrolled } byDistrict { districtId enrolled } } }"""
)


@pytest.fixture(scope="module", autouse=True)
def quiet_platform() -> None:
    """This module runs its own platform: the session's needs no settling (nor starting)."""


# -- the platform under test ----------------------------------------------------------------


@dataclass
class OutageBed:
    """mongod (embedded), the Tansu broker behind a ``tansu proxy``, and the five processes."""

    home: Path
    embedded: EmbeddedInfra
    broker_port: int
    proxy_port: int
    platform: Platform | None = None
    broker: subprocess.Popen[bytes] | None = None
    proxy: subprocess.Popen[bytes] | None = None

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy_port}"

    def start_broker(self) -> None:
        url = f"tcp://127.0.0.1:{self.broker_port}"
        self.broker = self._tansu(
            "tansu.log",
            ["broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
        )  # fmt: skip
        _wait_for_port(self.broker_port)
        self.start_proxy()

    def start_proxy(self) -> None:
        url = f"tcp://127.0.0.1:{self.proxy_port}"
        self.proxy = self._tansu(
            "tansu-proxy.log",
            ["proxy", "--listener-url", url, "--advertised-listener-url", url,
             "--origin-url", f"tcp://127.0.0.1:{self.broker_port}"],
        )  # fmt: skip
        _wait_for_port(self.proxy_port)

    def kill_proxy(self) -> None:
        """The broker vanishes for every client: connections reset, new ones refused."""
        assert self.proxy is not None
        self.proxy.kill()
        self.proxy.wait()

    def kill_mongod(self) -> None:
        pid = self.embedded.status().mongodb.pid
        assert pid is not None, "mongod is not running"
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def restart_mongod(self) -> None:
        """What ``dn infra up`` does: start mongod again on the same dbpath and port."""
        _, started = self.embedded.up()
        assert started == ["mongodb"], started

    def _tansu(self, log_name: str, arguments: list[str]) -> subprocess.Popen[bytes]:
        log_dir = self.home / "infra"
        log_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT"}
        with (log_dir / log_name).open("ab") as log:
            return subprocess.Popen(
                [str(tansu_binary()), *arguments],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )  # fmt: skip

    def stop(self) -> None:
        if self.platform is not None:
            self.platform.stop()
        self.embedded.down(("mongodb",))
        for process in (self.proxy, self.broker):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def _wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout_s} s")


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutageBed]:
    if os.environ.get("DN_TEST_INFRA", "embedded") != "embedded":
        pytest.skip("the outage tests stop and restart the embedded mongod and broker")
    home = tmp_path_factory.mktemp("dn-outages")
    mongodb_port, broker_port, proxy_port = free_port(), free_port(), free_port()
    infra_settings = Settings(
        home=home,
        mongodb_url=None,  # always the embedded mongod, whatever the environment says
        mongodb_port=mongodb_port,
        kafka_bootstrap=f"127.0.0.1:{proxy_port}",
    )
    test_bed = OutageBed(home, EmbeddedInfra(infra_settings), broker_port, proxy_port)
    try:
        test_bed.start_broker()
        status, _ = test_bed.embedded.up()
        settings = Settings(
            home=home,
            mongodb_url=status.mongodb_url,
            kafka_bootstrap=test_bed.kafka_bootstrap,
            **free_process_ports(),
            jwt_secret="outage-signing-key-" + "x" * 32,
        )
        test_bed.platform = Platform(settings, status.mongodb_url, test_bed.kafka_bootstrap)
        test_bed.platform.start()
        test_bed.platform.wait_healthy(120)
        yield test_bed
    finally:
        test_bed.stop()


# -- what callers did, and what they were told ----------------------------------------------


@dataclass(frozen=True)
class Person:
    gender: str
    district: str


@dataclass
class Answer:
    """One call made while a part was down (or just after): what came back, how fast."""

    what: str
    at: float  # time.monotonic() when the call was made
    seconds: float
    status: int | None
    outcome: str  # "ok", "refused" (a clear, retryable refusal) or "bad" (anything else)
    detail: str


@dataclass
class Ledger:
    """Ground truth for the whole module: every person whose enrolment a caller saw accepted."""

    people: dict[str, Person] = field(default_factory=dict)

    def expected_by(self, attribute: str) -> dict[str, int]:
        return dict(Counter(getattr(p, attribute) for p in self.people.values()))


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


@dataclass
class Callers:
    """Staff enrolling through GraphQL, a partner's CRM writing to the intake topic and another
    posting to ``/ingest``, and a reader; each retries a refused call until it is accepted."""

    bed: OutageBed
    ledger: Ledger
    answers: list[Answer] = field(default_factory=list)
    pace_s: float = 0.5
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    @property
    def settings(self) -> Settings:
        assert self.bed.platform is not None
        return self.bed.platform.settings

    def _person(self) -> tuple[str, str, str, str]:
        n = next(self._numbers)
        association, district = PLACES[n % len(PLACES)]
        return association, district, GENDERS[n % len(GENDERS)], str(uuid4())

    def _note(
        self, what: str, started: float, status: int | None, outcome: str, detail: str
    ) -> None:
        self.answers.append(
            Answer(what, started, time.monotonic() - started, status, outcome, detail)
        )

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            base_url=self.settings.gateway_url, timeout=ANSWER_BOUND_S
        ) as gateway:
            await asyncio.gather(
                self._loop(stop, lambda: self._enrol_by_graphql(gateway)),
                self._loop(stop, lambda: self._enrol_by_ingest(gateway)),
                self._loop(stop, self._enrol_by_intake_topic),
                self._loop(stop, lambda: self._read(gateway)),
            )

    async def _loop(self, stop: asyncio.Event, act: Callable[[], Awaitable[None]]) -> None:
        while not stop.is_set():
            await act()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pace_s)

    async def _enrol_by_graphql(self, gateway: httpx.AsyncClient) -> None:
        association, district, gender, _ = self._person()
        person = enrolment(associationId=association, districtId=district, gender=gender)
        token = issue_token(self.settings, Role.COORDINATOR)
        while True:
            started = time.monotonic()
            try:
                response = await gateway.post(
                    "/graphql",
                    json={"query": ENROL, "variables": {"input": person}},
                    headers={"authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as error:
                self._note("graphql enrol", started, None, "bad", repr(error))
                await asyncio.sleep(1)
                continue
            body = response.json()
            if body.get("data") and body["data"].get("enrolBeneficiary"):
                self._note("graphql enrol", started, response.status_code, "ok", "")
                self.ledger.people[body["data"]["enrolBeneficiary"]["id"]] = Person(
                    gender, district
                )
                return
            refusal = first_error(body)
            if refusal.get("extensions", {}).get("code") == "CONFLICT":
                # An earlier try committed after all: it is the same person.
                self._note("graphql enrol", started, response.status_code, "ok", "conflict")
                existing = refusal["extensions"]["existingId"]
                self.ledger.people[existing] = Person(gender, district)
                return
            self._note(
                "graphql enrol",
                started,
                response.status_code,
                "refused" if clearly_unavailable(refusal) else "bad",
                json.dumps(body)[:300],
            )
            await asyncio.sleep(1)

    def _request(self, association: str, district: str, gender: str, chosen: str) -> CloudEvent:
        marker = uuid4().hex[:10]
        return CloudEvent(
            source="partner/outage-crm",
            type=REQUESTED,
            data={
                "beneficiary_id": chosen,
                "association_id": association,
                "district_id": district,
                "first_name": f"Panne{marker}",
                "last_name": f"Partenaire{marker}",
                "birth_year": 1984,
                "phone": f"07 {uuid4().int % 10**8:08d}",
                "gender": gender.lower(),
                "tracks": ["digital_inclusion"],
                "employment_status": "unemployed_not_registered",
                "consent": {
                    "programme_follow_up": True,
                    "share_with_partners": False,
                    "contact_for_surveys": False,
                },
                "partner_reference": f"crm-{marker}",
            },
        )

    async def _enrol_by_ingest(self, gateway: httpx.AsyncClient) -> None:
        association, district, gender, chosen = self._person()
        request = self._request(association, district, gender, chosen)
        token = issue_token(self.settings, Role.PARTNER, association_id=association)
        while True:
            started = time.monotonic()
            try:
                response = await gateway.post(
                    "/ingest/registration",
                    content=request.model_dump_json(),
                    headers={
                        "authorization": f"Bearer {token}",
                        "content-type": "application/cloudevents+json",
                    },
                )
            except httpx.HTTPError as error:
                self._note("ingest", started, None, "bad", repr(error))
                await asyncio.sleep(1)
                continue
            if response.status_code == 202:
                self._note("ingest", started, 202, "ok", "")
                self.ledger.people[chosen] = Person(gender, district)
                return
            clear = response.status_code == 503 and "error" in response.json()
            self._note("ingest", started, response.status_code, "refused" if clear else "bad",
                       response.text[:300])  # fmt: skip
            await asyncio.sleep(1)  # the same event again: a repeated id is applied once

    async def _enrol_by_intake_topic(self) -> None:
        association, district, gender, chosen = self._person()
        value, headers = self._request(association, district, gender, chosen).to_kafka()
        record = [(k, v.encode()) for k, v in headers.items()]
        while True:
            started = time.monotonic()
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bed.kafka_bootstrap, acks="all", request_timeout_ms=5000
            )
            try:
                async with asyncio.timeout(PARTNER_SEND_TIMEOUT_S):
                    await producer.start()
                    await producer.send_and_wait(
                        INTAKE_REGISTRATION, value, key=chosen.encode(), headers=record
                    )
            except Exception as error:  # the partner's client: any failure, send it again
                self._note("intake topic", started, None, "refused", repr(error)[:300])
                await asyncio.sleep(1)
                continue
            finally:
                with contextlib.suppress(Exception):
                    await producer.stop()
            self._note("intake topic", started, None, "ok", "")
            self.ledger.people[chosen] = Person(gender, district)
            return

    async def _read(self, gateway: httpx.AsyncClient) -> None:
        """A dashboard reading the figures through GraphQL, and the registration API directly."""
        token = issue_token(self.settings, Role.COORDINATOR)
        started = time.monotonic()
        try:
            response = await gateway.post(
                "/graphql",
                json={"query": "{ impact { enrolled } }"},
                headers={"authorization": f"Bearer {token}"},
            )
            body = response.json()
            if "errors" not in body:
                self._note("graphql impact", started, response.status_code, "ok", "")
            else:
                clear = clearly_unavailable(first_error(body))
                self._note("graphql impact", started, response.status_code,
                           "refused" if clear else "bad", json.dumps(body)[:300])  # fmt: skip
        except httpx.HTTPError as error:
            self._note("graphql impact", started, None, "bad", repr(error))
        service_token = issue_token(self.settings, Role.COORDINATOR, audience="registration")
        started = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=ANSWER_BOUND_S) as client:
                response = await client.get(
                    f"{self.settings.service_url('registration')}/beneficiaries",
                    params={"limit": "1"},
                    headers={"authorization": f"Bearer {service_token}"},
                )
            if response.status_code == 200:
                self._note("registration api", started, 200, "ok", "")
            else:
                clear = response.status_code == 503 and _has_error_message(response)
                self._note("registration api", started, response.status_code,
                           "refused" if clear else "bad", response.text[:300])  # fmt: skip
        except httpx.HTTPError as error:
            self._note("registration api", started, None, "bad", repr(error))


def first_error(body: dict[str, Any]) -> dict[str, Any]:
    errors: list[dict[str, Any]] = body.get("errors") or [{}]
    return errors[0]


def clearly_unavailable(error: dict[str, Any]) -> bool:
    """The gateway's refusal when a service cannot serve: a code and a message to act on."""
    code = error.get("extensions", {}).get("code")
    return code == "SERVICE_UNAVAILABLE" and "try again" in error.get("message", "")


def _has_error_message(response: httpx.Response) -> bool:
    try:
        return bool(response.json().get("error"))
    except ValueError:
        return False


# -- what the platform holds afterwards -----------------------------------------------------


@contextlib.asynccontextmanager
async def auditor(bed: OutageBed) -> AsyncIterator[AsyncMongoClient[Document]]:
    assert bed.platform is not None
    client = connect(bed.platform.mongodb_url)
    try:
        yield client
    finally:
        await client.close()


async def holdings(bed: OutageBed) -> dict[str, Any]:
    """What each service and the reporting figures hold, next to what they should hold."""
    assert bed.platform is not None
    settings = bed.platform.settings
    token = issue_token(settings, Role.COORDINATOR)
    async with auditor(bed) as mongo, httpx.AsyncClient(timeout=ANSWER_BOUND_S) as http:
        known = {
            name: sorted(str(i) for i in await mongo[f"dn_{name}"][collection].distinct("_id"))
            for name, collection in KNOWN_PEOPLE.items()
        }
        pending = {
            name: (await outbox.log_heads(mongo[f"dn_{name}"])).unsent for name in SERVICE_NAMES
        }
        response = await http.post(
            f"{settings.gateway_url}/graphql",
            json={"query": IMPACT},
            headers={"authorization": f"Bearer {token}"},
        )
    impact = response.json().get("data", {}).get("impact") or {}
    return {
        **known,
        "outbox_pending": pending,
        "enrolled": impact.get("enrolled"),
        "by_gender": {
            r["gender"]: r["enrolled"] for r in impact.get("byGender", []) if r["enrolled"]
        },
        "by_district": {
            r["districtId"]: r["enrolled"] for r in impact.get("byDistrict", []) if r["enrolled"]
        },
    }


def truth(ledger: Ledger) -> dict[str, Any]:
    return {
        **dict.fromkeys(KNOWN_PEOPLE, sorted(ledger.people)),
        "outbox_pending": dict.fromkeys(SERVICE_NAMES, 0),
        "enrolled": len(ledger.people),
        "by_gender": ledger.expected_by("gender"),
        "by_district": ledger.expected_by("district"),
    }


# -- the outages ----------------------------------------------------------------------------


@dataclass
class Outage:
    """Timings and samples of one outage, printed as a JSON line for the record."""

    part: str
    down_at: float = 0.0
    back_at: float = 0.0
    health_during: list[int | None] = field(default_factory=list)
    # Registration's own /healthz while the part is down: (seconds to answer, status, body).
    service_health: list[tuple[float, int | None, dict[str, Any]]] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    # dn_outbox_backlog as registration's /metrics (and so `dn status`) shows it meanwhile.
    reported_backlog: list[float | None] = field(default_factory=list)
    healthy_after_s: float | None = None
    caught_up_after_s: float | None = None
    converged_after_s: float | None = None

    def accepted(self, callers: Callers) -> list[Answer]:
        """Calls made while the part was down that were accepted all the same."""
        return [
            a for a in callers.answers
            if a.outcome == "ok" and self.down_at < a.at < self.back_at
        ]  # fmt: skip

    def report(self, callers: Callers, people: int) -> dict[str, Any]:
        during = [a for a in callers.answers if a.outcome == "refused"]
        return {
            "part": self.part,
            "outage_s": round(self.back_at - self.down_at, 1),
            "gateway_healthy_after_s": self.healthy_after_s,
            "outage_backlog_applied_after_s": self.caught_up_after_s,
            "figures_equal_truth_after_s": self.converged_after_s,
            "outbox_backlog_peak": max(self.backlog, default=None),
            "reported_backlog_peak": max(
                (b for b in self.reported_backlog if b is not None), default=None
            ),
            "calls": len(callers.answers),
            "refusals": dict(Counter(a.what for a in during)),
            "accepted_during_outage": dict(Counter(a.what for a in self.accepted(callers))),
            "slowest_answer_s": round(max(a.seconds for a in callers.answers), 2),
            "people_enrolled": people,
            "slowest_health_answer_s": round(max(h[0] for h in self.service_health), 2),
        }


async def gateway_health(bed: OutageBed) -> int | None:
    assert bed.platform is not None
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{bed.platform.settings.gateway_url}/healthz")).status_code
    except httpx.HTTPError:
        return None


async def service_health(bed: OutageBed, service: str) -> tuple[float, int | None, dict[str, Any]]:
    assert bed.platform is not None
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=ANSWER_BOUND_S) as http:
            answer = await http.get(f"{bed.platform.settings.service_url(service)}/healthz")
        return time.monotonic() - started, answer.status_code, answer.json()
    except (httpx.HTTPError, ValueError) as error:
        return time.monotonic() - started, None, {"error": repr(error)}


async def reported_backlog(bed: OutageBed, service: str) -> float | None:
    assert bed.platform is not None
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"{bed.platform.settings.service_url(service)}/metrics")
    return figures_from_exposition(answer.text).outbox_backlog


async def pending_events(bed: OutageBed) -> int:
    async with auditor(bed) as mongo:
        counts = [(await outbox.log_heads(mongo[f"dn_{name}"])).unsent for name in SERVICE_NAMES]
    return sum(counts)


async def sample_while_down(bed: OutageBed, outage: Outage, sample_backlog: bool) -> None:
    """Health as the gateway and a service report it, and the outbox backlog, every 2 s."""
    while True:
        outage.health_during.append(await gateway_health(bed))
        outage.service_health.append(await service_health(bed, "registration"))
        if sample_backlog:
            outage.backlog.append(await pending_events(bed))
            outage.reported_backlog.append(await reported_backlog(bed, "registration"))
        await asyncio.sleep(2)


async def caught_up(bed: OutageBed, accepted: set[str], outage: Outage) -> None:
    """Measures how long after the part's return everyone accepted until then is everywhere."""

    def applied(held: dict[str, Any]) -> bool:
        return (
            held["enrolled"] is not None
            and held["enrolled"] >= len(accepted)
            and all(accepted <= set(held[name]) for name in KNOWN_PEOPLE)
        )

    await eventually(lambda: holdings(bed), applied, RECOVERY_TIMEOUT_S, "outage backlog applied")
    outage.caught_up_after_s = round(time.monotonic() - outage.back_at, 1)


async def live_through(
    bed: OutageBed,
    ledger: Ledger,
    outage: Outage,
    take_down: Callable[[], None],
    bring_back: Callable[[], None],
    sample_backlog: bool,
) -> Callers:
    """Callers work before, during and after the outage; returns what they were told."""
    assert bed.platform is not None
    platform = bed.platform
    pids = {name: process.pid for name, process in platform.processes.items()}
    callers = Callers(bed, ledger)
    people_before = len(ledger.people)
    stop = asyncio.Event()
    traffic = asyncio.create_task(callers.run(stop))
    try:
        await asyncio.sleep(3)
        outage.down_at = time.monotonic()
        await asyncio.to_thread(take_down)
        sampling = asyncio.create_task(sample_while_down(bed, outage, sample_backlog))
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage.down_at)))
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
        await asyncio.to_thread(bring_back)
        outage.back_at = time.monotonic()
        catching_up = asyncio.create_task(caught_up(bed, set(ledger.people), outage))
        await eventually(
            lambda: gateway_health(bed), lambda code: code == 200, RECOVERY_TIMEOUT_S, "healthy"
        )
        outage.healthy_after_s = round(time.monotonic() - outage.back_at, 1)
        await asyncio.sleep(3)  # work goes on once everything is back
    finally:
        stop.set()
        # Each caller finishes the enrolment it started (retrying until accepted).
        await asyncio.wait_for(traffic, RECOVERY_TIMEOUT_S)
    await asyncio.wait_for(catching_up, RECOVERY_TIMEOUT_S)

    expected = truth(ledger)
    try:
        await eventually(
            lambda: holdings(bed), lambda held: held == expected, RECOVERY_TIMEOUT_S,
            "every enrolment once in every service and in the figures",
        )  # fmt: skip
    except AssertionError:
        held = await holdings(bed)
        differences = {k: (held[k], expected[k]) for k in expected if held[k] != expected[k]}
        raise AssertionError(f"(held, expected) where they differ: {differences}") from None
    outage.converged_after_s = round(time.monotonic() - outage.back_at, 1)
    report = outage.report(callers, len(ledger.people) - people_before)
    print(json.dumps(report))
    calls = [dataclasses.asdict(a) | {"at": a.at - outage.down_at} for a in callers.answers]
    (bed.home / f"outage-{outage.part}.json").write_text(json.dumps(report | {"calls": calls}))

    assert platform.dead() == [], platform.dead()
    assert {name: p.pid for name, p in platform.processes.items()} == pids, "a process restarted"
    bad = [a for a in callers.answers if a.outcome == "bad"]
    assert bad == [], bad[:5]
    slow = [a for a in callers.answers if a.seconds > ANSWER_BOUND_S]
    assert slow == [], slow[:5]
    assert 503 in outage.health_during, f"the outage went unnoticed: {outage.health_during}"
    # A service's health says at once which part is away (a probe must not wait out a timeout).
    part = {"mongodb": "mongodb", "broker": "kafka"}[outage.part]
    assert all(seconds < HEALTH_BOUND_S for seconds, _, _ in outage.service_health), (
        outage.service_health
    )
    assert any(
        status == 503 and body.get(part) is False for _, status, body in outage.service_health
    ), outage.service_health
    return callers


async def test_mongodb_down_for_30_s_nothing_is_lost_and_callers_are_told_to_retry(
    bed: OutageBed, ledger: Ledger
) -> None:
    outage = Outage("mongodb")
    callers = await live_through(
        bed, ledger, outage, bed.kill_mongod, bed.restart_mongod, sample_backlog=False
    )
    refused = {a.what for a in callers.answers if a.outcome == "refused"}
    # Staff and readers were told the database is away; partners' events were taken meanwhile.
    assert {"graphql enrol", "graphql impact", "registration api"} <= refused, refused
    partners = {a.what for a in outage.accepted(callers)} & {"ingest", "intake topic"}
    assert partners == {"ingest", "intake topic"}, "partner events are taken while MongoDB is away"


async def test_broker_down_for_30_s_the_outbox_holds_events_until_it_returns(
    bed: OutageBed, ledger: Ledger
) -> None:
    outage = Outage("broker")
    callers = await live_through(
        bed, ledger, outage, bed.kill_proxy, bed.start_proxy, sample_backlog=True
    )
    refused = {a.what for a in callers.answers if a.outcome == "refused"}
    assert {"ingest", "intake topic"} <= refused, refused
    assert "graphql enrol" in {a.what for a in outage.accepted(callers)}, "enrolments go on"
    # Enrolments went on through GraphQL: their events waited in the outbox, then drained.
    assert max(outage.backlog) > 0, outage.backlog
    assert outage.backlog[-1] > outage.backlog[0], outage.backlog
    # Ops saw it grow too (`dn status` reads the same gauge), and saw it drain.
    assert max(b or 0 for b in outage.reported_backlog) > 0, outage.reported_backlog
    drained = await eventually(
        lambda: reported_backlog(bed, "registration"), lambda b: b == 0, 10, "gauge at 0"
    )
    assert drained == 0
