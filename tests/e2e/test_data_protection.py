"""Personal data stays in registration, encrypted, and erasure really erases it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from bson import BSON
from pymongo import MongoClient

from contracts.topics import ALL_TOPICS
from dn.platform import Platform
from kit.settings import Settings
from tests.conftest import TestInfra
from tests.e2e.conftest import enrolment, graphql, until
from tests.support import read_all

pytestmark = pytest.mark.e2e

ERASE = """
mutation Erase($id: ID!) {
  eraseBeneficiary(id: $id) { id beneficiaryId erasedAt reason erased }
}"""
ENROL = """
mutation Enrol($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"""
BENEFICIARY = "query One($id: ID!) { beneficiary(id: $id) { id firstName } }"
FIGURES = "{ impact { enrolled byDistrict { districtId enrolled } byGender { gender enrolled } } }"


def person() -> dict[str, Any]:
    marker = uuid4().hex[:12]
    return enrolment(
        firstName=f"Prénom{marker}",
        lastName=f"Nom{marker}",
        phone=f"07 {uuid4().int % 10**8:08d}",
        email=f"personne.{marker}@example.org",
        street=f"{marker} rue des Tests",
        districtId="qpv-saige",
    )


def identifying_values(someone: dict[str, Any]) -> list[str]:
    return [
        someone["firstName"],
        someone["lastName"],
        someone["phone"],
        someone["email"],
        someone["street"],
    ]


def mongo_text(mongodb_url: str) -> str:
    """Every document of every database, as one searchable text (BSON decoded loosely)."""
    chunks = []
    with MongoClient(mongodb_url) as client:
        for name in client.list_database_names():
            if name in ("admin", "config", "local"):
                continue
            database = client[name]
            for collection in database.list_collection_names():
                for document in database[collection].find():
                    chunks.append(bytes(BSON.encode(document)).decode("latin-1"))
    return "\n".join(chunks)


async def kafka_text(bootstrap: str) -> str:
    """Every record's value and headers on every platform topic, as text."""
    chunks = []
    for topic in ALL_TOPICS:
        for record in await read_all(bootstrap, topic):
            chunks.append((record.value or b"").decode("utf-8", errors="replace"))
            chunks.extend(bytes(v).decode("utf-8", "replace") for _, v in record.headers or ())
    return "\n".join(chunks)


def files_text(home: Path) -> str:
    return "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for folder in ("logs", "traces")
        for path in (home / folder).glob("*")
        if path.is_file()
    )


async def test_erasure_leaves_nothing_readable_anywhere_and_figures_unchanged(
    gateway: httpx.Client, infra: TestInfra, settings: Settings, platform: Platform
) -> None:
    someone = person()
    values = identifying_values(someone)
    before = graphql(gateway, FIGURES).json()["data"]["impact"]
    enrolled = graphql(gateway, ENROL, input=someone).json()
    beneficiary_id = enrolled["data"]["enrolBeneficiary"]["id"]
    counted = until(
        lambda: graphql(gateway, FIGURES).json()["data"]["impact"],
        lambda f: f["enrolled"] == before["enrolled"] + 1,
    )
    assert counted["enrolled"] == before["enrolled"] + 1
    # Encrypted at rest even before erasure: no plaintext in any database.
    assert not [v for v in values if v in mongo_text(infra.mongodb_url)]

    receipt = graphql(gateway, ERASE, id=beneficiary_id).json()

    assert "errors" not in receipt, receipt
    assert receipt["data"]["eraseBeneficiary"]["beneficiaryId"] == beneficiary_id
    assert receipt["data"]["eraseBeneficiary"]["reason"] == "REQUEST_OF_PERSON"
    assert graphql(gateway, BENEFICIARY, id=beneficiary_id).json()["data"]["beneficiary"] is None
    # The erased event reaches reporting within milliseconds; its figures must not move.
    await asyncio.sleep(2.0)
    after = graphql(gateway, FIGURES).json()["data"]["impact"]
    assert after == counted
    found = {
        "mongodb": [v for v in values if v in mongo_text(infra.mongodb_url)],
        "kafka": [v for v in values if v in await kafka_text(infra.kafka_bootstrap)],
        "logs and traces": [v for v in values if v in files_text(settings.home)],
    }
    assert found == {"mongodb": [], "kafka": [], "logs and traces": []}
    with MongoClient(infra.mongodb_url) as client:
        registration = client["dn_registration"]
        assert registration["data_keys"].count_documents({"_id": beneficiary_id}) == 0
        tombstone = registration["beneficiaries"].find_one({"_id": beneficiary_id})
        assert tombstone is not None
        assert set(tombstone) == {"_id", "status", "association_id", "erased_at"}
        projection = client["dn_reporting"]
        active = projection["projection_versions"].find_one({"_id": "registry"})
        assert active is not None
        facts = projection[f"v{active['active']}_facts"]
        tombstone = facts.find_one({"_id": beneficiary_id})
        assert tombstone is not None
        # Only the temporary link to the re-keyed facts (for facts still in flight) remains.
        assert set(tombstone) == {"_id", "erased", "pseudonym", "link_expires_at"}
        rekeyed = facts.find_one({"_id": tombstone["pseudonym"]})
        assert rekeyed is not None
        assert rekeyed["enrolled"] is True


async def test_personal_data_never_reaches_events_logs_or_traces(
    gateway: httpx.Client, infra: TestInfra, settings: Settings
) -> None:
    someone = person()
    before = graphql(gateway, FIGURES).json()["data"]["impact"]["enrolled"]
    answer = graphql(gateway, ENROL, input=someone).json()
    beneficiary_id = answer["data"]["enrolBeneficiary"]["id"]
    read = graphql(gateway, BENEFICIARY, id=beneficiary_id).json()
    assert read["data"]["beneficiary"]["firstName"] == someone["firstName"]
    until(
        lambda: graphql(gateway, FIGURES).json()["data"]["impact"]["enrolled"],
        lambda enrolled: enrolled > before,
    )
    await asyncio.sleep(1.0)  # every process exports its spans every 100 ms in tests

    values = identifying_values(someone)
    assert [v for v in values if v in files_text(settings.home)] == []
    assert [v for v in values if v in await kafka_text(infra.kafka_bootstrap)] == []
    assert [v for v in values if v in mongo_text(infra.mongodb_url)] == []
