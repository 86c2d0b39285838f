"""Partners send events over HTTP: POST /ingest/{service}, one CloudEvent in structured mode,
checked at the door and published in binary mode on the service's intake topic."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.topics import INTAKE_REGISTRATION
from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.conftest import TestInfra
from tests.support import header, read_topic

pytestmark = pytest.mark.e2e
ASSOCIATION = "asso-lac-connecte"
REQUESTED = "dn.intake.registration.enrolment_requested.v1"
STRUCTURED = "application/cloudevents+json"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def cloud_event(**overrides: Any) -> dict[str, Any]:
    """A partner's enrolment request for a new person, as a structured-mode CloudEvent."""
    marker = uuid4().hex[:10]
    return {
        "specversion": "1.0",
        "id": str(uuid4()),
        "source": "partners/lac-connecte/crm",
        "type": REQUESTED,
        "subject": f"crm-{marker}",
        "time": "2026-01-31T09:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "association_id": ASSOCIATION,
            "district_id": "qpv-aubiers-lac",
            "first_name": f"Http{marker}",
            "last_name": f"Partenaire{marker}",
            "birth_year": 1985,
            "phone": f"07 {uuid4().int % 10**8:08d}",
            "gender": "female",
            "tracks": ["digital_careers"],
            "consent": {"programme_follow_up": True, "share_with_partners": True,
                        "contact_for_surveys": False},
            "partner_reference": f"crm-{marker}",
        },
        **overrides,
    }  # fmt: skip


@pytest.fixture(scope="module")
def ingest_url(platform: Platform) -> str:
    return f"{platform.settings.gateway_url}/ingest"


@pytest.fixture(scope="module")
def partner_token(settings: Settings) -> str:
    return issue_token(settings, Role.PARTNER, association_id=ASSOCIATION)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def post(
    url: str,
    body: bytes | dict[str, Any],
    token: str | None,
    content_type: str = STRUCTURED,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": content_type, **(bearer(token) if token else {})}
    return httpx.post(url, content=content, headers=headers, timeout=15)


def refusal(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str)
    assert body["error"]
    return body


async def test_accepted_event_is_published_in_binary_mode_with_partner_and_trace(
    ingest_url: str, partner_token: str, infra: TestInfra
) -> None:
    event = cloud_event()
    async with httpx.AsyncClient(timeout=15) as client:
        response = await client.post(
            f"{ingest_url}/registration",
            content=json.dumps(event).encode(),
            headers={"content-type": STRUCTURED, **bearer(partner_token)},
        )

    assert response.status_code == 202, response.text
    assert response.json() == {"id": event["id"], "topic": INTAKE_REGISTRATION}
    records = await read_topic(
        infra.kafka_bootstrap,
        INTAKE_REGISTRATION,
        lambda found: any(header(r, "ce_id") == event["id"] for r in found),
    )
    record = next(r for r in records if header(r, "ce_id") == event["id"])
    assert record.key == event["subject"].encode()
    assert json.loads(record.value or b"") == event["data"], "binary mode: the value is the data"
    assert header(record, "ce_specversion") == "1.0"
    assert header(record, "ce_type") == REQUESTED
    assert header(record, "ce_source") == event["source"]
    assert header(record, "ce_subject") == event["subject"]
    assert header(record, "ce_time") is not None
    assert header(record, "content-type") == "application/json"
    assert header(record, "dn_partner") == ASSOCIATION
    traceparent = TRACEPARENT.match(header(record, "traceparent") or "")
    assert traceparent, "the W3C trace context travels with the event"
    assert traceparent.group(1) == response.headers["x-trace-id"], "one trace from the request"


def test_coordinator_may_send_for_any_association(ingest_url: str, coordinator_token: str) -> None:
    event = cloud_event()
    event["data"] |= {"association_id": "asso-parc-numerique", "district_id": "qpv-grand-parc"}

    response = post(f"{ingest_url}/registration", event, coordinator_token, "application/json")

    assert response.status_code == 202, response.text


def test_request_without_token_is_unauthenticated(ingest_url: str) -> None:
    missing = post(f"{ingest_url}/registration", cloud_event(), None)
    invalid = post(f"{ingest_url}/registration", cloud_event(), "not-a-jwt")

    assert "Authorization" in refusal(missing, 401)["error"]
    refusal(invalid, 401)


def test_funder_may_not_send_events(ingest_url: str, settings: Settings) -> None:
    funder = issue_token(settings, Role.FUNDER)

    body = refusal(post(f"{ingest_url}/registration", cloud_event(), funder), 403)

    assert "partner" in body["error"]


def test_partner_may_send_only_for_its_own_association(ingest_url: str, settings: Settings) -> None:
    other = issue_token(settings, Role.PARTNER, association_id="asso-parc-numerique")

    body = refusal(post(f"{ingest_url}/registration", cloud_event(), other), 403)

    assert "asso-parc-numerique" in body["error"]


def test_malformed_json_is_refused(ingest_url: str, partner_token: str) -> None:
    body = refusal(post(f"{ingest_url}/registration", b'{"specversion": ', partner_token), 400)

    assert "not JSON" in body["error"]


def test_event_without_specversion_is_refused(ingest_url: str, partner_token: str) -> None:
    event = cloud_event()
    del event["specversion"]

    body = refusal(post(f"{ingest_url}/registration", event, partner_token), 400)

    assert "specversion" in body["error"]


def test_unknown_type_is_refused_with_the_accepted_types(
    ingest_url: str, partner_token: str
) -> None:
    event = cloud_event(type="dn.intake.registration.something_else.v1")

    body = refusal(post(f"{ingest_url}/registration", event, partner_token), 400)

    assert REQUESTED in body["error"], "lists what is accepted"


def test_invalid_data_names_each_field(ingest_url: str, partner_token: str) -> None:
    event = cloud_event()
    del event["data"]["first_name"]
    event["data"]["birth_year"] = "nineteen eighty"

    body = refusal(post(f"{ingest_url}/registration", event, partner_token), 400)

    fields = {error["field"] for error in body["errors"]}
    assert {"data.first_name", "data.birth_year"} <= fields


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"an event"', b"\xff\xfe", b"", json.dumps({"data": []}).encode()],
    ids=["batch", "string", "not-utf8", "empty", "not-an-event"],
)
def test_malformed_bodies_are_refused_never_failing(
    ingest_url: str, partner_token: str, body: bytes
) -> None:
    refusal(post(f"{ingest_url}/registration", body, partner_token), 400)


def test_event_larger_than_64_kib_is_refused(ingest_url: str, partner_token: str) -> None:
    event = cloud_event()
    event["data"]["street"] = "x" * 100 * 1024

    body = refusal(post(f"{ingest_url}/registration", event, partner_token), 413)

    assert "64 KiB" in body["error"]


def test_unknown_service_lists_the_intakes(ingest_url: str, partner_token: str) -> None:
    body = refusal(post(f"{ingest_url}/billing", cloud_event(), partner_token), 404)

    for service in ("registration", "training", "orientation"):
        assert service in body["error"]


def test_other_content_types_are_refused(ingest_url: str, partner_token: str) -> None:
    body = refusal(
        post(f"{ingest_url}/registration", cloud_event(), partner_token, "text/plain"), 415
    )

    assert STRUCTURED in body["error"]
