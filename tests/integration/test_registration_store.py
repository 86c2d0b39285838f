"""Registration's store on the real MongoDB: enrolments and their duplicate index."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts.dimensions import EmploymentStatus, Gender, Track
from kit.mongo import Document, Session, in_transaction
from services.registration import domain
from services.registration.store import RegistrationStore
from services.registration.vault import Vault

pytestmark = pytest.mark.integration
ENROLLED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REFERENCE = domain.ReferenceData(
    districts={"qpv-saige": domain.District("qpv-saige", "Saige", "Pessac", "33318", "QN03304M")},
    associations={"asso": domain.Association("asso", "Asso", ("qpv-saige",))},
)


def someone(birth_year: int | None) -> domain.Beneficiary:
    return domain.enrol(
        domain.EnrolmentRequest(
            association_id="asso",
            district_id="qpv-saige",
            personal=domain.PersonalData("Awa", f"Sansclef{uuid4().hex[:6]}"),
            birth_year=birth_year,
            gender=Gender.FEMALE,
            tracks=(Track.DIGITAL_INCLUSION,),
            employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
            consent=domain.Consent(True, False, False),
        ),
        REFERENCE,
        beneficiary_id=uuid4(),
        now=ENROLLED,
    )


async def test_a_person_without_birth_year_phone_or_email_is_enrolled(
    mongo: AsyncMongoClient[Document],
) -> None:
    """Nothing identifies such a person for the duplicate check, which is no reason to refuse
    (a partner's enrolment of one was dead-lettered as processing_failed: an empty insert)."""
    store = RegistrationStore(
        mongo[f"test_registration_{uuid4().hex[:8]}"], "dn/test", Vault(os.urandom(32))
    )
    first, second = someone(birth_year=None), someone(birth_year=None)

    for beneficiary in (first, second):

        async def add(session: Session, beneficiary: domain.Beneficiary = beneficiary) -> None:
            await store.add(session, beneficiary, "test")

        await in_transaction(mongo, add)

    found = {str(b.id) for b in (first, second) if await store.get(str(b.id)) is not None}
    assert found == {str(first.id), str(second.id)}
    assert await store.duplicate_index.count_documents({}) == 0
