"""Activity elsewhere counts as contact for the retention rule (real MongoDB)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts.dimensions import EmploymentStatus, Gender, Track
from kit.mongo import Document, Session, in_transaction
from services.registration import domain
from services.registration.store import RegistrationStore
from services.registration.vault import Vault

pytestmark = pytest.mark.integration
ENROLLED = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)
REFERENCE = domain.ReferenceData(
    districts={"qpv-saige": domain.District("qpv-saige", "Saige", "Pessac", "33318", "QN03304M")},
    associations={"asso": domain.Association("asso", "Asso", ("qpv-saige",))},
)


async def test_activity_moves_the_last_contact_forward_only(
    mongo: AsyncMongoClient[Document],
) -> None:
    store = RegistrationStore(
        mongo[f"test_registration_{uuid4().hex[:8]}"], "dn/test", Vault(os.urandom(32))
    )
    beneficiary = domain.enrol(
        domain.EnrolmentRequest(
            association_id="asso",
            district_id="qpv-saige",
            personal=domain.PersonalData("Lina", f"Contact{uuid4().hex[:6]}"),
            birth_year=1990,
            gender=Gender.FEMALE,
            tracks=(Track.DIGITAL_INCLUSION,),
            employment_status=EmploymentStatus.EMPLOYED,
            consent=domain.Consent(True, False, False),
        ),
        REFERENCE,
        beneficiary_id=uuid4(),
        now=ENROLLED,
    )

    async def add(session: Session) -> None:
        await store.add(session, beneficiary, "test")

    await in_transaction(mongo, add)
    beneficiary_id = str(beneficiary.id)
    later = ENROLLED + timedelta(days=400)

    await store.touch(beneficiary_id, later)
    await store.touch(beneficiary_id, ENROLLED + timedelta(days=10))  # an older event, late

    contacts = await store.last_contacts()
    assert contacts[beneficiary_id] == later
    now = ENROLLED + timedelta(days=800)
    assert domain.due_for_retention(contacts, now) == [], "400 days ago is within 730 days"
