"""A batch carrying a district or association saved in registration tells the gateway to read
the names again (contracts.impact_changes.NAMES); other batches name only their scopes."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts import catalogue
from contracts.impact_changes import NAMES
from contracts.registration import DistrictUpsertedV1
from kit.mongo import Document
from services.reporting.handlers import ProjectionHandler
from services.reporting.store import Versions
from tests.integration.conftest import enrolment

pytestmark = pytest.mark.integration


async def test_a_saved_district_is_a_names_notice_and_an_enrolment_is_not(
    mongo: AsyncMongoClient[Document],
) -> None:
    versions = Versions(mongo[f"test_reporting_{uuid4().hex[:8]}"])
    store = await versions.active_store()
    await store.ensure_indexes()
    handler = ProjectionHandler(mongo, versions)
    version = (await versions.current()).active

    enrolled = enrolment("assoc-names").to_event("dn/registration")
    result = await handler.apply(version, [(enrolled, catalogue.decode(enrolled))])
    assert result.scopes  # its figures moved…
    assert NAMES not in result.scopes  # …and no name did

    saved = DistrictUpsertedV1(
        district_id="qpv-saige", name="Saige", commune="Pessac", insee_code="33318",
        qpv_code="QN03306M",
    ).to_event("dn/registration")  # fmt: skip
    result = await handler.apply(version, [(saved, catalogue.decode(saved))])
    assert result.scopes == {NAMES}
