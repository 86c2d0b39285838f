"""Registration's Kafka subscribers: partner requests from ``dn.intake.registration``.

A request is validated and applied with the same rules as the enrolment form; one that cannot
be applied is dead-lettered with the reason and counted against its partner in the delivery
log. Partners are identified by the event's ``source``.
"""

from __future__ import annotations

from contracts import topics
from contracts.catalogue import decode, intake_types
from contracts.envelope import CloudEvent, EnvelopeError
from contracts.errors import Conflict, InvalidInput
from contracts.intake import EnrolmentRequestedV1
from kit.audit import Actor, AuditLog, RecordKind
from kit.consumer import Rejected
from services.registration import domain
from services.registration.commands import Registration
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


class IntakeHandler:
    def __init__(self, registration: Registration, audit: AuditLog) -> None:
        self.registration = registration
        self.audit = audit

    async def __call__(self, event: CloudEvent) -> None:
        partner = event.source
        if await self.registration.store.applied_request(str(event.id)):
            return  # a redelivery of a request already applied: neither new nor rejected
        try:
            data = decode(event, ACCEPTED_TYPES)
            assert isinstance(data, EnrolmentRequestedV1)
            beneficiary = await self.registration.enrol(
                enrolment_request(data),
                f"partner:{partner}",
                request_id=str(event.id),
                beneficiary_id=data.beneficiary_id,
            )
        except Conflict as conflict:
            await self._reject(partner, "duplicate_beneficiary", str(conflict))
        except InvalidInput as invalid:
            await self._reject(partner, "invalid_request", str(invalid))
        except EnvelopeError as error:
            await self._reject(partner, error.reason, error.detail)
        await self.audit.write(
            Actor.partner(partner),
            "enrol",
            RecordKind.BENEFICIARY,
            [str(beneficiary.id)],
            INTAKE_ROUTE,
        )
        await self.registration.store.record_delivery(partner, accepted=True, error=None)

    async def _reject(self, partner: str, reason: str, detail: str) -> None:
        await self.registration.store.record_delivery(
            partner, accepted=False, error=f"{reason}: {detail}"
        )
        raise Rejected(reason, detail)


ACTIVITY_GROUP_ID = "dn-registration-activity"
ACTIVITY_TOPICS = (topics.TRAINING_EVENTS, topics.ORIENTATION_EVENTS)


class ActivityHandler:
    """Any training or orientation fact about a person is a contact: it postpones the
    retention deadline. Idempotent by nature (the later of two dates wins)."""

    def __init__(self, store: RegistrationStore) -> None:
        self.store = store

    async def __call__(self, event: CloudEvent) -> None:
        beneficiary_id = getattr(decode(event), "beneficiary_id", None)
        if beneficiary_id is not None:
            await self.store.touch(str(beneficiary_id), event.time)
