"""Registration's use cases, shared by the HTTP API, partner intake and spreadsheet import:
load, decide (domain), store and emit — each in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from contracts.errors import Conflict, InvalidInput, NotFound
from contracts.registration import ConsentPurpose
from kit.mongo import Document, Session
from services.registration import domain
from services.registration.domain import Beneficiary, ErasureReason, Status
from services.registration.store import DuplicateEnrolment, RegistrationStore

T = TypeVar("T")
Transact = Callable[[Callable[[Session], Awaitable[Any]]], Awaitable[Any]]


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PartnerEnrolment:
    """A partner's enrolment request: its ce_id, by whom, and the id the partner chose."""

    request: domain.EnrolmentRequest
    by: str
    request_id: str
    beneficiary_id: UUID | None = None


def duplicate(existing_id: str) -> Conflict:
    """The refusal of an enrolment of someone already enrolled (as :func:`refuse_duplicate`)."""
    try:
        domain.refuse_duplicate(existing_id)
    except Conflict as refused:
        return refused
    raise AssertionError("refuse_duplicate always refuses an existing id")


class Registration:
    def __init__(self, store: RegistrationStore, transact: Transact) -> None:
        self.store = store
        self._transact = transact

    async def _in_transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        result: T = await self._transact(work)
        return result

    async def _load(self, beneficiary_id: str, session: Session | None = None) -> Beneficiary:
        beneficiary = await self.store.get(beneficiary_id, session)
        if beneficiary is None:
            raise NotFound(f"no beneficiary {beneficiary_id}")
        return beneficiary

    # -- enrolment ---------------------------------------------------------------------------

    async def enrol(
        self,
        request: domain.EnrolmentRequest,
        by: str,
        *,
        dry_run: bool = False,
        request_id: str | None = None,
        reference: domain.ReferenceData | None = None,
        beneficiary_id: UUID | None = None,
    ) -> Beneficiary:
        """Validate, refuse duplicates, then store the record and its event (unless dry run).

        ``request_id`` (a partner request's ce_id) makes a redelivered request a no-op that
        returns the record it created. ``reference`` spares a batch re-reading districts
        and associations for every row. ``beneficiary_id`` is a partner's own UUID for the
        person (refused as a duplicate when a record already has it).
        """
        if request_id is not None and (done := await self.store.applied_request(request_id)):
            return await self._load(done)
        beneficiary = domain.enrol(
            request,
            reference or await self.store.reference(),
            beneficiary_id=beneficiary_id or uuid4(),
            now=now(),
        )
        if beneficiary_id is not None and await self.store.status_of(str(beneficiary_id)):
            domain.refuse_duplicate(str(beneficiary_id))
        domain.refuse_duplicate(await self.store.find_duplicate(beneficiary))
        if dry_run:
            return beneficiary

        async def work(session: Session) -> None:
            await self.store.add(session, beneficiary, by)
            if request_id is not None:
                await self.store.mark_request_applied(session, request_id, str(beneficiary.id))

        try:
            await self._in_transaction(work)
        except DuplicateEnrolment as duplicate:  # enrolled concurrently, after our check
            domain.refuse_duplicate(duplicate.existing_id)
        return beneficiary

    async def enrol_many(
        self, session: Session, requests: Sequence[PartnerEnrolment]
    ) -> list[Beneficiary | Exception | None]:
        """Partners' enrolment requests in the caller's transaction, each decided as
        :meth:`enrol` would in this order, with a few reads and one write per collection for
        the lot: per request the new record, None (this request was applied before) or the
        refusal (returned, not raised: the others still apply). Two requests of the batch
        naming the same person: the second is the duplicate."""
        reference = await self.store.reference(session)
        done = await self.store.requests_applied([r.request_id for r in requests], session)
        at = now()
        decided: list[Beneficiary | Exception | None] = []
        for request in requests:
            if request.request_id in done:
                decided.append(None)
                continue
            done.add(request.request_id)  # the same request twice in the batch: once
            try:
                decided.append(
                    domain.enrol(
                        request.request,
                        reference,
                        beneficiary_id=request.beneficiary_id or uuid4(),
                        now=at,
                    )
                )
            except InvalidInput as refused:
                decided.append(refused)
        new = [b for b in decided if isinstance(b, Beneficiary)]
        taken = await self.store.taken([str(b.id) for b in new], session)
        indexed = await self.store.duplicates_among(new, session)
        outcomes: list[Beneficiary | Exception | None] = []
        added: list[tuple[Beneficiary, str]] = []
        applied: list[tuple[str, str]] = []
        for request, outcome in zip(requests, decided, strict=True):
            if isinstance(outcome, Beneficiary):
                beneficiary_id = str(outcome.id)
                keys = self.store.duplicate_keys_of(outcome)
                existing = beneficiary_id if beneficiary_id in taken else None
                existing = existing or next((indexed[k] for k in keys if k in indexed), None)
                if existing is not None:
                    outcomes.append(duplicate(existing))
                    continue
                taken.add(beneficiary_id)
                indexed.update(dict.fromkeys(keys, beneficiary_id))
                added.append((outcome, request.by))
                applied.append((request.request_id, beneficiary_id))
            outcomes.append(outcome)
        await self.store.add_many(session, added)
        await self.store.mark_requests_applied(session, applied)
        return outcomes

    # -- changes to a record -----------------------------------------------------------------

    async def rectify(
        self, beneficiary_id: str, change: domain.Rectification, by: str
    ) -> Beneficiary:
        async def work(session: Session) -> Beneficiary:
            current = await self._load(beneficiary_id, session)
            reference = await self.store.reference(session)
            updated, event = domain.rectify(current, change, reference, now())
            await self.store.update(session, updated)
            if event is not None:
                await self.store.emit(session, event)
            return updated

        try:
            return await self._in_transaction(work)
        except DuplicateEnrolment as duplicate:
            domain.refuse_duplicate(duplicate.existing_id)
            raise

    async def withdraw(self, beneficiary_id: str, by: str) -> Beneficiary:
        async def work(session: Session) -> Beneficiary:
            withdrawn, event = domain.withdraw(await self._load(beneficiary_id, session), now())
            await self.store.update(session, withdrawn)
            await self.store.emit(session, event)
            return withdrawn

        return await self._in_transaction(work)

    async def change_consent(
        self, beneficiary_id: str, purpose: ConsentPurpose, given: bool, by: str
    ) -> Beneficiary:
        async def work(session: Session) -> Beneficiary:
            at = now()
            changed, event = domain.change_consent(
                await self._load(beneficiary_id, session), purpose, given, at
            )
            if event is not None:
                await self.store.update(session, changed)
                await self.store.log_consent(session, beneficiary_id, purpose.value, given, by, at)
                await self.store.emit(session, event)
            return changed

        return await self._in_transaction(work)

    async def merge(self, kept_id: str, duplicate_id: str, by: str) -> Beneficiary:
        """Fold the duplicate into the kept record; the duplicate's personal data is shredded."""

        async def work(session: Session) -> Beneficiary:
            kept = await self._load(kept_id, session)
            duplicate = await self._load(duplicate_id, session)
            at = now()
            merged, event = domain.merge(kept, duplicate, at)
            await self.store.shred(session, duplicate, Status.MERGED, merged_into=kept_id)
            await self.store.update(session, merged)
            await self.store.emit(session, event)
            if domain.dimensions_changed(kept, merged):
                await self.store.emit(session, merged.updated_event(at))
            return merged

        return await self._in_transaction(work)

    # -- reference data ----------------------------------------------------------------------

    async def save_district(self, district: domain.District) -> None:
        async def work(session: Session) -> None:
            await self.store.save_district(session, district)

        await self._in_transaction(work)

    async def save_association(self, association: domain.Association) -> None:
        async def work(session: Session) -> None:
            await self.store.save_association(session, association)

        await self._in_transaction(work)

    # -- erasure and retention ---------------------------------------------------------------

    async def erase(self, beneficiary_id: str, reason: ErasureReason, by: str) -> Document:
        """Destroy the person's data key and personal data; returns the receipt (no data)."""

        async def work(session: Session) -> Document:
            beneficiary = await self._load(beneficiary_id, session)
            event = domain.erase(beneficiary, reason, now())
            receipt: Document = {
                "_id": str(uuid4()),
                "beneficiary_id": beneficiary_id,
                "erased_at": event.erased_at,
                "reason": reason.value,
                "requested_by": by,
                "erased": list(domain.ERASED_ITEMS),
                "notified": "dn.registration.beneficiary_erased.v1 to every service",
            }
            await self.store.shred(session, beneficiary, Status.ERASED, erased_at=event.erased_at)
            await self.store.add_receipt(session, receipt)
            await self.store.emit(session, event)
            return receipt

        return await self._in_transaction(work)

    async def apply_retention(self, period: timedelta, by: str, *, dry_run: bool) -> list[str]:
        """Anonymise everyone without contact for longer than ``period``; ids affected."""
        due = domain.due_for_retention(await self.store.last_contacts(), now(), period)
        if not dry_run:
            for beneficiary_id in due:
                await self.erase(beneficiary_id, ErasureReason.RETENTION, by)
        return due
