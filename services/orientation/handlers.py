"""Orientation's Kafka subscribers: registration's events (the facts orientation keeps about
each person) and partner requests from ``dn.intake.orientation``.

Registration's events are applied once per ``ce_id``; a partner request that cannot be applied
is dead-lettered with the reason (``unknown_beneficiary``, ``invalid_request``,
``duplicate_placement``, or the envelope's own reason).
"""

from __future__ import annotations

from contracts import topics
from contracts.catalogue import decode, intake_types
from contracts.envelope import CloudEvent
from contracts.errors import Conflict, InvalidInput, NotFound
from contracts.event import EventData
from contracts.orientation import PlacementReportedV1
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    ConsentChangedV1,
    ConsentPurpose,
)
from kit.consumer import IdempotentConsumer, Rejected
from kit.mongo import Session
from services.orientation.commands import Orientation
from services.orientation.domain import PersonStatus, PlacementRequest
from services.orientation.store import OrientationStore

BENEFICIARIES_GROUP_ID = "dn-orientation-beneficiaries"
BENEFICIARIES_TOPICS = (topics.REGISTRATION_EVENTS,)
INTAKE_GROUP_ID = "dn-orientation-intake"
INTAKE_TOPICS = (topics.INTAKE_ORIENTATION,)
ACCEPTED_REQUESTS = intake_types(topics.INTAKE_ORIENTATION)
# Registration's events that change what orientation knows; the others are not its business.
FOLLOWED = (
    BeneficiaryEnrolledV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    BeneficiariesMergedV1,
    BeneficiaryErasedV1,
    ConsentChangedV1,
)


class BeneficiaryHandler:
    """Keeps each person's association, status and consent to share with partners."""

    def __init__(self, store: OrientationStore, consumer: IdempotentConsumer) -> None:
        self.store = store
        self.consumer = consumer

    async def __call__(self, event: CloudEvent) -> bool:
        data = decode(event)
        if not isinstance(data, FOLLOWED):
            return False

        async def effect(_: CloudEvent, session: Session) -> None:
            await self.apply(session, data)

        return await self.consumer.apply(event, effect)

    async def apply(self, session: Session, data: EventData) -> None:
        store = self.store
        if isinstance(data, BeneficiariesMergedV1):
            await store.merge(session, str(data.beneficiary_id), str(data.merged_id))
            return
        beneficiary_id = str(getattr(data, "beneficiary_id", ""))
        if await store.is_erased(session, beneficiary_id):
            return  # a late event about someone erased: nothing to link it to
        if isinstance(data, BeneficiaryEnrolledV1):
            await store.enrol(
                session, beneficiary_id, data.association_id, data.shares_with_partners
            )
        elif isinstance(data, BeneficiaryUpdatedV1):
            await store.update_person(session, beneficiary_id, association_id=data.association_id)
        elif isinstance(data, BeneficiaryWithdrawnV1):
            await store.update_person(session, beneficiary_id, status=PersonStatus.WITHDRAWN.value)
        elif isinstance(data, ConsentChangedV1):
            if data.purpose is ConsentPurpose.SHARE_WITH_PARTNERS:
                await store.update_person(session, beneficiary_id, shares_with_partners=data.given)
        elif isinstance(data, BeneficiaryErasedV1):
            await store.erase(session, beneficiary_id)


def placement_request(data: PlacementReportedV1) -> PlacementRequest:
    return PlacementRequest(
        beneficiary_id=str(data.beneficiary_id),
        kind=data.kind,
        starts_on=data.starts_on,
        digital_sector=data.digital_sector,
        employer=data.employer,
        partner_reference=data.partner_reference,
    )


class IntakeHandler:
    """Applies a partner's placement report with the same rules as the placement form, once."""

    def __init__(self, orientation: Orientation) -> None:
        self.orientation = orientation

    async def __call__(self, event: CloudEvent) -> None:
        if await self.orientation.store.applied_request(str(event.id)):
            return  # a redelivery of a request already applied
        data = decode(event, ACCEPTED_REQUESTS)
        assert isinstance(data, PlacementReportedV1)
        try:
            await self.orientation.record_placement(
                placement_request(data), None, request_id=str(event.id)
            )
        except NotFound as unknown:
            raise Rejected("unknown_beneficiary", str(unknown)) from unknown
        except Conflict as duplicate:
            raise Rejected("duplicate_placement", str(duplicate)) from duplicate
        except InvalidInput as invalid:
            raise Rejected("invalid_request", str(invalid)) from invalid
