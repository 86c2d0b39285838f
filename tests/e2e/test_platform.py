"""The whole platform as separate processes on real MongoDB and the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import pytest

from kit.platform import Platform, running
from kit.settings import SERVICE_NAMES, Settings
from tests.conftest import TestInfra

pytestmark = pytest.mark.e2e
T = TypeVar("T")

ENROL = """
mutation Enrol($input: EnrolBeneficiaryInput!) {
  enrolBeneficiary(input: $input) { id firstName districtId tracks gender ageBand }
}"""
IMPACT = """
{ impact { enrolled womenShareCareers targets { trained directedToEmployment }
  byDistrict { districtId name enrolled } byAssociation { associationId enrolled }
  byGender { gender enrolled } updatedAt } }"""


@pytest.fixture(scope="module")
def platform(settings: Settings, infra: TestInfra) -> Iterator[Platform]:
    with running(Platform(settings, infra.mongodb_url, infra.kafka_bootstrap), 90) as started:
        yield started


@pytest.fixture(scope="module")
def coordinator_token(settings: Settings) -> str:
    """A token from the `dn token` command, as a coordinator would get one."""
    dn = Path(sys.executable).with_name("dn")
    env = {"DN_HOME": str(settings.home), "DN_JWT_SECRET": settings.jwt_secret or "", "PATH": ""}
    result = subprocess.run(
        [str(dn), "token", "--role", "coordinator"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.fixture(scope="module")
def gateway(platform: Platform, coordinator_token: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {coordinator_token}"}
    with httpx.Client(base_url=platform.settings.gateway_url, headers=headers) as client:
        yield client


def graphql(client: httpx.Client, query: str, **variables: Any) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables}, timeout=15)


def enrolment(**overrides: Any) -> dict[str, Any]:
    return {
        "associationId": "asso-saige-en-ligne",
        "districtId": "qpv-saige",
        "firstName": f"Zoé-{uuid4().hex[:10]}",
        "lastName": f"Testeuse-{uuid4().hex[:10]}",
        "birthYear": 1990,
        "phone": f"06 {uuid4().int % 10**8:08d}",
        "gender": "FEMALE",
        "tracks": ["DIGITAL_CAREERS"],
        "employmentStatus": "REGISTERED_JOB_SEEKER",
        "consent": {"programmeFollowUp": True, "shareWithPartners": True,
                    "contactForSurveys": False},
        **overrides,
    }  # fmt: skip


def until(probe: Callable[[], T], accept: Callable[[T], bool], timeout_s: float = 20) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if accept(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def impact(client: httpx.Client) -> dict[str, Any]:
    body = graphql(client, IMPACT).json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["impact"]
    return result


def district_count(figures: dict[str, Any], district_id: str) -> int:
    return next((d["enrolled"] for d in figures["byDistrict"] if d["districtId"] == district_id), 0)


def test_every_service_reports_healthy_with_its_database_and_broker(
    platform: Platform,
) -> None:
    for name in SERVICE_NAMES:
        health = httpx.get(f"{platform.settings.service_url(name)}/healthz").json()
        assert health == {"status": "ok", "service": name, "mongodb": True, "kafka": True}


def test_enrolment_through_graphql_shows_in_impact(gateway: httpx.Client) -> None:
    before = impact(gateway)

    answer = graphql(gateway, ENROL, input=enrolment()).json()

    assert "errors" not in answer, answer
    enrolled = answer["data"]["enrolBeneficiary"]
    assert enrolled["districtId"] == "qpv-saige"
    assert enrolled["ageBand"] == "FROM_26_TO_44"
    after = until(lambda: impact(gateway), lambda f: f["enrolled"] > before["enrolled"])
    assert after["enrolled"] == before["enrolled"] + 1
    assert district_count(after, "qpv-saige") == district_count(before, "qpv-saige") + 1
    saige = next(d for d in after["byDistrict"] if d["districtId"] == "qpv-saige")
    assert saige["name"] == "Saige"
    assert after["targets"] == {"trained": 500, "directedToEmployment": 50}
    assert after["womenShareCareers"] is not None


def test_one_trace_links_gateway_registration_kafka_and_projection(
    gateway: httpx.Client, settings: Settings
) -> None:
    before = impact(gateway)
    person = enrolment(districtId="qpv-saige")
    response = graphql(gateway, ENROL, input=person)
    assert "errors" not in response.json(), response.json()
    trace_id = response.headers["x-trace-id"]
    until(lambda: impact(gateway), lambda f: f["enrolled"] > before["enrolled"])

    def spans_of_trace() -> list[dict[str, Any]]:
        return [s for s in read_spans(settings.home) if s["trace_id"] == trace_id]

    def complete(spans: list[dict[str, Any]]) -> bool:
        """Each process exports in its own time: wait for both ends of the trace."""
        names = {(s["service"], s["name"]) for s in spans}
        return {("dn-gateway", "POST /graphql"), ("dn-reporting", "dn_reporting.update"),
                ("dn-registration", "POST /beneficiaries")} <= names  # fmt: skip

    spans = until(spans_of_trace, complete)

    by_id = {s["span_id"]: s for s in spans}
    roots = [s for s in spans if s["parent_id"] is None]
    assert [r["service"] for r in roots] == ["dn-gateway"], "one root: the gateway request"
    orphans = [s["name"] for s in spans if s["parent_id"] and s["parent_id"] not in by_id]
    assert orphans == [], "every span hangs off the same trace"
    kinds = {(s["service"], s["kind"]) for s in spans}
    assert ("dn-gateway", "SERVER") in kinds
    assert ("dn-gateway", "CLIENT") in kinds  # gateway → registration HTTP
    assert ("dn-registration", "SERVER") in kinds
    assert ("dn-registration", "PRODUCER") in kinds  # relay → Kafka
    assert ("dn-reporting", "CONSUMER") in kinds  # Kafka → projection
    names = {(s["service"], s["name"]) for s in spans}
    assert ("dn-registration", "dn_registration.insert") in names
    assert ("dn-reporting", "dn_reporting.update") in names
    # the projection update descends from the registration write's request
    consumer = next(s for s in spans if s["kind"] == "CONSUMER")
    ancestors = set()
    current = consumer
    while current["parent_id"]:
        current = by_id[current["parent_id"]]
        ancestors.add((current["service"], current["kind"]))
    assert {("dn-registration", "SERVER"), ("dn-gateway", "SERVER")} <= ancestors

    text = "\n".join(json.dumps(s) for s in read_spans(settings.home))
    for personal in (person["firstName"], person["lastName"], person["phone"]):
        assert personal not in text, "no personal data in any span"


def read_spans(home: Path) -> list[dict[str, Any]]:
    spans = []
    for path in (home / "traces").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                spans.append(json.loads(line))
    return spans


def test_refused_enrolment_names_the_field_and_what_is_accepted(gateway: httpx.Client) -> None:
    answer = graphql(gateway, ENROL, input=enrolment(districtId="qpv-grand-parc")).json()

    error = answer["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    fields = {f["field"]: f["message"] for f in error["extensions"]["fields"]}
    assert "qpv-saige" in fields["districtId"], "says which districts are served"


def test_request_without_token_is_refused(platform: Platform) -> None:
    response = httpx.post(f"{platform.settings.gateway_url}/graphql", json={"query": IMPACT})

    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Authorization" in error["message"]


def test_association_token_cannot_enrol_for_another_association(
    platform: Platform, settings: Settings
) -> None:
    from kit.auth import Role, issue_token

    token = issue_token(settings, Role.ASSOCIATION, association_id="asso-lac-connecte")
    response = httpx.post(
        f"{platform.settings.gateway_url}/graphql",
        json={"query": ENROL, "variables": {"input": enrolment()}},
        headers={"authorization": f"Bearer {token}"},
        timeout=15,
    )

    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
