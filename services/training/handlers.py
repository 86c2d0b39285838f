"""Training's Kafka subscribers: registration's facts about beneficiaries (ids and status
only) from ``dn.registration.events``, and partners' attendance reports from
``dn.intake.training``.

Both apply each event once (its ``ce_id`` is recorded in the transaction of its effect). An
attendance report that cannot be applied is dead-lettered with a reason: ``unknown_session``,
``unknown_beneficiary``, ``merged_beneficiary``, ``conflicting_attendance`` or
``invalid_request``; an identical resend of an applied report changes nothing.
"""

from __future__ import annotations

from contracts import catalogue, topics
from contracts.envelope import CloudEvent
from contracts.errors import Conflict, InvalidInput, NotFound
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
)
from contracts.training import AttendanceReportedV1
from kit.consumer import IdempotentConsumer, Rejected
from kit.mongo import Session
from services.training.commands import Training
from services.training.domain import AttendanceMark, RefusedBeneficiary

BENEFICIARIES_GROUP_ID = "dn-training-beneficiaries"
BENEFICIARIES_TOPICS = (topics.REGISTRATION_EVENTS,)
INTAKE_GROUP_ID = "dn-training-intake"
INTAKE_TOPICS = (topics.INTAKE_TRAINING,)
ACCEPTED_REQUESTS = catalogue.intake_types(topics.INTAKE_TRAINING)


class BeneficiaryHandler:
    """Keeps training's copy of who is enrolled where, and honours merges and erasures."""

    def __init__(self, training: Training, consumer: IdempotentConsumer) -> None:
        self.training = training
        self.consumer = consumer

    async def __call__(self, event: CloudEvent) -> bool:
        data = catalogue.decode(event)
        training = self.training

        async def effect(_: CloudEvent, session: Session) -> None:
            if isinstance(data, BeneficiaryEnrolledV1 | BeneficiaryUpdatedV1):
                await training.beneficiary_enrolled(
                    session, str(data.beneficiary_id), data.association_id
                )
            elif isinstance(data, BeneficiaryWithdrawnV1):
                await training.beneficiary_withdrawn(session, str(data.beneficiary_id))
            elif isinstance(data, BeneficiariesMergedV1):
                await training.beneficiaries_merged(
                    session, str(data.beneficiary_id), str(data.merged_id)
                )
            elif isinstance(data, BeneficiaryErasedV1):
                await training.beneficiary_erased(session, str(data.beneficiary_id))

        if not isinstance(
            data,
            BeneficiaryEnrolledV1
            | BeneficiaryUpdatedV1
            | BeneficiaryWithdrawnV1
            | BeneficiariesMergedV1
            | BeneficiaryErasedV1,
        ):
            return False  # districts, associations, consent: not training's concern
        return await self.consumer.apply(event, effect)


class IntakeHandler:
    """Applies partners' attendance reports with the same rules as the attendance form."""

    def __init__(self, training: Training, consumer: IdempotentConsumer) -> None:
        self.training = training
        self.consumer = consumer

    async def __call__(self, event: CloudEvent) -> bool:
        data = catalogue.decode(event, ACCEPTED_REQUESTS)
        assert isinstance(data, AttendanceReportedV1)
        mark = AttendanceMark(data.beneficiary_id, data.status, data.minutes)

        async def effect(_: CloudEvent, session: Session) -> None:
            try:
                await self.training.record_attendance_in(session, data.session_id, mark)
            except NotFound as missing:
                raise Rejected("unknown_session", f"sessionId: {missing}") from missing
            except RefusedBeneficiary as refused:
                raise Rejected(refused.reason, str(refused)) from refused
            except Conflict as conflict:
                raise Rejected("conflicting_attendance", str(conflict)) from conflict
            except InvalidInput as invalid:
                raise Rejected("invalid_request", str(invalid)) from invalid

        return await self.consumer.apply(event, effect)
