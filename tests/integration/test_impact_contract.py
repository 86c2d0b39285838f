"""Reporting's ``GET /impact`` answer keeps its contract (contracts.api.reporting) both ways a
reader gets it, exact and with small counts hidden, and the gateway reads it as the
dashboard's Impact: a field renamed on either side fails here, not on a dashboard."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts.api.registration import AssociationView, DistrictView
from contracts.api.reporting import ImpactAnswer
from gateway.reporting import impact_of
from kit.mongo import Document
from services.reporting import domain
from services.reporting.handlers import Freshness, ProjectionHandler
from services.reporting.impact_answers import anonymised, exact_answer
from services.reporting.store import Versions
from tests.integration.conftest import enrolment

pytestmark = pytest.mark.integration


async def test_the_impact_answer_keeps_its_contract_exact_and_anonymised(
    mongo: AsyncMongoClient[Document],
) -> None:
    versions = Versions(mongo[f"test_reporting_{uuid4().hex[:8]}"])
    store = await versions.active_store()
    handler = ProjectionHandler(mongo, versions)
    events = [enrolment("asso-big").to_event("dn/registration") for _ in range(7)]
    events += [enrolment("asso-small", "qpv-other").to_event("dn/registration") for _ in range(2)]
    await handler(events)

    exact = ImpactAnswer.model_validate(await exact_answer(store, domain.ALL, Freshness()))
    assert exact.enrolled == 9
    assert not exact.anonymised
    cells = {(cell.dimension, cell.value): cell for cell in exact.breakdowns}
    assert cells[("association", "asso-small")].enrolled == 2
    assert exact.freshness.last_event_time is not None

    hidden = ImpactAnswer.model_validate(
        anonymised(await exact_answer(store, domain.ALL, Freshness())).model_dump(mode="json")
    )
    assert hidden.anonymised
    small = {(c.dimension, c.value): c for c in hidden.breakdowns}[("association", "asso-small")]
    assert small.enrolled is None
    assert small.suppressed, "a hidden count says what to show in its place"

    saige = DistrictView(
        id="qpv-saige", name="Saige", commune="Pessac", insee_code="33318", qpv_code="QN03304M"
    )
    districts = [saige]
    big = AssociationView(
        id="asso-big", name="Asso Big", districts=["qpv-saige"], rna=None, siret=None, contact=None
    )
    impact = impact_of(exact, districts, [big])
    assert impact.enrolled == 9
    by_association = {a.association_id: a for a in impact.by_association}
    assert by_association["asso-big"].name == "Asso Big"
    assert by_association["asso-big"].enrolled == 7
    assert [d.name for d in impact.by_district if d.district_id == "qpv-saige"] == ["Saige"]
    shown = impact_of(hidden, districts, [])
    assert shown.anonymised
    assert shown.suppressed or any(a.suppressed for a in shown.by_association)
