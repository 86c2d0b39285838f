"""Orientation's use cases, shared by the HTTP API, partner intake and the follow-up job:
load, decide (domain), store and emit — each in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from contracts.errors import FieldError, InvalidInput, NotFound
from contracts.orientation import (
    FollowUpRecordedV1,
    InterestRecordedV1,
    PartnerKind,
    ReferralOutcome,
)
from kit.mongo import Session
from services.orientation import domain
from services.orientation.domain import (
    FollowUpDue,
    Person,
    Placement,
    PlacementRequest,
    ReferenceData,
    Referral,
    Workshop,
    WorkshopRequest,
)
from services.orientation.store import OrientationStore

T = TypeVar("T")
Transact = Callable[[Callable[[Session], Awaitable[Any]]], Awaitable[Any]]
PROGRAMME_TIMEZONE = ZoneInfo("Europe/Paris")  # follow-ups fall due on Bordeaux's calendar


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return datetime.now(PROGRAMME_TIMEZONE).date()


class Orientation:
    """``association`` arguments scope a call to one association's people (None: all)."""

    def __init__(
        self,
        store: OrientationStore,
        transact: Transact,
        reference: ReferenceData,
        *,
        clock: Callable[[], datetime] = now,
        calendar: Callable[[], date] = today,
    ) -> None:
        self.store = store
        self.reference = reference
        self._transact = transact
        self.now = clock
        self.today = calendar

    async def _in_transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        result: T = await self._transact(work)
        return result

    async def _mark(self, session: Session, request_id: str | None, **result: str) -> None:
        """Record a partner request's ce_id with its effect, so a redelivery is recognised
        (the store refuses a second record of the same id: the transaction is retried)."""
        if request_id is not None:
            await self.store.mark_applied(session, request_id, **result)

    async def person(
        self, beneficiary_id: str, association: str | None, session: Session | None = None
    ) -> Person:
        """The person if known and visible to the caller; another association's is 'not found'."""
        person = await self.store.person(beneficiary_id, session)
        if person is None or (association is not None and person.association_id != association):
            raise NotFound(f"no beneficiary {beneficiary_id} known to orientation")
        return person

    # -- workshops and interests -----------------------------------------------------------

    async def record_workshop(
        self, request: WorkshopRequest, association: str | None, *, request_id: str | None = None
    ) -> Workshop:
        async def work(session: Session) -> Workshop:
            people = await self.store.people_among(list(request.participants), session)
            if association is not None:
                people = {k: p for k, p in people.items() if p.association_id == association}
            workshop = domain.record_workshop(
                request, people, self.reference, workshop_id=uuid4(), now=self.now()
            )
            await self.store.add_workshop(session, workshop)
            for event in workshop.attended_events():
                await self.store.emit(session, event)
            await self._mark(session, request_id, workshop_id=str(workshop.id))
            return workshop

        return await self._in_transaction(work)

    async def record_interests(
        self,
        beneficiary_id: str,
        job_families: list[str],
        association: str | None,
        *,
        request_id: str | None = None,
    ) -> InterestRecordedV1:
        async def work(session: Session) -> InterestRecordedV1:
            person = await self.person(beneficiary_id, association, session)
            event = domain.record_interests(person, job_families, self.reference, self.now())
            await self.store.save_interests(
                session, person.id, event.job_families, event.recorded_at
            )
            await self.store.emit(session, event)
            await self._mark(session, request_id, beneficiary_id=person.id)
            return event

        return await self._in_transaction(work)

    # -- referrals -------------------------------------------------------------------------

    async def make_referral(
        self,
        beneficiary_id: str,
        partner_kind: PartnerKind,
        association: str | None,
        *,
        request_id: str | None = None,
        referral_id: UUID | None = None,
    ) -> Referral:
        """``referral_id``: a partner's own choice of id (intake); refused when in use."""

        async def work(session: Session) -> Referral:
            person = await self.person(beneficiary_id, association, session)
            if referral_id is not None and await self.store.referral(str(referral_id), session):
                raise InvalidInput(
                    FieldError("referralId", f"referral {referral_id} already exists"),
                    status=409,
                )
            referral, event = domain.make_referral(
                person, partner_kind, referral_id=referral_id or uuid4(), now=self.now()
            )
            await self.store.save_referral(session, referral, person.association_id)
            await self.store.emit(session, event)
            await self._mark(session, request_id, referral_id=str(referral.id))
            return referral

        return await self._in_transaction(work)

    async def resolve_referral(
        self,
        referral_id: str,
        outcome: ReferralOutcome,
        refusal_reason: str | None,
        association: str | None,
        *,
        request_id: str | None = None,
    ) -> Referral:
        async def work(session: Session) -> Referral:
            found = await self.store.referral(referral_id, session)
            if found is None or (association is not None and found[1] != association):
                raise NotFound(f"no referral {referral_id}")
            referral, association_id = found
            resolved, event = domain.resolve_referral(
                referral, outcome, refusal_reason, self.reference, self.now()
            )
            await self.store.save_referral(session, resolved, association_id)
            await self.store.emit(session, event)
            await self._mark(session, request_id, referral_id=referral_id)
            return resolved

        return await self._in_transaction(work)

    # -- placements and follow-ups ---------------------------------------------------------

    async def record_placement(
        self,
        request: PlacementRequest,
        association: str | None,
        *,
        request_id: str | None = None,
        placement_id: UUID | None = None,
    ) -> Placement:
        """Store the placement and its event; the employer name is stored, never emitted.

        ``request_id`` (a partner request's ce_id) is recorded in the same transaction, so a
        redelivered request is recognised and changes nothing. ``placement_id`` is a partner's
        own choice of id (intake); one already in use is refused as a duplicate.
        """

        async def work(session: Session) -> Placement:
            if request_id is not None and (
                done := await self.store.applied_request(request_id, session)
            ):
                found = await self.store.placement(done, session)
                if found is not None:
                    return found[0]
            person = await self.person(request.beneficiary_id, association, session)
            if placement_id is not None:
                domain.refuse_duplicate_placement(
                    str(placement_id)
                    if await self.store.placement(str(placement_id), session)
                    else None
                )
            placement = domain.record_placement(
                person, request, placement_id=placement_id or uuid4(), now=self.now()
            )
            domain.refuse_duplicate_placement(
                await self.store.same_placement(
                    session, person.id, placement.kind, placement.starts_on
                )
            )
            await self.store.add_placement(session, placement, person.association_id)
            await self.store.emit(session, placement.recorded_event())
            if request_id is not None:
                await self.store.mark_request_applied(session, request_id, str(placement.id))
            return placement

        return await self._in_transaction(work)

    async def due_follow_ups(self, on: date, association: str | None) -> list[FollowUpDue]:
        """Follow-ups due on or before ``on`` and not recorded yet."""
        placements = await self.store.followed_placements(association)
        return domain.due_follow_ups(placements, await self.store.recorded_follow_ups(), on)

    async def record_follow_up(
        self,
        placement_id: str,
        months: int,
        still_in_post: bool,
        association: str | None,
        *,
        request_id: str | None = None,
    ) -> FollowUpRecordedV1:
        async def work(session: Session) -> FollowUpRecordedV1:
            found = await self.store.placement(placement_id, session)
            if found is None or (association is not None and found[1] != association):
                raise NotFound(f"no placement {placement_id}")
            placement = found[0]
            event = domain.record_follow_up(
                placement,
                months,
                still_in_post,
                await self.store.follow_up_recorded(session, placement_id, months),
                self.now(),
            )
            await self.store.add_follow_up(
                session, placement, event.months, still_in_post, event.recorded_at
            )
            await self.store.emit(session, event)
            await self._mark(session, request_id, followed_up_placement_id=placement_id)
            return event

        return await self._in_transaction(work)

    async def announce_due_follow_ups(self) -> int:
        """Emit ``follow_up_due`` once for every follow-up due today or earlier; how many."""
        due = await self.due_follow_ups(self.today(), None)

        async def work(session: Session) -> int:
            announced = 0
            for follow_up in due:
                if await self.store.mark_announced(
                    session, str(follow_up.placement_id), follow_up.months
                ):
                    await self.store.emit(session, follow_up.event())
                    announced += 1
            return announced

        return await self._in_transaction(work) if due else 0
