"""Orientation's Kafka subscribers: registration's events (the facts orientation keeps about
each person) and partner requests from ``dn.intake.orientation``.

Registration's events are applied once per ``ce_id``, and so are partner requests (workshops,
interests, referrals and their resolution, placements, follow-ups: each through the same use
case as its form, the ce_id recorded in the transaction of its effect). A request naming a
person, referral or placement orientation does not know yet waits for it (kit.parking: applied
when it arrives; ``unknown_beneficiary`` / ``unknown_referral`` / ``unknown_placement`` only
after ``DN_PARKED_MAX_WAIT_S``, or at once for an erased one). Otherwise a partner request that
cannot be applied is dead-lettered with the reason: ``no_consent`` (a referral without consent to
share with partners), ``duplicate_placement``, ``conflicting_request`` (the person left the
programme, the referral is already resolved, the follow-up is already recorded),
``invalid_request``, or the envelope's own reason. An applied request is in the access log
(``kit.audit``) with the partner as actor, for each person it concerns.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import topics
from contracts.catalogue import decode, intake_types
from contracts.envelope import CloudEvent
from contracts.errors import Conflict, InvalidInput, NotFound
from contracts.event import EventData
from contracts.orientation import (
    FollowUpReportedV1,
    InterestsReportedV1,
    PlacementReportedV1,
    ReferralRequestedV1,
    ReferralResolutionReportedV1,
    WorkshopReportedV1,
)
from contracts.registration import (
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    ConsentChangedV1,
    ConsentPurpose,
)
from kit.audit import Action, Actor, AuditLog, RecordKind
from kit.consumer import IdempotentConsumer, Rejected, apply_batch
from kit.intake import known_ids, named_refs
from kit.mongo import Session
from kit.parking import Parking, Ref, Waiting, ref
from services.orientation.commands import Orientation
from services.orientation.domain import (
    ConsentMissing,
    PersonStatus,
    PlacementRequest,
    UnknownParticipants,
    WorkshopRequest,
)
from services.orientation.store import OrientationStore

BENEFICIARIES_GROUP_ID = "dn-orientation-beneficiaries"
BENEFICIARIES_TOPICS = (topics.REGISTRATION_EVENTS,)
INTAKE_GROUP_ID = "dn-orientation-intake"
INTAKE_TOPICS = (topics.INTAKE_ORIENTATION,)
ACCEPTED_REQUESTS = intake_types(topics.INTAKE_ORIENTATION)
INTAKE_ROUTE = f"kafka {topics.INTAKE_ORIENTATION}"
# What each request records or changes about a person (the access log).
AUDITED_AS: dict[type[EventData], tuple[Action, RecordKind]] = {
    PlacementReportedV1: (Action.RECORD, RecordKind.PLACEMENT),
    WorkshopReportedV1: (Action.RECORD, RecordKind.WORKSHOP),
    InterestsReportedV1: (Action.CHANGE, RecordKind.INTEREST),
    ReferralRequestedV1: (Action.RECORD, RecordKind.REFERRAL),
    ReferralResolutionReportedV1: (Action.CHANGE, RecordKind.REFERRAL),
    FollowUpReportedV1: (Action.RECORD, RecordKind.FOLLOW_UP),
}
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

    def __init__(
        self, store: OrientationStore, consumer: IdempotentConsumer, parking: Parking | None = None
    ) -> None:
        self.store = store
        self.consumer = consumer
        self.parking = parking

    async def __call__(self, event: CloudEvent) -> bool:
        data = decode(event)
        if not isinstance(data, FOLLOWED):
            return False
        if isinstance(data, BeneficiaryErasedV1) and self.parking is not None:
            # What partners sent about the person and still waits goes with them.
            await self.parking.drop_about(ref("beneficiary", data.beneficiary_id))

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

    async def many(self, events: list[CloudEvent]) -> None:
        """A batch in one transaction: runs of enrolments (nearly all of what registration
        says) in one write, the rest one by one."""

        await apply_batch(self.consumer.client, events, decode, _enrolment, self._enrolments, self)

    async def _enrolments(self, session: Session, run: list[tuple[CloudEvent, EventData]]) -> None:
        fresh = [
            (event, data)
            for event, data in await self.consumer.fresh(run, session)
            if isinstance(data, BeneficiaryEnrolledV1)
        ]
        await self.store.enrol_many(
            session,
            [(str(d.beneficiary_id), d.association_id, d.shares_with_partners) for _, d in fresh],
        )
        await self.consumer.mark_applied([event for event, _ in fresh], session)


def _enrolment(data: EventData) -> bool:
    return isinstance(data, BeneficiaryEnrolledV1)


def placement_request(data: PlacementReportedV1) -> PlacementRequest:
    return PlacementRequest(
        beneficiary_id=str(data.beneficiary_id),
        kind=data.kind,
        starts_on=data.starts_on,
        digital_sector=data.digital_sector,
        employer=data.employer,
        partner_reference=data.partner_reference,
    )


def workshop_request(data: WorkshopReportedV1) -> WorkshopRequest:
    return WorkshopRequest(
        association_id=data.association_id,
        held_at=data.held_at,
        job_families=tuple(data.job_families),
        women_focused=data.women_focused,
        participants=tuple(data.participants),
    )


def people_concerned(data: EventData, result: object) -> list[str]:
    """Whose records a request touched: named in it, or in what it changed (a referral's
    resolution and a follow-up name only the referral or placement)."""
    if isinstance(data, WorkshopReportedV1):
        return list(data.participants)
    named = getattr(data, "beneficiary_id", None) or getattr(result, "beneficiary_id", None)
    return [str(named)] if named is not None else []


def unknown_reason(data: EventData) -> str:
    """The dead-letter reason when what a request names is not known (or not visible)."""
    if isinstance(data, ReferralResolutionReportedV1):
        return "unknown_referral"
    if isinstance(data, FollowUpReportedV1):
        return "unknown_placement"
    return "unknown_beneficiary"


class IntakeRules:
    """Applies a partner's request with the same rules as the matching form, once per ce_id
    (kit.intake); one naming a person, referral or placement orientation does not know yet
    waits for it (kit.parking).

    Partners act with no association scope (as registration's own events do), except where
    the request names its association: a workshop's participants must be that association's.
    """

    accepted = ACCEPTED_REQUESTS

    def __init__(self, orientation: Orientation, audit: AuditLog) -> None:
        self.orientation = orientation
        self.audit = audit

    def creates(self, data: EventData) -> list[Ref]:
        if isinstance(data, ReferralRequestedV1) and data.referral_id is not None:
            return [ref("referral", data.referral_id)]
        if isinstance(data, PlacementReportedV1) and data.placement_id is not None:
            return [ref("placement", data.placement_id)]
        return []

    async def known(self, refs: set[Ref]) -> set[Ref]:
        """What orientation has a record of (an erased person's, referral's or placement's
        too: a request about them is refused when applied, it does not wait)."""
        store = self.orientation.store
        return await known_ids(
            refs,
            {
                "beneficiary": store.people,
                "referral": store.referrals,
                "placement": store.placements,
            },
        )

    async def apply(self, event: CloudEvent, data: EventData) -> bool:
        if await self.orientation.store.was_applied(str(event.id)):
            return False  # a redelivery of a request already applied
        result = await self._apply_new(event, data)
        await self.audit.write(*self._access(event, data, result), INTAKE_ROUTE)
        return True

    async def apply_many(
        self, session: Session, requests: Sequence[tuple[CloudEvent, EventData]]
    ) -> list[bool | Rejected | Waiting]:
        """A batch in the intake's transaction, with the outcomes of applying it in order: the
        requests applied before read at once, each new one applied by its use case, the
        access log written once."""
        ids = [str(event.id) for event, _ in requests]
        applied = await self.orientation.store.applied_among(ids, session)
        outcomes: list[bool | Rejected | Waiting] = []
        accesses = []
        for (event, data), request_id in zip(requests, ids, strict=True):
            if request_id in applied:
                outcomes.append(False)  # a redelivery of a request already applied
                continue
            try:
                result = await self._apply_new(event, data)
            except (Rejected, Waiting) as outcome:  # raised before writing: the rest goes on
                outcomes.append(outcome)
                continue
            applied.add(request_id)
            accesses.append(self._access(event, data, result))
            outcomes.append(True)
        await self.audit.write_many(accesses, INTAKE_ROUTE, session)
        return outcomes

    async def _apply_new(self, event: CloudEvent, data: EventData) -> object:
        """Apply a request not applied before: its use case's result, or why not now
        (:class:`Waiting`) or never (:class:`Rejected`)."""
        try:
            return await self.apply_request(data, str(event.id))
        except (NotFound, UnknownParticipants) as unknown:
            named = named_refs(data)
            missing = sorted(set(named) - await self.known(set(named)))
            if missing:  # arrived meanwhile? No: not yet. Wait for it.
                raise Waiting(missing, str(unknown)) from unknown
            reason = (
                "unknown_beneficiary"
                if isinstance(unknown, UnknownParticipants)
                else unknown_reason(data)
            )
            raise Rejected(reason, str(unknown)) from unknown
        except ConsentMissing as refused:
            raise Rejected("no_consent", str(refused)) from refused
        except Conflict as duplicate:
            raise Rejected("duplicate_placement", str(duplicate)) from duplicate
        except InvalidInput as invalid:
            reason = "conflicting_request" if invalid.status == 409 else "invalid_request"
            raise Rejected(reason, str(invalid)) from invalid

    @staticmethod
    def _access(
        event: CloudEvent, data: EventData, result: object
    ) -> tuple[Actor, str, RecordKind, list[str]]:
        """The access-log entry of an applied request: the partner changed these people's."""
        action, record = AUDITED_AS[type(data)]
        return Actor.partner(event.source), action, record, people_concerned(data, result)

    async def apply_request(self, data: EventData, request_id: str) -> object:
        """The use case for the request's type, its result; ``request_id`` is recorded with its
        effect."""
        orientation = self.orientation
        if isinstance(data, PlacementReportedV1):
            return await orientation.record_placement(
                placement_request(data),
                None,
                request_id=request_id,
                placement_id=data.placement_id,
            )
        if isinstance(data, WorkshopReportedV1):
            return await orientation.record_workshop(
                workshop_request(data), data.association_id, request_id=request_id
            )
        if isinstance(data, InterestsReportedV1):
            return await orientation.record_interests(
                str(data.beneficiary_id), data.job_families, None, request_id=request_id
            )
        if isinstance(data, ReferralRequestedV1):
            return await orientation.make_referral(
                str(data.beneficiary_id),
                data.partner_kind,
                None,
                request_id=request_id,
                referral_id=data.referral_id,
            )
        if isinstance(data, ReferralResolutionReportedV1):
            return await orientation.resolve_referral(
                str(data.referral_id),
                data.outcome,
                data.refusal_reason,
                None,
                request_id=request_id,
            )
        if isinstance(data, FollowUpReportedV1):
            return await orientation.record_follow_up(
                str(data.placement_id), data.months, data.still_in_post, None, request_id=request_id
            )
        # a type added to the contracts but not here: a bug, not the partner's fault
        raise TypeError(f"no use case for {type(data).__name__}")
