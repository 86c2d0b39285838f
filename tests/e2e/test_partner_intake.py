"""Partners' systems enrol people by writing to dn.intake.registration, as a real CRM would."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.envelope import CloudEvent
from contracts.topics import DEAD_LETTER, INTAKE_REGISTRATION
from dn.platform import Platform
from kit.auth import Role, issue_token
from tests.conftest import TestInfra
from tests.support import eventually, header, produce, read_topic

pytestmark = pytest.mark.e2e
ASSOCIATION = "asso-lac-connecte"
REQUESTED = "dn.intake.registration.enrolment_requested.v1"


def request_data(**overrides: Any) -> dict[str, Any]:
    marker = uuid4().hex[:10]
    return {
        "association_id": ASSOCIATION,
        "district_id": "qpv-aubiers-lac",
        "first_name": f"Partenaire{marker}",
        "last_name": f"Inscrit{marker}",
        "birth_year": 1988,
        "phone": f"06 {uuid4().int % 10**8:08d}",
        "gender": "male",
        "tracks": ["digital_inclusion"],
        "employment_status": "unemployed_not_registered",
        "consent": {
            "programme_follow_up": True,
            "share_with_partners": False,
            "contact_for_surveys": True,
        },
        "partner_reference": f"crm-{marker}",
        **overrides,
    }


def for_service(platform: Platform, service: str) -> str:
    """A coordinator's token signed for one service (services accept no other)."""
    return issue_token(platform.settings, Role.COORDINATOR, audience=service)


async def association_enrolled(platform: Platform, _: str) -> int:
    token = for_service(platform, "reporting")
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as client:
        response = await client.get(
            f"{platform.settings.service_url('reporting')}/impact",
            params={"association_id": ASSOCIATION},
        )
    return int(response.json()["enrolled"])


async def test_partner_requests_in_both_modes_are_applied_once_and_bad_ones_dead_lettered(
    platform: Platform, infra: TestInfra, coordinator_token: str
) -> None:
    partner = f"partner/crm-{uuid4().hex[:6]}"
    before = await association_enrolled(platform, coordinator_token)
    binary = CloudEvent(source=partner, type=REQUESTED, data=request_data())
    binary_value, binary_headers = binary.to_kafka()
    structured = CloudEvent(source=partner, type=REQUESTED, data=request_data())
    invalid = CloudEvent(source=partner, type=REQUESTED, data=request_data(birth_year=1800))
    as_headers = [(k, v.encode()) for k, v in binary_headers.items()]
    structured_headers = [("content-type", b"application/cloudevents+json")]

    await produce(
        infra.kafka_bootstrap,
        INTAKE_REGISTRATION,
        [
            (b"crm-1", binary_value, as_headers),
            (b"crm-1", binary_value, as_headers),  # redelivered by the partner's client
            (b"crm-2", structured.model_dump_json().encode(), structured_headers),
            (b"crm-3", json.dumps(invalid.model_dump(mode="json")).encode(), structured_headers),
        ],
    )

    enrolled = await eventually(
        lambda: association_enrolled(platform, coordinator_token), lambda n: n >= before + 2
    )
    assert enrolled == before + 2
    records = await read_topic(
        infra.kafka_bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(
            header(r, "dn_source_topic") == INTAKE_REGISTRATION
            and str(invalid.id).encode() in (r.value or b"")
            for r in rs
        ),
    )
    dead = [r for r in records if str(invalid.id).encode() in (r.value or b"")]
    assert len(dead) == 1
    assert header(dead[0], "dn_error") == "invalid_request"
    assert "birthYear" in (header(dead[0], "dn_error_detail") or "")
    redelivery_rejected = [r for r in records if header(r, "ce_id") == str(binary.id)]
    assert redelivery_rejected == [], "a redelivery is not a rejection"

    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{platform.settings.service_url('registration')}/deliveries",
            params={"partner": partner},
            headers={"authorization": f"Bearer {for_service(platform, 'registration')}"},
        )
    log = response.json()
    assert len(log) == 1
    assert log[0]["rejected"] == 1
    assert log[0]["accepted"] == 2
    assert log[0]["last_error"].startswith("invalid_request: birthYear")


async def test_a_partner_chooses_the_person_s_id_and_uses_it_in_later_requests(
    platform: Platform, infra: TestInfra, coordinator_token: str
) -> None:
    chosen = uuid4()
    source = f"partner/crm-{uuid4().hex[:6]}"
    request = CloudEvent(
        source=source, type=REQUESTED, data=request_data(beneficiary_id=str(chosen))
    )
    value, headers = request.to_kafka()
    await produce(
        infra.kafka_bootstrap,
        INTAKE_REGISTRATION,
        [(str(chosen).encode(), value, [(k, v.encode()) for k, v in headers.items()])],
    )

    async def status(service: str, path: str) -> int:
        auth = {"authorization": f"Bearer {for_service(platform, service)}"}
        async with httpx.AsyncClient(headers=auth) as client:
            url = f"{platform.settings.service_url(service)}{path}"
            return (await client.get(url)).status_code

    registered = await eventually(
        lambda: status("registration", f"/beneficiaries/{chosen}"),
        lambda code: code == 200,
        what="enrolled under the chosen id",
    )
    assert registered == 200
    # Training knows the person by the same id: the partner can report attendance with it.
    known = await eventually(
        lambda: status("training", f"/beneficiaries/{chosen}/progress"),
        lambda code: code == 200,
        what="training knows the chosen id",
    )
    assert known == 200

    again = CloudEvent(source=source, type=REQUESTED, data=request_data(beneficiary_id=str(chosen)))
    value, headers = again.to_kafka()
    await produce(
        infra.kafka_bootstrap,
        INTAKE_REGISTRATION,
        [(str(chosen).encode(), value, [(k, v.encode()) for k, v in headers.items()])],
    )
    records = await read_topic(
        infra.kafka_bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == str(again.id) for r in rs),
    )
    dead = next(r for r in records if header(r, "ce_id") == str(again.id))
    assert header(dead, "dn_error") == "duplicate_beneficiary", "an id is never reused"
