"""Orientation's answers keep their contract (contracts.api.orientation): the real service on the
real MongoDB answers the gateway's own calls (its Services over ASGI, one gateway Context), and
the gateway makes its GraphQL types from them. A field renamed or retyped on either side fails
here, not on a dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
import strawberry

from contracts.api import Page
from contracts.api.orientation import PlacementView, RecordsOfPeople, ReferralView
from gateway import orientation
from gateway.context import Context
from gateway.enums import OutcomeClass, PartnerKind, PlacementKind, ReferralOutcome
from kit.settings import Settings
from services.orientation.app import build
from services.orientation.commands import Orientation
from tests.integration.conftest import behind_the_gateway

pytestmark = pytest.mark.integration


@dataclass
class Gateway:
    """The gateway's side of the seam, and the service behind it."""

    context: Context
    http: httpx.AsyncClient  # straight to the service, as the gateway's token would reach it
    service: Orientation
    association_id: str

    async def enrol(self, shares_with_partners: bool = True) -> str:
        """A person as registration's enrolment leaves them in orientation (set in its store:
        the events' way there is test_orientation_service's business)."""
        beneficiary_id = str(uuid4())
        store = self.service.store
        async with store.db.client.start_session() as tx:
            await store.enrol(tx, beneficiary_id, self.association_id, shares_with_partners)
        return beneficiary_id


@pytest.fixture(scope="module")
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    app = build(settings)
    async with behind_the_gateway(settings, "orientation", app) as (context, http):
        association_id = f"asso-contract-{uuid4().hex[:8]}"
        yield Gateway(context, http, app.state.orientation, association_id)


async def test_reference_lists_keep_their_contract(gateway: Gateway) -> None:
    families = await orientation.job_families(gateway.context)
    assert families, "orientation ships its job families"
    by_code = {family.code: family for family in families}
    assert by_code["M1805"].title == "Développement informatique"
    assert by_code["M1805"].rome_codes == ["M1805"]
    reasons = await orientation.refusal_reasons(gateway.context)
    assert "no_places_left" in reasons


async def test_a_persons_records_keep_their_contract_from_each_form_to_the_loader(
    gateway: Gateway,
) -> None:
    context = gateway.context
    person = await gateway.enrol()
    held_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)

    workshop = await orientation.record_workshop(
        context,
        orientation.RecordWorkshopInput(
            association_id=strawberry.ID(gateway.association_id),
            held_at=held_at,
            participants=[strawberry.ID(person)],
            job_families=["M1805"],
            women_focused=True,
        ),
    )
    assert (workshop.participants, workshop.job_families) == ([person], ["M1805"])
    assert workshop.held_at == held_at
    assert workshop.women_focused

    interests = await orientation.set_interests(context, person, ["M1805", "I1401"])
    assert (interests.beneficiary_id, interests.job_families) == (person, ["M1805", "I1401"])

    referral = await orientation.refer_beneficiary(
        context,
        orientation.ReferBeneficiaryInput(
            beneficiary_id=strawberry.ID(person), partner_kind=PartnerKind.EMPLOYER
        ),
    )
    assert (referral.partner_kind, referral.status, referral.resolved_at) == (
        PartnerKind.EMPLOYER,
        "open",
        None,
    )
    refused = await orientation.resolve_referral(
        context, referral.id, ReferralOutcome.REFUSED, "no_places_left"
    )
    assert (refused.id, refused.status, refused.refusal_reason) == (
        referral.id,
        "refused",
        "no_places_left",
    )
    assert refused.resolved_at is not None

    starts_on = date.today() - timedelta(days=100)  # its 3-month follow-up is due
    placement = await orientation.record_placement(
        context,
        orientation.RecordPlacementInput(
            beneficiary_id=strawberry.ID(person),
            kind=PlacementKind.CDI,
            starts_on=starts_on,
            employer="Atelier Numérique",
            digital_sector=True,
        ),
    )
    assert (placement.kind, placement.outcome_class) == (
        PlacementKind.CDI,
        OutcomeClass.DURABLE_EMPLOYMENT,
    )
    assert placement.directed_to_employment
    assert placement.digital_sector
    assert (placement.starts_on, placement.employer) == (starts_on, "Atelier Numérique")

    due = [d for d in await orientation.follow_ups_due(context, None) if d.beneficiary_id == person]
    assert [(d.placement_id, d.months) for d in due] == [(placement.id, 3)]
    assert due[0].due_on > starts_on
    follow_up = await orientation.record_follow_up(context, placement.id, 3, True)
    assert (follow_up.placement_id, follow_up.months, follow_up.still_in_post) == (
        placement.id,
        3,
        True,
    )

    # The batch the Beneficiary type's orientation fields read, through the request's loader.
    stranger = str(uuid4())
    answer = await gateway.http.post(
        "/beneficiaries/records", json={"beneficiary_ids": [person, stranger]}
    )
    assert answer.status_code == 200, answer.text
    batch = RecordsOfPeople.model_validate(answer.json())
    assert batch.records[stranger] == orientation.NO_RECORDS
    assert batch.records[person].placements
    records = await context.loaders.orientation.load(person)
    assert records is not None
    assert [orientation.Workshop.of(w).id for w in records.workshops] == [workshop.id]
    assert records.interests is not None
    assert orientation.Interests.of(records.interests).job_families == ["M1805", "I1401"]
    assert [orientation.Referral.of(r).status for r in records.referrals] == ["refused"]
    shown = [orientation.Placement.of(p) for p in records.placements]
    assert [(p.id, p.employer) for p in shown] == [(placement.id, "Atelier Numérique")]
    assert [orientation.FollowUp.of(f).still_in_post for f in records.follow_ups] == [True]


async def test_the_pages_of_placements_and_referrals_keep_their_contract(
    gateway: Gateway,
) -> None:
    context = gateway.context
    people = [await gateway.enrol() for _ in range(3)]
    for person in people:
        await orientation.record_placement(
            context,
            orientation.RecordPlacementInput(
                beneficiary_id=strawberry.ID(person),
                kind=PlacementKind.APPRENTICESHIP,
                starts_on=date.today(),
            ),
        )
        await orientation.refer_beneficiary(
            context,
            orientation.ReferBeneficiaryInput(
                beneficiary_id=strawberry.ID(person), partner_kind=PartnerKind.MISSION_LOCALE
            ),
        )
    params = {"association_id": gateway.association_id, "first": "2"}
    placements = await gateway.http.get("/placements", params=params)
    assert Page[PlacementView].model_validate(placements.json()).total >= 3
    referrals = await gateway.http.get("/referrals", params=params)
    assert Page[ReferralView].model_validate(referrals.json()).has_next

    mine = orientation.PlacementFilter(
        association_id=strawberry.ID(gateway.association_id), kind=PlacementKind.APPRENTICESHIP
    )
    first = await orientation.placements_page(context, mine, 2, None)
    assert first.total_count == 3
    assert first.page_info.has_next_page
    rest = await orientation.placements_page(context, mine, 2, first.page_info.end_cursor)
    listed = [edge.node for edge in first.edges + rest.edges]
    assert sorted(p.beneficiary_id for p in listed) == sorted(people)
    assert {p.outcome_class for p in listed} == {OutcomeClass.POSITIVE_EXIT}

    open_ones = orientation.ReferralFilter(
        association_id=strawberry.ID(gateway.association_id),
        status=orientation.ReferralStatus.OPEN,
        partner_kind=PartnerKind.MISSION_LOCALE,
    )
    page = await orientation.referrals_page(context, open_ones, 10, None)
    assert page.total_count == 3
    assert sorted(edge.node.beneficiary_id for edge in page.edges) == sorted(people)
    assert {edge.node.status for edge in page.edges} == {"open"}
