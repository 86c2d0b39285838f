"""Activity elsewhere counts as contact for the retention rule (real MongoDB)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.orientation import InterestRecordedV1
from kit.mongo import Document, Session, in_transaction
from services.registration import domain
from services.registration.handlers import ActivityHandler
from services.registration.store import RegistrationStore
from services.registration.vault import Vault

pytestmark = pytest.mark.integration
ENROLLED = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)
REFERENCE = domain.ReferenceData(
    districts={"qpv-saige": domain.District("qpv-saige", "Saige", "Pessac", "33318", "QN03304M")},
    associations={"asso": domain.Association("asso", "Asso", ("qpv-saige",))},
)


async def enrolled(mongo: AsyncMongoClient[Document]) -> tuple[RegistrationStore, str]:
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
    return store, str(beneficiary.id)


async def test_activity_moves_the_last_contact_forward_only(
    mongo: AsyncMongoClient[Document],
) -> None:
    store, beneficiary_id = await enrolled(mongo)
    later = ENROLLED + timedelta(days=400)

    await store.touch(beneficiary_id, later)
    await store.touch(beneficiary_id, ENROLLED + timedelta(days=10))  # an older event, late

    contacts = await store.last_contacts()
    assert contacts[beneficiary_id] == later
    now = ENROLLED + timedelta(days=800)
    assert domain.due_for_retention(contacts, now) == [], "400 days ago is within 730 days"


async def test_training_and_orientation_events_about_a_person_are_contacts(
    mongo: AsyncMongoClient[Document],
) -> None:
    """What the activity consumer reads of each event: the person it is about and its time;
    an event about nobody, or about someone registration does not hold, changes nothing."""
    store, beneficiary_id = await enrolled(mongo)
    interests = InterestRecordedV1(
        beneficiary_id=UUID(beneficiary_id), job_families=["M18"], recorded_at=ENROLLED
    )
    first = interests.to_event("dn/orientation", time=ENROLLED + timedelta(days=30))
    latest = interests.to_event("dn/orientation", time=ENROLLED + timedelta(days=90))
    stranger = InterestRecordedV1(
        beneficiary_id=uuid4(), job_families=["M18"], recorded_at=ENROLLED
    )
    about_nobody = first.model_copy(update={"data": {"job_families": ["M18"]}})

    await ActivityHandler(store)(
        [latest, first, stranger.to_event("dn/orientation", time=ENROLLED), about_nobody]
    )

    assert await store.last_contacts() == {beneficiary_id: ENROLLED + timedelta(days=90)}
