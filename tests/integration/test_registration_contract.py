"""Registration's answers keep their contract (contracts.api.registration, and
contracts.api.intake for ``GET /deliveries``): the real service, on the real MongoDB and
broker, is asked by the gateway's own clients (``gateway.services.Services``, its reference
lists, loaders and pages) exactly as the gateway asks it, and what comes back is read into the
GraphQL types. A field renamed on either side fails here, not on a dashboard."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import httpx
import pytest
import strawberry

from contracts.api.intake import DeliveryLine
from contracts.api.registration import (
    AssociationView,
    BeneficiaryExport,
    BeneficiaryView,
    DistrictView,
    ErasureReceiptView,
    RetentionRun,
)
from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.registration import ConsentPurpose, ErasureReason
from gateway import access
from gateway import registration as graph
from gateway.loaders import Loaders
from gateway.services import Services
from kit import audit
from kit.auth import Role, issue_token
from kit.deliveries import Deliveries, Tally
from kit.settings import Settings
from services.registration.app import build

pytestmark = pytest.mark.integration
# People are enrolled in a place of the reference file: their events reach the broker the e2e
# platform's reporting reads later, which names places from events; a place saved here under
# a name of its own and holding people would be shown there under a name its registration
# does not know. The places saved here (below) hold nobody.
PEOPLE_ASSOCIATION, PEOPLE_DISTRICT = "asso-lac-connecte", "qpv-aubiers-lac"


@dataclass
class Registration:
    """The registration service in-process, and the gateway's clients pointed at it."""

    services: Services
    authorization: str  # a coordinator's token for the gateway
    db: Any
    district_id: str
    association_id: str

    async def answer(self, shape: Any, method: str, path: str, **options: Any) -> Any:
        return await self.services.answer(
            shape, "registration", method, path, authorization=self.authorization, **options
        )

    def context(self) -> Any:
        """What the gateway's loaders and pages read from a request's context."""
        return SimpleNamespace(services=self.services, authorization=self.authorization)

    async def enrol(self, first_name: str, **fields: Any) -> BeneficiaryView:
        body = {
            "association_id": PEOPLE_ASSOCIATION,
            "district_id": PEOPLE_DISTRICT,
            "first_name": first_name,
            "last_name": f"Contrat{uuid4().hex[:8]}",
            "phone": "06 12 34 56 78",
            "birth_year": 1990,
            "gender": "female",
            "tracks": ["digital_careers"],
            "employment_status": "registered_job_seeker",
            "consent": {
                "programme_follow_up": True,
                "share_with_partners": False,
                "contact_for_surveys": False,
            },
            **fields,
        }
        enrolled: BeneficiaryView = await self.answer(
            BeneficiaryView, "POST", "/beneficiaries", json=body
        )
        return enrolled


@pytest.fixture(scope="module")
async def registration(settings: Settings) -> AsyncIterator[Registration]:
    # A database of its own: the districts and associations saved here reach no other test.
    own = settings.model_copy(update={"database_prefix": f"test_{uuid4().hex[:8]}_"})
    app = build(own)
    async with app.router.lifespan_context(app):
        services = Services(own, transport=httpx.ASGITransport(app=app))
        coordinator = f"Bearer {issue_token(own, Role.COORDINATOR)}"
        suffix = uuid4().hex[:8]
        service = Registration(
            services, coordinator, app.state.runtime.db, f"qpv-{suffix}", f"asso-{suffix}"
        )
        try:
            yield service
        finally:
            await services.close()


async def test_the_reference_lists_and_their_changes_keep_their_contract(
    registration: Registration,
) -> None:
    saved_district = await registration.answer(
        DistrictView,
        "PUT",
        f"/districts/{registration.district_id}",
        json={
            "name": "Contrat",
            "commune": "Pessac",
            "insee_code": "33318",
            "qpv_code": "QN03399X",
        },
    )
    saved_association = await registration.answer(
        AssociationView,
        "PUT",
        f"/associations/{registration.association_id}",
        json={
            "name": "Asso du contrat",
            "districts": [registration.district_id],
            "rna": "W332000123",
            "contact": "contact@contrat.example",
        },
    )

    district = graph.District.of(saved_district)
    assert (district.id, district.name, district.qpv_code) == (
        registration.district_id,
        "Contrat",
        "QN03399X",
    )
    association = graph.Association.of(saved_association)
    assert association.district_ids == [registration.district_id]
    assert (association.rna, association.siret) == ("W332000123", None)
    assert saved_association.contact == "contact@contrat.example"

    # What every gateway request reads: the shared lists, fetched with the gateway's own token.
    districts = await registration.services.reference.get("districts")
    associations = await registration.services.reference.get("associations")
    assert registration.district_id in {d.id for d in districts}
    loaded = {d.id: graph.District.of(d) for d in districts}
    assert loaded["qpv-aubiers-lac"].commune == "Bordeaux", "the reference file is loaded"
    listed = {a.id: graph.Association.of(a) for a in associations}
    assert listed[registration.association_id].name == "Asso du contrat"
    assert listed["asso-lac-connecte"].district_ids == ["qpv-aubiers-lac"]


async def test_a_record_keeps_its_contract_from_enrolment_to_erasure(
    registration: Registration,
) -> None:
    enrolled = await registration.enrol("Awa", email="awa@contrat.example")
    person = graph.Beneficiary.of(enrolled)
    assert (person.first_name, person.email, person.postcode) == (
        "Awa",
        "awa@contrat.example",
        None,
    )
    assert (person.gender, person.age_band) == (Gender.FEMALE, AgeBand.FROM_26_TO_44)
    assert person.tracks == [Track.DIGITAL_CAREERS]
    assert person.employment_status is EmploymentStatus.REGISTERED_JOB_SEEKER
    assert person.consent.programme_follow_up
    assert not person.consent.share_with_partners
    assert person.enrolled_at.tzinfo is not None
    assert person.status == "active"
    path = f"/beneficiaries/{person.id}"

    read = await registration.services.answer_if_found(
        BeneficiaryView, "registration", "GET", path, authorization=registration.authorization
    )
    assert read is not None
    assert (read.id, read.last_name, read.phone) == (person.id, person.last_name, person.phone)
    rectified = await registration.answer(
        BeneficiaryView, "PATCH", path, json={"postcode": "33600", "birth_year": 1975}
    )
    assert graph.Beneficiary.of(rectified).postcode == "33600"
    assert graph.Beneficiary.of(rectified).age_band is AgeBand.FROM_45_TO_64
    consented = await registration.answer(
        BeneficiaryView,
        "PUT",
        f"{path}/consent/{ConsentPurpose.CONTACT_FOR_SURVEYS.value}",
        json={"given": True},
    )
    assert graph.Beneficiary.of(consented).consent.contact_for_surveys is True

    exported = await registration.answer(BeneficiaryExport, "GET", f"{path}/export")
    assert exported.record.id == person.id
    history = [(c.purpose, c.given) for c in exported.consent_history]
    assert history[-1] == (ConsentPurpose.CONTACT_FOR_SURVEYS, True)
    assert {entry["action"] for entry in exported.access_log} >= {"enrol", "rectify"}
    logged = await registration.answer(
        list[audit.AuditEntry], "GET", "/audit", params={"beneficiary_id": person.id}
    )
    actions = {access.AuditEntry.of(entry).action for entry in logged}
    assert actions >= {"enrol", "rectify", "export"}

    withdrawn = await registration.answer(BeneficiaryView, "POST", f"{path}/withdrawal")
    assert graph.Beneficiary.of(withdrawn).status == "withdrawn"

    reason = ErasureReason.COORDINATOR_DECISION
    receipt = await registration.answer(
        ErasureReceiptView, "DELETE", path, params={"reason": reason.value}
    )
    erased = graph.ErasureReceipt.of(receipt)
    assert (erased.beneficiary_id, erased.reason) == (person.id, reason)
    assert erased.erased, "the receipt says what was destroyed"
    kept = await registration.services.answer_if_found(
        ErasureReceiptView,
        "registration",
        "GET",
        f"/erasures/{person.id}",
        authorization=registration.authorization,
    )
    assert kept is not None
    assert (kept.id, kept.requested_by, kept.erased) == (
        erased.id,
        erased.requested_by,
        erased.erased,
    )
    gone = await registration.services.answer_if_found(
        BeneficiaryView, "registration", "GET", path, authorization=registration.authorization
    )
    assert gone is None


async def test_pages_batches_and_merges_keep_their_contract(registration: Registration) -> None:
    first = await registration.enrol("Binta", phone="06 98 76 54 32")
    second = await registration.enrol("Chloé", phone=None, birth_year=1985)
    unknown = str(uuid4())

    page = await graph.beneficiaries_page(
        registration.context(),
        graph.BeneficiaryFilter(association_id=strawberry.ID(PEOPLE_ASSOCIATION)),
        first=100,
        after=None,
    )
    listed = {edge.node.id: edge.node for edge in page.edges}
    assert {first.id, second.id} <= set(listed)
    assert listed[second.id].first_name == "Chloé"
    assert listed[second.id].phone is None
    assert page.total_count >= 2

    loaders = Loaders(registration.context())
    found, missing = [await loaders.beneficiary.load(i) for i in (first.id, unknown)]
    assert found is not None
    assert (found.id, found.last_name) == (first.id, first.last_name)
    assert missing is None

    merged = await registration.answer(
        BeneficiaryView,
        "POST",
        f"/beneficiaries/{first.id}/merge",
        json={"duplicate_id": second.id},
    )
    assert graph.Beneficiary.of(merged).id == first.id


async def test_a_retention_run_keeps_its_contract(registration: Registration) -> None:
    person = await registration.enrol("Dalia", phone="07 11 22 33 44")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)
    await registration.db["beneficiaries"].update_one(
        {"_id": person.id}, {"$set": {"last_contact_at": long_ago}}
    )

    run = await registration.answer(
        RetentionRun, "POST", "/retention", params={"dry_run": "true", "older_than_days": "730"}
    )

    shown = graph.RetentionRun.of(run)
    assert (shown.dry_run, shown.older_than_days) == (True, 730)
    assert person.id in shown.beneficiary_ids


async def test_the_delivery_log_keeps_its_contract(registration: Registration) -> None:
    partner = f"dn/partner/contrat-{uuid4().hex[:6]}"
    refused = Tally(accepted=3)
    refused.refused("invalid", "birth_year: before 1900")
    await Deliveries(registration.db, "registration").record({partner: refused})

    lines = await registration.answer(
        list[DeliveryLine], "GET", "/deliveries", params={"partner": partner}
    )

    [line] = [access.PartnerDelivery.of(line) for line in lines]
    assert (line.service, line.partner, line.accepted, line.rejected, line.waiting) == (
        "registration",
        partner,
        3,
        1,
        0,
    )
    assert line.last_error == "invalid: birth_year: before 1900"
    assert line.last_error_at is not None
    assert line.last_seen is not None
