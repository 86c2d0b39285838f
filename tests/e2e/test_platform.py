"""The whole platform as separate processes on real MongoDB and the real broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dn.platform import Platform
from kit.settings import SERVICE_NAMES, Settings
from tests.e2e.conftest import enrolment, graphql, until

pytestmark = pytest.mark.e2e

ENROL = """
mutation Enrol($input: EnrolBeneficiaryInput!) {
  enrolBeneficiary(input: $input) { id firstName districtId tracks gender ageBand }
}"""
IMPACT = """
{ impact { enrolled womenShareCareers targets { trained directedToEmployment }
  byDistrict { districtId name enrolled } byAssociation { associationId enrolled }
  byGender { gender enrolled } updatedAt } }"""


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

    def orphans_in(spans: list[dict[str, Any]]) -> list[str]:
        known = {s["span_id"] for s in spans}
        return [s["name"] for s in spans if s["parent_id"] and s["parent_id"] not in known]

    def complete(spans: list[dict[str, Any]]) -> bool:
        """Each process exports in its own time (a parent span is written when it ends, after
        its children): wait for both ends of the trace and for every parent."""
        names = {(s["service"], s["name"]) for s in spans}
        ends = {("dn-gateway", "POST /graphql"), ("dn-reporting", "dn_reporting.update"),
                ("dn-registration", "POST /beneficiaries")}  # fmt: skip
        return ends <= names and not orphans_in(spans)

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
