"""What survives a restart: ``dn up`` stopped cleanly with its embedded infrastructure, then
started again on the same ``DN_HOME``, shows the same figures (README: "What survives a
restart").

The platform runs as a user runs it, ``dn up`` in a process of its own (own ``DN_HOME``, free
ports, no demo). People are enrolled over GraphQL, over ``POST /ingest`` and on the Kafka
intake topic; sessions and attendance make one trained, a placement directs one towards
employment. Right before Ctrl-C a burst of partner enrolments lands on the intake topic: the
clean stop closes the gateway, then drains, so they are applied before the services and the
broker stop. The broker keeps nothing (memory only) and starts again empty; MongoDB keeps its
data. After the second ``dn up`` the relays have re-seeded the broker from the services' logs
(``dn up`` says how many events), the figures equal what was sent, ``dn reporting rebuild``
(replaying the re-seeded topics) gives them again, and a new enrolment still flows through.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.envelope import CloudEvent
from contracts.topics import INTAKE_REGISTRATION
from dn.drain import drain
from dn.infra import EmbeddedInfra
from dn.platform import free_port, free_process_ports
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import enrolment, graphql, until
from tests.support import graphql_data as data
from tests.support import produce

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0
READY_LINE = "Ctrl-C stops everything."
STAFF_PLACE = ("asso-saige-en-ligne", "qpv-saige")
PARTNER_PLACE = ("asso-lac-connecte", "qpv-aubiers-lac")
BURST = 20  # partner enrolments sent just before Ctrl-C: the drain applies them
REQUESTED = "dn.intake.registration.enrolment_requested.v1"
IMPACT = """{ impact { enrolled trained directedToEmployment
                       byDistrict { districtId name enrolled } } }"""
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
SCHEDULE = "mutation S($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id } }"
ATTEND = "mutation A($input: RecordAttendanceInput!) { recordAttendance(input: $input) { id } }"
PLACE = "mutation P($input: RecordPlacementInput!) { recordPlacement(input: $input) { id } }"
PROGRESS = "query P($id: ID!) { beneficiaryProgress(id: $id) { sessionsPresent } }"
RESEEDED = re.compile(r"re-seeded\s+re-published\s+([\d,]+)\s+events\s+in\s+([\d.]+)\s+s")


@pytest.fixture(scope="module", autouse=True)
def quiet_platform() -> None:
    """This module runs its own platform: the session's needs no settling (nor starting)."""


# -- dn up, as a user runs it ---------------------------------------------------------------


@dataclass
class DnUp:
    """One ``dn up`` process and what it printed."""

    process: subprocess.Popen[bytes]
    output: Path

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while READY_LINE not in self.text:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dn up did not come up:\n{self.text}")
            time.sleep(0.2)
        return self.text

    def stop(self) -> str:
        """Ctrl-C as a terminal sends it (to the whole foreground process group: ``dn up``'s
        processes must not stop before it drained them), then wait; returns what it printed."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f"dn up did not stop:\n{self.text}") from error
        assert code == 0, self.text
        return self.text


@dataclass
class Home:
    """A ``DN_HOME`` with its own ports, and the environment ``dn`` runs with there."""

    settings: Settings
    env: dict[str, str]

    def up(self, run: int) -> DnUp:
        self.settings.home.mkdir(parents=True, exist_ok=True)
        output = self.settings.home / f"dn-up-{run}.txt"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [str(Path(sys.executable).with_name("dn")), "up"],
                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                process_group=0,  # as a shell's job: a group of its own, which Ctrl-C reaches
            )  # fmt: skip
        return DnUp(process, output)

    def dn(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("dn")), *arguments],
            capture_output=True, text=True, env=self.env, timeout=120,
        )  # fmt: skip


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    if os.environ.get("DN_TEST_INFRA", "embedded") != "embedded":
        pytest.skip("the restart test stops and starts the embedded mongod and broker")
    ports = {"mongodb_port": free_port(), "kafka_port": free_port(), **free_process_ports()}
    settings = Settings(
        home=tmp_path / "dn-home",
        mongodb_url=None,
        kafka_bootstrap=None,
        jwt_secret="restart-signing-key-" + "x" * 32,
        demo=False,
        **ports,
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DN_") and k != "OTEL_EXPORTER_OTLP_ENDPOINT"
    }
    env.update({f"DN_{name.upper()}": str(value) for name, value in ports.items()})
    env.update(
        DN_HOME=str(settings.home),
        DN_JWT_SECRET=settings.jwt_secret or "",
        DN_DEMO="0",
        PYTHONUNBUFFERED="1",
    )
    try:
        yield Home(settings, env)
    finally:
        EmbeddedInfra(settings).down()  # in case a dn up died without stopping them


# -- what is sent ---------------------------------------------------------------------------


@dataclass
class Programme:
    """What the test sent, kept as the ground truth of the figures."""

    enrolled: Counter[str]  # by district id
    trained: int = 0
    directed: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            "enrolled": sum(self.enrolled.values()),
            "trained": self.trained,
            "directedToEmployment": self.directed,
        }


def impact(client: httpx.Client) -> dict[str, Any]:
    figures: dict[str, Any] = data(graphql(client, IMPACT))["impact"]
    return figures


def headline(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: figures[k] for k in ("enrolled", "trained", "directedToEmployment")}


def by_district(figures: dict[str, Any]) -> Counter[str]:
    return Counter({d["districtId"]: d["enrolled"] for d in figures["byDistrict"] if d["enrolled"]})


def partner_request() -> CloudEvent:
    marker = uuid4().hex[:10]
    association, district = PARTNER_PLACE
    return CloudEvent(
        source="partners/lac-connecte/crm",
        type=REQUESTED,
        subject=f"crm-{marker}",
        data={
            "association_id": association,
            "district_id": district,
            "first_name": f"Redemarrage{marker}",
            "last_name": f"Partenaire{marker}",
            "birth_year": 1987,
            "phone": f"07 {uuid4().int % 10**8:08d}",
            "gender": "female",
            "tracks": ["digital_inclusion"],
            "consent": {"programme_follow_up": True, "share_with_partners": False,
                        "contact_for_surveys": False},
            "partner_reference": f"crm-{marker}",
        },
    )  # fmt: skip


def send_on_intake_topic(settings: Settings, requests: list[CloudEvent]) -> None:
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    for request in requests:
        value, headers = request.to_kafka()
        key = (request.subject or "").encode()
        messages.append((key, value, [(k, v.encode()) for k, v in headers.items()]))
    asyncio.run(produce(settings.embedded_kafka_bootstrap, INTAKE_REGISTRATION, messages))


def enrol_staff(client: httpx.Client, programme: Programme) -> str:
    association, district = STAFF_PLACE
    person = data(
        graphql(client, ENROL, input=enrolment(associationId=association, districtId=district))
    )["enrolBeneficiary"]
    programme.enrolled[district] += 1
    person_id: str = person["id"]
    return person_id


def train(client: httpx.Client, person_id: str, programme: Programme) -> None:
    """Four sessions of three hours attended as PRESENT: trained (the default rule)."""
    known = until(
        lambda: data(graphql(client, PROGRESS, id=person_id))["beneficiaryProgress"],
        lambda found: found is not None,
    )
    assert known is not None, f"training never learnt of {person_id}"
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=7)
    for day in range(4):
        session = data(
            graphql(
                client,
                SCHEDULE,
                input={
                    "associationId": STAFF_PLACE[0],
                    "moduleId": "mod-premiers-pas",
                    "startsAt": (start + dt.timedelta(days=day)).isoformat(),
                    "durationMinutes": 180,
                    "kind": "COLLECTIVE",
                },
            )
        )["scheduleSession"]
        attended = {"sessionId": session["id"], "beneficiaryId": person_id, "status": "PRESENT"}
        data(graphql(client, ATTEND, input=attended))
    programme.trained += 1


def place(client: httpx.Client, person_id: str, programme: Programme) -> None:
    """A permanent contract: directed towards employment (once orientation knows the person)."""
    body = {"beneficiaryId": person_id, "kind": "CDI", "startsOn": dt.date.today().isoformat()}

    def not_known_yet(response: httpx.Response) -> bool:
        errors = response.json().get("errors") or []
        return bool(errors) and "known to orientation" in errors[0]["message"]

    data(until(lambda: graphql(client, PLACE, input=body), lambda r: not not_known_yet(r)))
    programme.directed += 1


def run_programme(home: Home, client: httpx.Client, programme: Programme) -> None:
    trained, placed = enrol_staff(client, programme), enrol_staff(client, programme)
    enrol_staff(client, programme)
    train(client, trained, programme)
    place(client, placed, programme)
    partner_token = issue_token(home.settings, Role.PARTNER, association_id=PARTNER_PLACE[0])
    ingested = client.post(
        "/ingest/registration",
        content=partner_request().model_dump_json(),
        headers={
            "content-type": "application/cloudevents+json",
            "authorization": f"Bearer {partner_token}",
        },
    )
    assert ingested.status_code in (200, 202), ingested.text
    send_on_intake_topic(home.settings, [partner_request()])
    programme.enrolled[PARTNER_PLACE[1]] += 2


def assert_figures(client: httpx.Client, programme: Programme, timeout_s: float = 30) -> None:
    figures = until(
        lambda: impact(client),
        lambda f: headline(f) == programme.figures() and by_district(f) == programme.enrolled,
        timeout_s,
    )
    assert headline(figures) == programme.figures()
    assert by_district(figures) == programme.enrolled


def settle(settings: Settings) -> None:
    """Every record the broker holds applied everywhere (the drain's own test of it)."""
    outcome = drain(
        settings, settings.embedded_kafka_bootstrap, timeout_s=30, progress=lambda _: None
    )
    assert outcome.how == "drained", outcome.line()


# -- the test -------------------------------------------------------------------------------


def test_figures_survive_a_clean_stop_and_a_broker_that_comes_back_empty(home: Home) -> None:
    settings = home.settings
    coordinator = issue_token(settings, Role.COORDINATOR)
    programme = Programme(Counter())

    first = home.up(1)
    try:
        first.wait_ready()
        with httpx.Client(
            base_url=settings.gateway_url,
            headers={"authorization": f"Bearer {coordinator}"},
            timeout=15,
        ) as client:
            run_programme(home, client, programme)
            assert_figures(client, programme)
            # Accepted by the broker, not yet applied when Ctrl-C comes: the drain applies them.
            send_on_intake_topic(settings, [partner_request() for _ in range(BURST)])
            programme.enrolled[PARTNER_PLACE[1]] += BURST
    finally:
        printed = first.stop()
    assert re.search(r"drained in [\d.]+ s", printed), printed
    stopped = EmbeddedInfra(settings).status()
    assert not stopped.kafka.running, "dn up stops the broker it started"
    assert not stopped.mongodb.running, "dn up stops the mongod it started"

    second = home.up(2)
    try:
        printed = second.wait_ready()
        reseeded = RESEEDED.search(" ".join(printed.split()))
        assert reseeded, f"dn up did not say what it re-published:\n{printed}"
        log = httpx.get(f"{settings.service_url('registration')}/log", timeout=5).json()
        assert log["reseed"]["events"] > 0
        assert log["reseed"]["running"] is False
        assert log["unsent"] == 0
        settle(settings)
        with httpx.Client(
            base_url=settings.gateway_url,
            headers={"authorization": f"Bearer {coordinator}"},
            timeout=15,
        ) as client:
            assert_figures(client, programme, timeout_s=5)

            rebuilt = home.dn("reporting", "rebuild")
            assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
            assert_figures(client, programme)

            enrol_staff(client, programme)
            assert_figures(client, programme)

        # A newcomer's second terminal: another `dn up` on this home refuses and touches nothing.
        again = home.dn("up")
        assert again.returncode == 1, again.stdout + again.stderr
        said = " ".join((again.stdout + again.stderr).split())
        assert f"already running on this home ({settings.home})" in said, said
        assert f"pid {second.process.pid}" in said, said
        assert second.process.poll() is None, "the running platform goes on"
        assert httpx.get(f"{settings.gateway_url}/healthz", timeout=5).status_code == 200
    finally:
        second.stop()
    print(
        f"\nre-seeded {reseeded.group(1)} events in {reseeded.group(2)} s; "
        f"registration's relay: {log['reseed']}"
    )
