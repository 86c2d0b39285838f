"""The orientation service in-process on the real MongoDB and broker: registration's events in,
referrals gated on consent, placements out without employer names, follow-ups on time,
partner requests for unknown people dead-lettered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.event import EventData
from contracts.orientation import (
    InterestsReportedV1,
    PartnerKind,
    PlacementKind,
    PlacementReportedV1,
    ReferralRequestedV1,
)
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    ConsentChangedV1,
    ConsentPurpose,
)
from contracts.topics import DEAD_LETTER, INTAKE_ORIENTATION, ORIENTATION_EVENTS
from kit.auth import Role, issue_token
from kit.settings import Settings
from services.orientation.app import build
from services.orientation.commands import Orientation
from tests.conftest import PARKED_WAIT_S
from tests.support import Record, eventually, header, produce, read_all, read_topic

pytestmark = pytest.mark.integration


@dataclass
class Calendar:
    """The service's 'today', moved by the tests."""

    today: date = field(default_factory=lambda: datetime.now(UTC).date())

    def __call__(self) -> date:
        return self.today


@dataclass
class Service:
    client: httpx.AsyncClient
    orientation: Orientation
    calendar: Calendar
    bootstrap: str

    async def enrol(self, shares_with_partners: bool = False) -> str:
        beneficiary_id = uuid4()
        await self.send(
            BeneficiaryEnrolledV1(
                beneficiary_id=beneficiary_id,
                association_id="asso-saige-en-ligne",
                district_id="qpv-saige",
                gender=Gender.FEMALE,
                age_band=AgeBand.FROM_26_TO_44,
                tracks=[Track.DIGITAL_CAREERS],
                employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
                enrolled_at=datetime.now(UTC),
                shares_with_partners=shares_with_partners,
            )
        )
        await eventually(
            lambda: self.orientation.store.person(str(beneficiary_id)),
            lambda person: person is not None,
            timeout_s=60,
            what="enrolment applied",
        )
        return str(beneficiary_id)

    async def send(self, event: EventData, topic: str | None = None) -> UUID:
        envelope = event.to_event("dn/test")
        value, headers = envelope.to_kafka()
        await produce(
            self.bootstrap,
            topic or event.topic,
            [(event.subject().encode(), value, [(k, v.encode()) for k, v in headers.items()])],
        )
        return envelope.id


@pytest.fixture(scope="module")
async def service(settings: Settings) -> AsyncIterator[Service]:
    calendar = Calendar()
    app = build(settings, calendar=calendar, follow_up_check=timedelta(seconds=0.3))
    token = issue_token(settings, Role.COORDINATOR, audience="orientation")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://orientation",
            headers={"authorization": f"Bearer {token}"},
        ) as client,
    ):
        yield Service(client, app.state.orientation, calendar, settings.resolved_kafka_bootstrap)


def of_type(records: list[Record], event_type: str, key: str) -> list[dict[str, object]]:
    return [
        json.loads(r.value or b"{}")
        for r in records
        if header(r, "ce_type") == event_type and (r.key or b"").decode() == key
    ]


async def test_referral_needs_consent_to_share_then_is_made_once_given(service: Service) -> None:
    beneficiary_id = await service.enrol(shares_with_partners=False)
    body = {"beneficiary_id": beneficiary_id, "partner_kind": "training_organisation"}

    refused = await service.client.post("/referrals", json=body)
    assert refused.status_code == 422
    assert "share_with_partners" in refused.json()["error"]

    await service.send(
        ConsentChangedV1(
            beneficiary_id=UUID(beneficiary_id),
            purpose=ConsentPurpose.SHARE_WITH_PARTNERS,
            given=True,
            changed_at=datetime.now(UTC),
        )
    )
    made = await eventually(
        lambda: service.client.post("/referrals", json=body),
        lambda response: response.status_code == 201,
        what="referral accepted after consent",
    )
    assert made.json()["status"] == "open"


async def test_consent_given_at_enrolment_is_enough_to_refer(service: Service) -> None:
    beneficiary_id = await service.enrol(shares_with_partners=True)
    made = await service.client.post(
        "/referrals", json={"beneficiary_id": beneficiary_id, "partner_kind": "employer"}
    )
    assert made.status_code == 201
    resolved = await service.client.post(
        f"/referrals/{made.json()['id']}/resolution",
        json={"outcome": "refused", "refusal_reason": "no_places_left"},
    )
    assert resolved.status_code == 200
    assert resolved.json()["refusal_reason"] == "no_places_left"


async def test_placement_is_emitted_with_its_outcome_class_and_no_employer_name(
    service: Service,
) -> None:
    beneficiary_id = await service.enrol()
    employer = f"Boulangerie Zygomatique {uuid4().hex[:10]}"
    response = await service.client.post(
        "/placements",
        json={
            "beneficiary_id": beneficiary_id,
            "kind": "cdd_under_6m",
            "starts_on": str(datetime.now(UTC).date()),
            "digital_sector": True,
            "employer": employer,
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["outcome_class"] == "transitional_employment"

    records = await read_topic(
        service.bootstrap,
        ORIENTATION_EVENTS,
        until=lambda rs: bool(of_type(rs, "dn.orientation.placement_recorded.v1", beneficiary_id)),
    )
    (event,) = of_type(records, "dn.orientation.placement_recorded.v1", beneficiary_id)
    assert event["outcome_class"] == "transitional_employment"
    assert event["directed_to_employment"] is True
    everything = await read_all(service.bootstrap, ORIENTATION_EVENTS)
    assert everything
    for record in everything:
        assert employer.encode() not in (record.value or b"")
        assert all(employer.encode() not in bytes(v) for _, v in record.headers or ())

    again = await service.client.post(
        "/placements",
        json={
            "beneficiary_id": beneficiary_id,
            "kind": "cdd_under_6m",
            "starts_on": str(datetime.now(UTC).date()),
        },
    )
    assert again.status_code == 409
    assert again.json()["existing_id"] == response.json()["id"]


async def test_follow_ups_fall_due_at_3_and_6_months_and_are_announced_once(
    service: Service,
) -> None:
    beneficiary_id = await service.enrol()
    response = await service.client.post(
        "/placements",
        json={"beneficiary_id": beneficiary_id, "kind": "cdi", "starts_on": "2025-12-31"},
    )
    assert response.status_code == 201, response.text
    placement_id = response.json()["id"]

    async def due_on(day: str) -> list[dict[str, object]]:
        listed = await service.client.get("/follow-ups/due", params={"on": day})
        return [d for d in listed.json() if d["placement_id"] == placement_id]

    assert await due_on("2026-03-30") == []
    assert [(d["months"], d["due_on"]) for d in await due_on("2026-03-31")] == [(3, "2026-03-31")]
    assert [(d["months"], d["due_on"]) for d in await due_on("2026-06-30")] == [
        (3, "2026-03-31"),
        (6, "2026-06-30"),
    ]

    service.calendar.today = date(2026, 7, 1)  # the hourly job now finds both due

    def announced(records: list[Record]) -> list[dict[str, object]]:
        return of_type(records, "dn.orientation.follow_up_due.v1", beneficiary_id)

    await read_topic(
        service.bootstrap, ORIENTATION_EVENTS, until=lambda rs: len(announced(rs)) >= 2
    )
    recorded = await service.client.post(
        f"/placements/{placement_id}/follow-ups", json={"months": 3, "still_in_post": True}
    )
    assert recorded.status_code == 201, recorded.text
    twice = await service.client.post(
        f"/placements/{placement_id}/follow-ups", json={"months": 3, "still_in_post": False}
    )
    assert twice.status_code == 409
    assert await due_on("2026-07-01") == [
        {
            "placement_id": placement_id,
            "beneficiary_id": beneficiary_id,
            "months": 6,
            "due_on": "2026-06-30",
        }
    ]
    # Several more checks run meanwhile: each follow-up is still announced once.
    due_events = announced(await read_all(service.bootstrap, ORIENTATION_EVENTS))
    assert sorted((e["months"], e["due_on"]) for e in due_events) == [
        (3, "2026-03-31"),
        (6, "2026-06-30"),
    ]


async def test_partner_placement_for_a_person_who_never_arrives_waits_then_is_dead_lettered(
    service: Service,
) -> None:
    """Parked (kit.parking) until the wait runs out (DN_PARKED_MAX_WAIT_S, seconds in tests):
    one dead letter, saying how long it waited."""
    request = PlacementReportedV1(
        beneficiary_id=uuid4(), kind=PlacementKind.CDI, starts_on=date(2026, 1, 5)
    )
    ce_id = str(await service.send(request, INTAKE_ORIENTATION))

    records = await read_topic(
        service.bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == ce_id for r in rs),
        timeout_s=60,
    )
    [dead] = [r for r in records if header(r, "ce_id") == ce_id]
    assert header(dead, "dn_error") == "unknown_beneficiary"
    assert header(dead, "dn_source_topic") == INTAKE_ORIENTATION
    detail = header(dead, "dn_error_detail") or ""
    assert f"beneficiary {request.beneficiary_id} never reached orientation" in detail
    waited = int(detail.split("the request waited ")[1].split(" s")[0])
    assert PARKED_WAIT_S <= waited < PARKED_WAIT_S + 30, detail


async def test_partner_placement_redelivered_is_recorded_once(service: Service) -> None:
    beneficiary_id = await service.enrol()
    request = PlacementReportedV1(
        beneficiary_id=UUID(beneficiary_id),
        kind=PlacementKind.APPRENTICESHIP,
        starts_on=datetime.now(UTC).date(),
        employer="Atelier Numérique",
    )
    sentinel = PlacementReportedV1(
        beneficiary_id=UUID(beneficiary_id),
        kind=PlacementKind.QUALIFYING_TRAINING,
        starts_on=datetime.now(UTC).date(),
    )

    def as_record(event: EventData) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        value, headers = event.to_event("partner/test").to_kafka()
        return beneficiary_id.encode(), value, [(k, v.encode()) for k, v in headers.items()]

    copy = as_record(request)
    # One key, one partition: the sentinel is applied after both copies.
    await produce(service.bootstrap, INTAKE_ORIENTATION, [copy, copy, as_record(sentinel)])

    async def kinds() -> list[str]:
        found = await service.orientation.store.placements.find(
            {"beneficiary_id": beneficiary_id}
        ).to_list()
        return sorted(str(p["kind"]) for p in found)

    assert await eventually(
        kinds, lambda found: "qualifying_training" in found, timeout_s=60, what="sentinel"
    ) == ["apprenticeship", "qualifying_training"]


async def place(service: Service, beneficiary_id: str, employer: str | None = None) -> str:
    body = {
        "beneficiary_id": beneficiary_id,
        "kind": "cdi",
        "starts_on": str(datetime.now(UTC).date()),
        "digital_sector": False,
    }
    if employer:
        body["employer"] = employer
    response = await service.client.post("/placements", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_erasure_forgets_the_person_and_the_employer_but_keeps_the_placement(
    service: Service,
) -> None:
    beneficiary_id = await service.enrol(shares_with_partners=True)
    employer = f"Atelier Quiconque {uuid4().hex[:8]}"
    placement_id = await place(service, beneficiary_id, employer)

    await service.send(
        BeneficiaryErasedV1(
            beneficiary_id=UUID(beneficiary_id),
            erased_at=datetime.now(UTC),
            reason="request_of_person",
        )
    )

    store = service.orientation.store
    await eventually(
        lambda: store.records_of(beneficiary_id),
        lambda rows: rows == [],
        what="nothing left under the erased id",
    )
    kept = await store.placements.find_one({"_id": placement_id})
    assert kept is not None, "the placement still counts"
    assert kept["beneficiary_id"] != beneficiary_id
    assert "employer" not in kept
    assert await store.person(beneficiary_id) is None
    refused = await service.client.post(
        "/referrals", json={"beneficiary_id": beneficiary_id, "partner_kind": "employer"}
    )
    assert refused.status_code in (404, 422), "nothing new can be recorded for them"


async def test_merge_moves_placements_and_referrals_to_the_kept_person(service: Service) -> None:
    kept_id = await service.enrol(shares_with_partners=True)
    merged_id = await service.enrol(shares_with_partners=True)
    placement_id = await place(service, merged_id)
    referral = await service.client.post(
        "/referrals", json={"beneficiary_id": merged_id, "partner_kind": "france_travail"}
    )
    assert referral.status_code == 201, referral.text

    await service.send(
        BeneficiariesMergedV1(
            beneficiary_id=UUID(kept_id), merged_id=UUID(merged_id), merged_at=datetime.now(UTC)
        )
    )

    store = service.orientation.store
    moved = await eventually(
        lambda: store.placements.find_one({"_id": placement_id}),
        lambda doc: doc is not None and doc["beneficiary_id"] == kept_id,
        what="placement moved to the kept person",
    )
    assert moved["beneficiary_id"] == kept_id
    kinds = {row["record"] for row in await store.records_of(kept_id)}
    assert {"placement", "referral"} <= kinds
    assert await store.records_of(merged_id) == []


async def test_partner_interests_and_referrals_apply_and_one_without_consent_is_dead_lettered(
    service: Service,
) -> None:
    consenting = await service.enrol(shares_with_partners=True)
    unconsenting = await service.enrol(shares_with_partners=False)

    await service.send(
        InterestsReportedV1(beneficiary_id=UUID(consenting), job_families=["M1805"]),
        INTAKE_ORIENTATION,
    )
    await service.send(
        ReferralRequestedV1(beneficiary_id=UUID(consenting), partner_kind=PartnerKind.EMPLOYER),
        INTAKE_ORIENTATION,
    )
    refused_id = str(
        await service.send(
            ReferralRequestedV1(
                beneficiary_id=UUID(unconsenting), partner_kind=PartnerKind.MISSION_LOCALE
            ),
            INTAKE_ORIENTATION,
        )
    )

    store = service.orientation.store
    rows = await eventually(
        lambda: store.records_of(consenting),
        lambda found: {"interests", "referral"} <= {row["record"] for row in found},
        timeout_s=60,
        what="interests and referral applied",
    )
    [interests] = [row for row in rows if row["record"] == "interests"]
    assert interests["job_families"] == ["M1805"]
    [referral] = [row for row in rows if row["record"] == "referral"]
    assert referral["partner_kind"] == "employer"

    records = await read_topic(
        service.bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == refused_id for r in rs),
        timeout_s=60,
    )
    dead = next(r for r in records if header(r, "ce_id") == refused_id)
    assert header(dead, "dn_error") == "no_consent"
    assert "share_with_partners" in header(dead, "dn_error_detail")
    assert not [row for row in await store.records_of(unconsenting) if row["record"] == "referral"]


async def test_a_burst_of_partner_requests_applies_in_order_once_each_with_one_access_entry(
    service: Service,
) -> None:
    """One person's requests in one burst (one key, one partition, one batch): a redelivered
    copy applies once, a refused request dead-letters without holding the others back, and
    each applied request has exactly one access-log entry naming the partner."""
    person = await service.enrol(shares_with_partners=True)
    other = await service.enrol(shares_with_partners=False)
    source = f"partner/burst-{uuid4().hex[:8]}"

    def as_record(event: EventData, key: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        value, headers = event.to_event(source).to_kafka()
        return key.encode(), value, [(k, v.encode()) for k, v in headers.items()]

    referral = as_record(
        ReferralRequestedV1(beneficiary_id=UUID(person), partner_kind=PartnerKind.EMPLOYER), person
    )
    refused = ReferralRequestedV1(
        beneficiary_id=UUID(other), partner_kind=PartnerKind.MISSION_LOCALE
    ).to_event(source)
    refused_value, refused_headers = refused.to_kafka()
    burst = [
        as_record(InterestsReportedV1(beneficiary_id=UUID(person), job_families=["M1805"]), person),
        referral,
        referral,  # the same request again (same ce_id)
        (person.encode(), refused_value, [(k, v.encode()) for k, v in refused_headers.items()]),
        as_record(InterestsReportedV1(beneficiary_id=UUID(person), job_families=["E1205"]), person),
    ]
    await produce(service.bootstrap, INTAKE_ORIENTATION, burst)

    store = service.orientation.store
    rows = await eventually(
        lambda: store.records_of(person),
        lambda found: any(row.get("job_families") == ["E1205"] for row in found),
        timeout_s=60,
        what="the last request of the burst applied",
    )
    assert len([row for row in rows if row["record"] == "referral"]) == 1, rows
    records = await read_topic(
        service.bootstrap,
        DEAD_LETTER,
        until=lambda rs: any(header(r, "ce_id") == str(refused.id) for r in rs),
        timeout_s=60,
    )
    dead = next(r for r in records if header(r, "ce_id") == str(refused.id))
    assert header(dead, "dn_error") == "no_consent"
    entries = await store.applied_requests.database["audit_log"].find({"actor": source}).to_list()
    assert sorted((e["beneficiary_id"], e["record"]) for e in entries) == sorted(
        [(person, "interest"), (person, "referral"), (person, "interest")]
    ), entries
