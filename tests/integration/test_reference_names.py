"""District and association names reach reporting as events, never over HTTP: registration
announces every seeded or edited place once, and reporting keeps the names its projection read
(per version, so a rebuild has them too) for the exports."""

from __future__ import annotations

import json
import os
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.registration import AssociationUpsertedV1, DistrictUpsertedV1
from kit import outbox
from kit.mongo import Document, in_transaction
from services.registration.domain import District
from services.registration.store import REFERENCE_FILE, RegistrationStore
from services.registration.vault import Vault
from services.reporting.handlers import ProjectionHandler
from services.reporting.store import Names, Versions

pytestmark = pytest.mark.integration

ANNOUNCEMENTS = {DistrictUpsertedV1.event_type, AssociationUpsertedV1.event_type}


async def announcements(db: AsyncDatabase[Document]) -> list[str]:
    """The places announced so far (the outbox's records of those events), by id."""
    found = db[outbox.COLLECTION].find({"type": {"$in": sorted(ANNOUNCEMENTS)}})
    return sorted([document["key"] async for document in found])


async def test_the_seeded_places_are_announced_once_and_an_edit_announces_itself(
    mongo: AsyncMongoClient[Document],
) -> None:
    db = mongo[f"test_registration_{uuid4().hex[:8]}"]
    store = RegistrationStore(db, "dn/test", Vault(os.urandom(32)))
    await store.ensure_indexes()
    shipped = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    expected = sorted(row["id"] for kind in ("districts", "associations") for row in shipped[kind])
    assert expected

    await store.load_reference_file()
    assert await announcements(db) == expected, "each shipped place, once"
    await store.load_reference_file()  # the next start
    assert await announcements(db) == expected, "nothing announced twice"

    saige = (await store.reference()).districts["qpv-saige"]
    renamed = District(saige.id, "Saige (Pessac)", saige.commune, saige.insee_code, saige.qpv_code)
    await in_transaction(mongo, lambda session: store.save_district(session, renamed))
    await store.load_reference_file()
    assert (await announcements(db)).count("qpv-saige") == 2, "the edit, and nothing more"


async def test_reporting_keeps_the_latest_name_of_each_place_from_the_events(
    mongo: AsyncMongoClient[Document],
) -> None:
    versions = Versions(mongo[f"test_reporting_{uuid4().hex[:8]}"])
    store = await versions.active_store()
    handler = ProjectionHandler(mongo, versions)
    assert await store.reference_names() == Names()

    events = [
        DistrictUpsertedV1(
            district_id="qpv-saige", name=name, commune="Pessac", insee_code="33318",
            qpv_code="QN03306M",
        ).to_event("dn/registration")
        for name in ("Saige", "Saige (Pessac)")
    ] + [
        AssociationUpsertedV1(
            association_id="asso-x", name="Asso X", districts=["qpv-saige"]
        ).to_event("dn/registration")
    ]  # fmt: skip
    await handler(events)
    names = await store.reference_names()
    assert names.districts == {"qpv-saige": "Saige (Pessac)"}
    assert names.associations == {"asso-x": "Asso X"}
    assert names.name_all([("district", "qpv-saige"), ("gender", "female")])
    assert not names.name_all([("association", "asso-unheard-of")])
