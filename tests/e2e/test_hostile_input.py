"""Hostile input over GraphQL, the registration HTTP API and partner intake: a clear error
naming the field, never a crash, never a half-written record."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import MongoClient

from contracts.envelope import CloudEvent
from contracts.topics import DEAD_LETTER, INTAKE_REGISTRATION
from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import SERVICE_NAMES
from tests.conftest import TestInfra
from tests.e2e.conftest import enrolment, graphql
from tests.support import eventually, header, produce, read_topic

pytestmark = pytest.mark.e2e

ENROL = """
mutation Enrol($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"""
REQUESTED = "dn.intake.registration.enrolment_requested.v1"

# (what, overrides of the GraphQL input, the field the error must name)
HOSTILE_FIELDS = [
    ("oversized first name", {"firstName": "A" * 10_000}, "firstName"),
    ("script in last name", {"lastName": "<script>alert('x')</script>"}, "lastName"),
    ("control characters", {"firstName": "Zo\u0000\u0007é"}, "firstName"),
    ("template injection", {"lastName": "${jndi:ldap://x}"}, "lastName"),
    ("birth year far future", {"birthYear": 3000}, "birthYear"),
    ("negative birth year", {"birthYear": -5}, "birthYear"),
    ("phone of letters", {"phone": "call me maybe"}, "phone"),
    ("email without domain", {"email": "someone@"}, "email"),
    ("postcode of letters", {"postcode": "ABCDE"}, "postcode"),
    ("unknown district", {"districtId": "../../etc/passwd"}, "districtId"),
    ("no tracks", {"tracks": []}, "tracks"),
]
# Rejected by the schema before any resolver: wrong types and unknown enum values.
HOSTILE_TYPES = [
    ("unknown gender", {"gender": "ROBOT"}),
    ("birth year as text", {"birthYear": "nineteen ninety"}),
    ("track as number", {"tracks": [42]}),
    ("consent as string", {"consent": "yes"}),
]


def records(platform: Platform) -> int:
    """How many beneficiary records exist (registration's own count, any status)."""
    with MongoClient(platform.mongodb_url) as client:
        return client["dn_registration"]["beneficiaries"].count_documents({})


@pytest.mark.parametrize(
    ("what", "overrides", "field"), HOSTILE_FIELDS, ids=[h[0] for h in HOSTILE_FIELDS]
)
def test_graphql_refuses_hostile_fields_naming_the_field(
    gateway: httpx.Client, platform: Platform, what: str, overrides: dict[str, Any], field: str
) -> None:
    before = records(platform)

    response = graphql(gateway, ENROL, input=enrolment(**overrides))

    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert field in {f["field"] for f in error["extensions"]["fields"]}
    assert "<script>" not in error["message"], "errors do not echo the input"
    assert records(platform) == before, "nothing half-written"


@pytest.mark.parametrize(("what", "overrides"), HOSTILE_TYPES, ids=[h[0] for h in HOSTILE_TYPES])
def test_graphql_refuses_wrong_types_and_unknown_enum_values(
    gateway: httpx.Client, what: str, overrides: dict[str, Any]
) -> None:
    response = graphql(gateway, ENROL, input=enrolment(**overrides))

    assert response.status_code in (200, 400)
    errors = response.json()["errors"]
    assert errors
    assert "Variable '$input'" in errors[0]["message"], "the message says which input is wrong"


def test_registration_http_refuses_bad_json_bad_utf8_and_wrong_types(
    platform: Platform, coordinator_token: str
) -> None:
    url = f"{platform.settings.service_url('registration')}/beneficiaries"
    token = issue_token(platform.settings, Role.COORDINATOR, audience="registration")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    valid = {
        "association_id": "asso-saige-en-ligne",
        "district_id": "qpv-saige",
        "first_name": "Ana",
        "last_name": f"Test{uuid4().hex[:6]}",
        "gender": "female",
        "tracks": ["digital_inclusion"],
        "consent": {
            "programme_follow_up": True,
            "share_with_partners": False,
            "contact_for_surveys": False,
        },
    }
    bodies = {
        "not json": b"{not json",
        "bad utf-8": b'{"first_name": "\xff\xfe"}',
        "wrong type": json.dumps({**valid, "tracks": "digital_inclusion"}).encode(),
        "unknown field": json.dumps({**valid, "is_admin": True}).encode(),
        "unknown enum": json.dumps({**valid, "gender": "robot"}).encode(),
        "oversized": json.dumps({**valid, "first_name": "B" * 100_000}).encode(),
    }
    for what, body in bodies.items():
        response = httpx.post(url, content=body, headers=headers, timeout=15)
        # 400: the body cannot be read at all; 422: it can, and a field is wrong.
        assert response.status_code in (400, 422), (what, response.status_code, response.text)
        answer = response.json()
        assert answer["errors"], what
        assert all(error["field"] and error["message"] for error in answer["errors"]), what


async def test_hostile_intake_requests_are_dead_lettered_and_good_ones_still_land(
    platform: Platform, infra: TestInfra, coordinator_token: str
) -> None:
    source = f"partner/hostile-{uuid4().hex[:6]}"
    good = CloudEvent(
        source=source,
        type=REQUESTED,
        data={
            "association_id": "asso-parc-numerique",
            "district_id": "qpv-grand-parc",
            "first_name": "Bonne",
            "last_name": f"Requete{uuid4().hex[:8]}",
            "gender": "female",
            "tracks": ["digital_careers"],
            "consent": {
                "programme_follow_up": True,
                "share_with_partners": True,
                "contact_for_surveys": False,
            },
        },
    )
    hostile_data = [
        {**good.data, "first_name": "<img src=x onerror=alert(1)>"},
        {**good.data, "gender": "robot"},
        {**good.data, "birth_year": "1990; DROP TABLE"},
        {**good.data, "last_name": "C" * 5000},
        {**good.data, "extra": {"$where": "sleep(1000)"}},
    ]
    hostile = [CloudEvent(source=source, type=REQUESTED, data=data) for data in hostile_data]
    structured = [("content-type", b"application/cloudevents+json")]
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
        (b"h", event.model_dump_json().encode(), structured) for event in hostile
    ]
    messages.append((b"h", b"\xff\xfe not utf-8 at all", structured))
    good_value, good_headers = good.to_kafka()
    messages.append((b"h", good_value, [(k, v.encode()) for k, v in good_headers.items()]))

    await produce(infra.kafka_bootstrap, INTAKE_REGISTRATION, messages)

    wanted = {str(event.id) for event in hostile}

    def hostile_dead(records: list[Any]) -> set[str]:
        return {
            event_id
            for event_id in wanted
            for r in records
            if r.value and event_id.encode() in r.value
        }

    def unreadable_dead(records: list[Any]) -> bool:
        return any(r.value == b"\xff\xfe not utf-8 at all" for r in records)

    # The unreadable one follows them on the same partition: wait for it as well.
    records = await read_topic(
        infra.kafka_bootstrap,
        DEAD_LETTER,
        until=lambda rs: hostile_dead(rs) == wanted and unreadable_dead(rs),
    )
    ours = [
        r
        for r in records
        if header(r, "dn_source_topic") == INTAKE_REGISTRATION
        and any(e.encode() in (r.value or b"") for e in wanted)
    ]
    assert {header(r, "dn_error") for r in ours} <= {
        "invalid_attribute",
        "invalid_data",
        "invalid_request",
    }
    assert unreadable_dead(records)
    token = issue_token(platform.settings, Role.COORDINATOR, audience="registration")
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as c:

        async def deliveries() -> list[dict[str, Any]]:
            url = f"{platform.settings.service_url('registration')}/deliveries"
            answer: list[dict[str, Any]] = (await c.get(url, params={"partner": source})).json()
            return answer

        log = await eventually(deliveries, lambda entries: bool(entries and entries[0]["accepted"]))
        assert log[0]["accepted"] == 1, "the good request interleaved with them landed"
        assert log[0]["rejected"] == len(hostile)
        for name in SERVICE_NAMES:
            health = await c.get(f"{platform.settings.service_url(name)}/healthz")
            assert health.status_code == 200, f"{name} kept running"
