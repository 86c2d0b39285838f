"""Registration's store on the real MongoDB: enrolments and their duplicate index."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.errors import Conflict, InvalidInput
from kit.mongo import Document, Session, in_transaction
from services.registration import domain
from services.registration.commands import PartnerEnrolment, Registration
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


def request(first_name: str, phone: str | None, birth_year: int | None = 1990) -> Any:
    return domain.EnrolmentRequest(
        association_id="asso-lac-connecte",
        district_id="qpv-aubiers-lac",
        personal=domain.PersonalData(first_name, "Lot", phone=phone),
        birth_year=birth_year,
        gender=Gender.FEMALE,
        tracks=(Track.DIGITAL_INCLUSION,),
        employment_status=EmploymentStatus.REGISTERED_JOB_SEEKER,
        consent=domain.Consent(True, False, False),
    )


async def test_a_batch_of_partner_enrolments_is_decided_as_one_by_one(
    mongo: AsyncMongoClient[Document],
) -> None:
    """enrol_many (partner intake's batches): a duplicate inside the batch or of an earlier
    record, an invalid request and a redelivered one each get their own outcome, the others
    are stored with their events, in one transaction."""
    db = mongo[f"test_registration_{uuid4().hex[:8]}"]
    store = RegistrationStore(db, "dn/test", Vault(os.urandom(32)))
    await store.ensure_indexes()
    await store.load_reference_file()
    registration = Registration(store, lambda work: in_transaction(mongo, work))
    marker = uuid4().hex[:6]
    phone = f"06 11 {uuid4().int % 10**6:06d}"
    other_phone = f"07 22 {uuid4().int % 10**6:06d}"
    earlier = await registration.enrol(request(f"Avant{marker}", other_phone), "test")

    batch = [
        PartnerEnrolment(request(f"Une{marker}", phone), "partner:p", "ce-1"),
        PartnerEnrolment(request(f"Une{marker}", phone), "partner:p", "ce-2"),  # same person
        PartnerEnrolment(request(f"Deux{marker}", None, birth_year=1850), "partner:p", "ce-3"),
        PartnerEnrolment(request(f"Trois{marker}", None), "partner:p", "ce-4", earlier.id),
        PartnerEnrolment(request(f"Quatre{marker}", None), "partner:p", "ce-1"),  # redelivery
        PartnerEnrolment(request(f"Cinq{marker}", None, birth_year=None), "partner:p", "ce-5"),
    ]

    async def work(session: Session) -> list[Any]:
        return await registration.enrol_many(session, batch)

    outcomes = await in_transaction(mongo, work)

    first, again, invalid, taken_id, redelivered, last = outcomes
    assert isinstance(first, domain.Beneficiary)
    assert isinstance(again, Conflict)
    assert again.existing_id == str(first.id)
    assert isinstance(invalid, InvalidInput)
    assert not isinstance(invalid, Conflict)
    assert isinstance(taken_id, Conflict)
    assert taken_id.existing_id == str(earlier.id)
    assert redelivered is None
    assert isinstance(last, domain.Beneficiary)
    for stored in (first, last):
        found = await store.get(str(stored.id))
        assert found is not None
        assert found.personal.first_name == stored.personal.first_name
    assert await store.requests_applied(["ce-1", "ce-2", "ce-5"]) == {"ce-1", "ce-5"}
    events = await db["outbox"].count_documents({"type": "dn.registration.beneficiary_enrolled.v1"})
    assert events == 3, "the earlier enrolment and the two of the batch"
    await mongo.drop_database(db.name)
