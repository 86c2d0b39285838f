"""Retention through GraphQL on the running platform: people whose last contact is older than
the retention period (730 days) are listed by the dry run, exactly them; applying anonymises
exactly them, leaves everyone else untouched, and moves no reporting figure.

The last contact is set directly in registration's database (test setup: nobody waits two
years); everything else goes through the gateway as a coordinator would."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from dn.platform import Platform
from kit.mongo import Document
from kit.settings import Settings
from tests.e2e.conftest import enrolment, graphql, settled_enrolled, until
from tests.support import graphql_data as data

pytestmark = pytest.mark.e2e

ENROL = """
mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id firstName } }"""
READ = "query R($id: ID!) { beneficiary(id: $id) { id firstName lastContactAt status } }"
RETENTION = """
mutation Retention($dryRun: Boolean!) {
  runRetention(dryRun: $dryRun) { dryRun olderThanDays beneficiaryIds } }"""
RECEIPT = "query Receipt($id: ID!) { erasureReceipt(beneficiaryId: $id) { reason requestedBy } }"
AUDIT = "query A($id: ID!) { auditLog(beneficiaryId: $id) { service action record route } }"
CELLS = "enrolled trained directedToEmployment"
FIGURES = f"""{{ impact {{ {CELLS} withdrawn
  byDistrict {{ districtId {CELLS} }} byAssociation {{ associationId {CELLS} }}
  byGender {{ gender {CELLS} }} byAgeBand {{ ageBand {CELLS} }} byTrack {{ track {CELLS} }}
  cohorts {{ {CELLS} }} }} }}"""
LONG_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)


@pytest.fixture(scope="module")
def registration_db(platform: Platform, settings: Settings) -> Iterator[Any]:
    with MongoClient[Document](platform.mongodb_url, tz_aware=True) as client:
        yield client[f"{settings.database_prefix}registration"]


def figures(gateway: httpx.Client) -> dict[str, Any]:
    impact: dict[str, Any] = data(graphql(gateway, FIGURES))["impact"]
    return impact


def read(gateway: httpx.Client, beneficiary_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = data(graphql(gateway, READ, id=beneficiary_id))["beneficiary"]
    return found


def retention(gateway: httpx.Client, *, dry_run: bool) -> dict[str, Any]:
    run: dict[str, Any] = data(graphql(gateway, RETENTION, dryRun=dry_run))["runRetention"]
    return run


def test_retention_lists_then_anonymises_exactly_the_people_without_contact_for_730_days(
    gateway: httpx.Client, registration_db: Any
) -> None:
    people = [
        data(graphql(gateway, ENROL, input=enrolment()))["enrolBeneficiary"] for _ in range(5)
    ]
    old, recent = [p["id"] for p in people[:3]], [p["id"] for p in people[3:]]
    before_enrolled = settled_enrolled(gateway)
    before = until(lambda: figures(gateway), lambda f: f["enrolled"] == before_enrolled)
    registration_db.beneficiaries.update_many(
        {"_id": {"$in": old}}, {"$set": {"last_contact_at": LONG_AGO}}
    )
    recent_before = [read(gateway, i) for i in recent]

    dry = retention(gateway, dry_run=True)

    assert (dry["dryRun"], dry["olderThanDays"]) == (True, 730)
    assert sorted(dry["beneficiaryIds"]) == sorted(old), "the dry run lists exactly them"
    assert all(read(gateway, i) is not None for i in old), "a dry run changes nothing"

    applied = retention(gateway, dry_run=False)
    erased_at = time.monotonic()

    assert sorted(applied["beneficiaryIds"]) == sorted(old)
    assert [read(gateway, i) for i in old] == [None] * 3, "their personal data is gone"
    for beneficiary_id in old:
        receipt = data(graphql(gateway, RECEIPT, id=beneficiary_id))["erasureReceipt"]
        assert receipt["reason"] == "RETENTION"
        entries = data(graphql(gateway, AUDIT, id=beneficiary_id))["auditLog"]
        assert {"service": "registration", "action": "erase", "record": "BENEFICIARY",
                "route": "POST /retention"} in entries  # fmt: skip
    assert [read(gateway, i) for i in recent] == recent_before, "the others are untouched"
    tombstones = list(registration_db.beneficiaries.find({"_id": {"$in": old}}))
    assert {doc["status"] for doc in tombstones} == {"erased"}
    stored = json.dumps(tombstones, default=str)
    assert not any(p["firstName"] in stored for p in people[:3])
    assert retention(gateway, dry_run=True)["beneficiaryIds"] == [], "nobody is due any more"
    # Erasure reaches reporting within ~0.1 s; it re-keys the facts, the figures stay.
    time.sleep(max(0.0, 2.0 - (time.monotonic() - erased_at)))
    settled_enrolled(gateway)
    assert figures(gateway) == before, "reporting figures unchanged"
