"""The scheduled retention job on real MongoDB: with a short period (DN_RETENTION_CHECK_S) it
runs on its schedule, anonymises exactly the people whose last contact is older than the
retention period, leaves the others alone, and says so in the access log."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts.dimensions import EmploymentStatus, Gender, Track
from kit.audit import AuditLog, RecordKind
from kit.mongo import Document, in_transaction
from kit.settings import Settings
from services.registration import domain, retention
from services.registration.commands import Registration
from services.registration.domain import Status
from services.registration.store import RegistrationStore
from services.registration.vault import Vault
from tests.support import eventually

pytestmark = pytest.mark.integration
CHECK_S = 0.5
LONG_AGO = datetime.now(UTC) - timedelta(days=800)  # past the default 730 days


@dataclass
class Bed:
    registration: Registration
    store: RegistrationStore
    audit: AuditLog

    async def enrol(self) -> str:
        request = domain.EnrolmentRequest(
            association_id="asso-saige-en-ligne",
            district_id="qpv-saige",
            personal=domain.PersonalData("Camille", f"Retention{uuid4().hex[:8]}"),
            birth_year=1988,
            gender=Gender.FEMALE,
            tracks=(Track.DIGITAL_INCLUSION,),
            employment_status=EmploymentStatus.EMPLOYED,
            consent=domain.Consent(True, False, False),
        )
        return str((await self.registration.enrol(request, "test")).id)

    async def last_contact_long_ago(self, beneficiary_id: str) -> None:
        """Test setup: the stored last contact, set directly (as years without contact would)."""
        await self.store.beneficiaries.update_one(
            {"_id": beneficiary_id}, {"$set": {"last_contact_at": LONG_AGO}}
        )

    async def statuses(self, *beneficiary_ids: str) -> list[Status | None]:
        return [await self.store.status_of(i) for i in beneficiary_ids]


@pytest.fixture
async def bed(mongo: AsyncMongoClient[Document]) -> AsyncIterator[Bed]:
    db = mongo[f"test_retention_{uuid4().hex[:8]}"]
    store = RegistrationStore(db, "dn/test", Vault(os.urandom(32)))
    await store.ensure_indexes()
    await store.load_reference_file()
    audit = AuditLog(db, "registration")
    await audit.ensure_indexes()
    yield Bed(Registration(store, lambda work: in_transaction(mongo, work)), store, audit)
    await mongo.drop_database(db.name)


async def test_the_job_anonymises_exactly_the_people_past_retention_on_its_schedule(
    bed: Bed,
) -> None:
    old = [await bed.enrol() for _ in range(2)]
    recent = await bed.enrol()
    for beneficiary_id in old:
        await bed.last_contact_long_ago(beneficiary_id)
    settings = Settings(retention_check_s=CHECK_S)
    assert settings.retention_check_interval == timedelta(seconds=CHECK_S)

    job = asyncio.create_task(retention.run_as_configured(bed.registration, bed.audit, settings))
    try:
        await asyncio.sleep(CHECK_S / 5)
        assert await bed.statuses(*old) == [Status.ACTIVE] * 2, "the first run waits one period"
        await eventually(
            lambda: bed.statuses(*old),
            lambda found: found == [Status.ERASED] * 2,
            timeout_s=10,
            what="the old records erased",
        )
        assert await bed.statuses(recent) == [Status.ACTIVE]
        opened = await bed.store.get(recent)
        assert opened is not None, "the recent record keeps its personal data"

        # Still running: someone who becomes due later is anonymised at a later run.
        await bed.last_contact_long_ago(recent)
        await eventually(
            lambda: bed.statuses(recent),
            lambda found: found == [Status.ERASED],
            timeout_s=10,
            what="the next run",
        )
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)

    for beneficiary_id in (*old, recent):
        receipt = await bed.store.erasure_receipt(beneficiary_id)
        assert receipt is not None
        assert (receipt["reason"], receipt["requested_by"]) == ("retention", "retention-job")
        assert await bed.store.get(beneficiary_id) is None
        [entry] = await bed.audit.entries(beneficiary_id, None)
        assert (entry.actor, entry.role, entry.action, entry.record, entry.route) == (
            "retention-job",
            "system",
            "erase",
            RecordKind.BENEFICIARY,
            "job retention",
        )


def test_the_check_interval_defaults_to_hours_and_seconds_override_it() -> None:
    assert Settings(retention_check_hours=24).retention_check_interval == timedelta(hours=24)
    assert Settings(retention_check_hours=24, retention_check_s=2).retention_check_interval == (
        timedelta(seconds=2)
    )
