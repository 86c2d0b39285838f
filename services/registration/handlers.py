"""Registration's Kafka subscribers: partner requests from ``dn.intake.registration``.

A request is validated and applied with the same rules as the enrolment form (kit.intake takes
them in batches); one that cannot be applied is dead-lettered with the reason and counted
against its partner in the delivery log (kit.deliveries). Partners are identified by the
event's ``source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from contracts import topics
from contracts.catalogue import intake_types
from contracts.envelope import CloudEvent
from contracts.errors import Conflict, InvalidInput
from contracts.event import EventData
from contracts.intake import EnrolmentRequestedV1
from kit.audit import Actor, AuditLog, RecordKind
from kit.consumer import Rejected
from kit.mongo import Session
from kit.parking import Ref
from services.registration import domain
from services.registration.commands import PartnerEnrolment, Registration
from services.registration.store import RegistrationStore

GROUP_ID = "dn-registration-intake"
TOPICS = (topics.INTAKE_REGISTRATION,)
ACCEPTED_TYPES = intake_types(topics.INTAKE_REGISTRATION)
INTAKE_ROUTE = f"kafka {topics.INTAKE_REGISTRATION}"


def enrolment_request(data: EnrolmentRequestedV1) -> domain.EnrolmentRequest:
    return domain.EnrolmentRequest(
        association_id=data.association_id,
        district_id=data.district_id,
        personal=domain.PersonalData(
            first_name=data.first_name,
            last_name=data.last_name,
            phone=data.phone,
            email=data.email,
            street=data.street,
            postcode=data.postcode,
            insee_code=data.insee_code,
        ),
        birth_year=data.birth_year,
        gender=data.gender,
        tracks=tuple(data.tracks),
        employment_status=data.employment_status,
        consent=domain.Consent(**data.consent.model_dump()),
        qpv_resident=data.qpv_resident,
        enrolled_on=data.enrolled_on,
    )


class IntakeRules:
    """Enrolment requests (kit.intake): applied with the form's rules, once per ``ce_id``. An
    enrolment names nothing that must exist first, so nothing here waits."""

    accepted = ACCEPTED_TYPES

    def __init__(self, registration: Registration, audit: AuditLog) -> None:
        self.registration = registration
        self.audit = audit

    def creates(self, data: EventData) -> list[Ref]:
        return []

    async def known(self, refs: set[Ref]) -> set[Ref]:
        return set()

    async def apply(self, event: CloudEvent, data: EventData) -> bool:
        if await self.registration.store.applied_request(str(event.id)):
            return False  # a redelivery of a request already applied: neither new nor rejected
        assert isinstance(data, EnrolmentRequestedV1)
        partner = event.source
        try:
            beneficiary = await self.registration.enrol(
                enrolment_request(data),
                f"partner:{partner}",
                request_id=str(event.id),
                beneficiary_id=data.beneficiary_id,
            )
        except Conflict as conflict:
            raise Rejected("duplicate_beneficiary", str(conflict)) from conflict
        except InvalidInput as invalid:
            raise Rejected("invalid_request", str(invalid)) from invalid
        await self.audit.write(
            Actor.partner(partner),
            "enrol",
            RecordKind.BENEFICIARY,
            [str(beneficiary.id)],
            INTAKE_ROUTE,
        )
        return True

    async def apply_many(
        self, session: Session, requests: Sequence[tuple[CloudEvent, EventData]]
    ) -> list[bool | Rejected]:
        """A batch in the caller's transaction, decided together (a few reads, one write per
        collection): as :meth:`apply` one by one, in this order."""
        enrolments = []
        for event, data in requests:
            assert isinstance(data, EnrolmentRequestedV1)
            enrolments.append(
                PartnerEnrolment(
                    enrolment_request(data),
                    f"partner:{event.source}",
                    str(event.id),
                    data.beneficiary_id,
                )
            )
        decided = await self.registration.enrol_many(session, enrolments)
        outcomes: list[bool | Rejected] = []
        enrolled_by: dict[str, list[str]] = {}
        for (event, _), outcome in zip(requests, decided, strict=True):
            if outcome is None:
                outcomes.append(False)  # a redelivery of a request already applied
            elif isinstance(outcome, Conflict):
                outcomes.append(Rejected("duplicate_beneficiary", str(outcome)))
            elif isinstance(outcome, Exception):
                outcomes.append(Rejected("invalid_request", str(outcome)))
            else:
                outcomes.append(True)
                enrolled_by.setdefault(event.source, []).append(str(outcome.id))
        for partner, people in enrolled_by.items():
            await self.audit.write(
                Actor.partner(partner),
                "enrol",
                RecordKind.BENEFICIARY,
                people,
                INTAKE_ROUTE,
                session,
            )
        return outcomes


ACTIVITY_GROUP_ID = "dn-registration-activity"
ACTIVITY_TOPICS = (topics.TRAINING_EVENTS, topics.ORIENTATION_EVENTS)


class ActivityHandler:
    """Any training or orientation fact about a person is a contact: it postpones the
    retention deadline. Idempotent by nature (the later of two dates wins); a batch of events
    is one write."""

    def __init__(self, store: RegistrationStore) -> None:
        self.store = store

    async def __call__(self, events: list[CloudEvent]) -> None:
        contacts: dict[str, datetime] = {}
        for event in events:
            # Only the person's id is read (every training and orientation event passes here:
            # validating each one whole was most of this consumer's time); the services that
            # published them validated them, and an id no record has changes nothing.
            beneficiary_id = event.data.get("beneficiary_id")
            if isinstance(beneficiary_id, str) and beneficiary_id:
                contacts[beneficiary_id] = max(event.time, contacts.get(beneficiary_id, event.time))
        await self.store.touch_many(contacts)
