"""A partner's system sends each request once, in any order: what names something not known yet
waits for it (kit.parking) and is applied when it arrives; nothing is dead-lettered, nothing
has to be sent again."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.event import EventData
from contracts.intake import EnrolmentRequestedV1
from contracts.orientation import (
    FollowUpReportedV1,
    PlacementKind,
    PlacementReportedV1,
    ReferralRequestedV1,
    ReferralResolutionReportedV1,
)
from contracts.topics import DEAD_LETTER, INTAKE_ORIENTATION, INTAKE_REGISTRATION, INTAKE_TRAINING
from contracts.training import AttendanceReportedV1, AttendanceStatus, SessionReportedV1
from dn.platform import Platform
from kit.auth import Role, issue_token
from tests.support import eventually, graphql_data, header, produce, read_all

pytestmark = pytest.mark.e2e
ASSOCIATION = "asso-lac-connecte"
DISTRICT = "qpv-aubiers-lac"


async def send(platform: Platform, topic: str, source: str, data: EventData) -> str:
    event = data.to_event(source)
    value, headers = event.to_kafka()
    encoded = [(name, text.encode()) for name, text in headers.items()]
    await produce(
        platform.settings.resolved_kafka_bootstrap,
        topic,
        [(data.subject().encode(), value, encoded)],
    )
    return str(event.id)


def enrolment(beneficiary_id: Any) -> EnrolmentRequestedV1:
    marker = uuid4().hex[:8]
    return EnrolmentRequestedV1.model_validate(
        {
            "beneficiary_id": beneficiary_id,
            "association_id": ASSOCIATION,
            "district_id": DISTRICT,
            "first_name": f"Ordre{marker}",
            "last_name": f"Libre{marker}",
            "birth_year": 1991,
            "phone": f"07 {uuid4().int % 10**8:08d}",
            "gender": "female",
            "tracks": ["digital_inclusion"],
            "employment_status": "unemployed_not_registered",
            "consent": {
                "programme_follow_up": True,
                "share_with_partners": True,
                "contact_for_surveys": False,
            },
        }
    )


async def export(platform: Platform, service: str, beneficiary_id: Any) -> list[dict[str, Any]]:
    token = issue_token(platform.settings, Role.COORDINATOR, audience=service)
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as client:
        response = await client.get(
            f"{platform.settings.service_url(service)}/beneficiaries/{beneficiary_id}/export"
        )
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()["records"]
    return records


async def deliveries(platform: Platform, service: str, partner: str) -> list[dict[str, Any]]:
    token = issue_token(platform.settings, Role.COORDINATOR, audience=service)
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as client:
        response = await client.get(
            f"{platform.settings.service_url(service)}/deliveries", params={"partner": partner}
        )
    response.raise_for_status()
    lines: list[dict[str, Any]] = response.json()
    return lines


async def parked_requests(platform: Platform, service: str) -> int:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{platform.settings.service_url(service)}/log")
    return int(response.json()["parked"]["requests"])


async def test_requests_sent_before_the_enrolment_they_name_all_apply_once_it_arrives(
    platform: Platform,
) -> None:
    partner = f"partner/any-order-{uuid4().hex[:8]}"
    person, session_id = uuid4(), uuid4()
    referral_id, placement_id = uuid4(), uuid4()
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)

    # Newest first: each names something the platform does not know yet.
    early = [
        (
            INTAKE_TRAINING,
            AttendanceReportedV1(
                session_id=str(session_id),
                beneficiary_id=person,
                status=AttendanceStatus.PRESENT,
                minutes=90,
            ),
        ),
        (
            INTAKE_ORIENTATION,
            FollowUpReportedV1(placement_id=placement_id, months=3, still_in_post=True),
        ),
        (
            INTAKE_ORIENTATION,
            ReferralResolutionReportedV1.model_validate(
                {"referral_id": referral_id, "outcome": "accepted"}
            ),
        ),
        (
            INTAKE_ORIENTATION,
            ReferralRequestedV1.model_validate(
                {
                    "beneficiary_id": person,
                    "partner_kind": "france_travail",
                    "referral_id": referral_id,
                }
            ),
        ),
        (
            INTAKE_ORIENTATION,
            PlacementReportedV1(
                beneficiary_id=person,
                kind=PlacementKind.CDI,
                starts_on=date.today() - timedelta(days=120),
                placement_id=placement_id,
            ),
        ),
        (
            INTAKE_TRAINING,
            SessionReportedV1.model_validate(
                {
                    "session_id": session_id,
                    "association_id": ASSOCIATION,
                    "district_id": DISTRICT,
                    "module_id": "mod-demarches-en-ligne",
                    "kind": "collective",
                    "place_type": "association_premises",
                    "starts_at": starts.isoformat(),
                    "duration_minutes": 90,
                    "capacity": 12,
                }
            ),
        ),
    ]
    sent = [await send(platform, topic, partner, data) for topic, data in early]

    # They wait, visibly: training and orientation each hold some; none is refused.
    await eventually(
        lambda: deliveries(platform, "orientation", partner),
        lambda lines: bool(lines) and lines[0]["waiting"] == 4,
        what="orientation's four requests waiting",
    )
    [training_line] = await eventually(
        lambda: deliveries(platform, "training", partner),
        lambda lines: bool(lines) and lines[0]["waiting"] >= 1,
        what="training's attendance waiting",
    )
    assert training_line["rejected"] == 0
    assert await parked_requests(platform, "orientation") >= 4

    sent.append(await send(platform, INTAKE_REGISTRATION, partner, enrolment(person)))

    training_records = await eventually(
        lambda: export(platform, "training", person),
        lambda records: any(r["kind"] == "attendance" for r in records),
        timeout_s=60,
        what="the early attendance applied",
    )
    [attendance] = [r for r in training_records if r["kind"] == "attendance"]
    assert attendance["session_id"] == str(session_id)
    assert attendance["minutes"] == 90

    def orientation_complete(records: list[dict[str, Any]]) -> bool:
        kinds = [r.get("record") for r in records]
        return {"placement", "referral", "follow_up"} <= set(kinds)

    records = await eventually(
        lambda: export(platform, "orientation", person),
        orientation_complete,
        timeout_s=60,
        what="the early placement, referral, resolution and follow-up applied",
    )
    [referral] = [r for r in records if r.get("record") == "referral"]
    assert referral["status"] == "accepted", "the resolution came after its referral"
    [placement] = [r for r in records if r.get("record") == "placement"]
    assert placement["id"] == str(placement_id)
    [follow_up] = [r for r in records if r.get("record") == "follow_up"]
    assert (follow_up["months"], follow_up["still_in_post"]) == (3, True)

    for service, applied in (("training", 2), ("orientation", 4), ("registration", 1)):
        [line] = await eventually(
            lambda service=service: deliveries(platform, service, partner),  # type: ignore[misc]
            lambda lines, applied=applied: bool(lines) and lines[0]["accepted"] == applied,
            what=f"{service}'s delivery line",
        )
        assert (line["rejected"], line["waiting"]) == (0, 0), line
    dead = [
        r
        for r in await read_all(platform.settings.resolved_kafka_bootstrap, DEAD_LETTER)
        if header(r, "ce_id") in sent
    ]
    assert dead == [], "nothing dead-lettered"


DELIVERY_LOG = """query Log($partner: String) {
  deliveryLog(partner: $partner) { service partner accepted rejected waiting lastError lastSeen }
}"""


async def test_the_delivery_log_shows_each_intake_service_s_line_for_a_partner(
    platform: Platform,
) -> None:
    """What a partner sent, as its developer reads it in GraphQL: applied, refused with the
    reason, and waiting for what it names, per service."""
    partner = f"partner/delivery-log-{uuid4().hex[:8]}"
    person = uuid4()
    value, headers = enrolment(uuid4()).to_event(partner).to_kafka()
    value = json.dumps(json.loads(value) | {"birth_year": 1850}).encode()  # refused
    await produce(
        platform.settings.resolved_kafka_bootstrap,
        INTAKE_REGISTRATION,
        [(b"k", value, [(name, text.encode()) for name, text in headers.items()])],
    )
    await send(platform, INTAKE_REGISTRATION, partner, enrolment(person))
    never_scheduled = AttendanceReportedV1(
        session_id=str(uuid4()), beneficiary_id=person, status=AttendanceStatus.PRESENT
    )
    await send(platform, INTAKE_TRAINING, partner, never_scheduled)

    token = issue_token(platform.settings, Role.COORDINATOR)

    async def lines() -> dict[str, dict[str, Any]]:
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as client:
            response = await client.post(
                f"{platform.settings.gateway_url}/graphql",
                json={"query": DELIVERY_LOG, "variables": {"partner": partner}},
            )
        return {line["service"]: line for line in graphql_data(response)["deliveryLog"]}

    found = await eventually(
        lines,
        lambda found: (
            found.get("registration", {}).get("accepted") == 1
            and found.get("registration", {}).get("rejected") == 1
            and found.get("training", {}).get("waiting") == 1
        ),
        what="the partner's lines in registration and training",
    )
    registration, training = found["registration"], found["training"]
    assert registration["partner"] == partner
    assert registration["lastError"].startswith("invalid_request: "), registration
    assert "birthYear" in registration["lastError"]
    assert (training["accepted"], training["rejected"], training["lastError"]) == (0, 0, None)
    assert training["lastSeen"] is not None
    assert "orientation" not in found, "no line where the partner sent nothing"
