"""Orientation's HTTP API, called by the gateway with the caller's bearer token.

Roles: coordinators act on everyone; association staff only on their own association's
people (orientation keeps each person's association from registration's events; someone
else's person, referral or placement is "not found"). Refusals are 422 with
``{"error", "errors": [{"field", "message"}]}``, 404 for what does not exist, 409 for a
conflict (a placement or follow-up already recorded).

Routes (who may call; body or query; answer, as ``contracts.api.orientation`` types it):

- ``GET /job-families`` — any role; ``[{code, title, rome_codes}]``.
- ``GET /refusal-reasons`` — any role; the configured codes, e.g. ``prerequisites_not_met``.
- ``POST /workshops`` — coordinator, association;
  ``{association_id, held_at, job_families, women_focused, participants: [beneficiary id]}``;
  201 with the workshop. Every participant must be a known, active beneficiary.
- ``PUT /beneficiaries/{id}/interests`` — coordinator, association; ``{job_families}``.
- ``POST /referrals`` — coordinator, association; ``{beneficiary_id, partner_kind}``
  (training_organisation, employer, france_travail, mission_locale); 201 with the referral;
  422 naming ``share_with_partners`` when the person has not consented to sharing.
- ``POST /referrals/{id}/resolution`` — coordinator, association;
  ``{outcome: accepted|refused, refusal_reason}`` (a configured reason when refused).
- ``POST /placements`` — coordinator, association;
  ``{beneficiary_id, kind, starts_on, digital_sector, employer?}``; 201 with the placement,
  its ``outcome_class`` and ``directed_to_employment``; 409 when already recorded.
- ``GET /follow-ups/due?on=DATE`` — coordinator, association; ``on`` defaults to today
  (Europe/Paris); ``[{placement_id, beneficiary_id, months, due_on}]``, earliest first.
- ``POST /placements/{id}/follow-ups`` — coordinator, association;
  ``{months: 3|6, still_in_post}``; 201; 409 when that follow-up is already recorded.
- ``POST /beneficiaries/records`` — coordinator, association; ``{beneficiary_ids: [...]}``;
  ``{"records": {id: {workshops, interests, referrals, placements, follow_ups}}}`` for the
  people the caller may see (others are left out): the gateway's loaders, five queries in all.
- ``GET /placements`` and ``GET /referrals`` — coordinator, association;
  ``?association_id=&kind=`` (placements) or ``?association_id=&status=&partner_kind=``
  (referrals), ``&after=&first=``: one page in recording order (``kit.paging``), ``{"total",
  "has_next", "edges": [{"position", "node"}]}``.
- ``POST /intake/scope`` — the gateway (service token), coordinator; ``contracts.scope``:
  ``{"references": [{kind, id}]}`` → ``{"owners": [{kind, id, association_id}]}``, the
  association of each named person, referral or placement orientation knows (unknown ones are
  left out): the gateway's check of partner requests over HTTP.
- ``GET /beneficiaries/{id}/export`` — coordinator;
  ``{"service": "orientation", "records": [{record, id, …}]}`` (``record`` says what each is).

Every read or change of a person's records (workshops, interests, referrals, placements,
follow-ups) is in the access log (``kit.audit``: who, kind of record, route; ids only).

The employer's name is the only free text (at most 200 characters, no markup): stored and
shown here and in the export, never put in an event.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.api import Page
from contracts.api.orientation import (
    FollowUpDueView,
    FollowUpView,
    InterestsView,
    JobFamilyView,
    PersonRecords,
    PlacementView,
    RecordsOfPeople,
    ReferralView,
    WorkshopView,
)
from contracts.errors import Conflict, InvalidInput, NotFound
from contracts.orientation import PartnerKind, PlacementKind, ReferralOutcome
from contracts.scope import ScopeAnswer, ScopeQuestion
from kit.audit import Action, Audit, RecordKind
from kit.audit import as_json as audit_as_json
from kit.auth import Principal, Role
from kit.mongo import Session
from kit.paging import parse_position
from kit.service import audit_of, caller
from kit.spreadsheet import SheetImportIn, SheetRow, rehearse, row_result
from services.orientation import importer
from services.orientation.commands import Orientation
from services.orientation.domain import (
    MAX_EMPLOYER_LENGTH,
    MAX_PARTICIPANTS,
    FollowUpDue,
    Placement,
    PlacementRequest,
    Referral,
    ReferralStatus,
    Workshop,
    WorkshopRequest,
)

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
Audited = Annotated[Audit, Depends(audit_of)]  # each read or change of a person's records
ID = Field(min_length=1, max_length=100)
FAMILY_CODES = Field(max_length=50)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkshopIn(Strict):
    association_id: str = ID
    held_at: datetime
    job_families: list[Annotated[str, FAMILY_CODES]] = Field(default=[], max_length=20)
    women_focused: bool = False
    participants: list[Annotated[str, ID]] = Field(max_length=MAX_PARTICIPANTS)


class InterestsIn(Strict):
    job_families: list[Annotated[str, FAMILY_CODES]] = Field(max_length=20)


class ReferralIn(Strict):
    beneficiary_id: str = ID
    partner_kind: PartnerKind


class ResolutionIn(Strict):
    outcome: ReferralOutcome
    refusal_reason: str | None = Field(default=None, max_length=50)


class PlacementIn(Strict):
    beneficiary_id: str = ID
    kind: PlacementKind
    starts_on: date
    digital_sector: bool = False
    employer: str | None = Field(default=None, max_length=MAX_EMPLOYER_LENGTH)


class FollowUpIn(Strict):
    months: int
    still_in_post: bool


def orientation_of(request: Request) -> Orientation:
    orientation: Orientation = request.app.state.orientation
    return orientation


Service = Annotated[Orientation, Depends(orientation_of)]


def scope(who: Principal) -> str | None:
    """The association a staff member may act for; None for coordinators (everyone)."""
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    return who.association_id if who.role is Role.ASSOCIATION else None


def workshop_view(workshop: Workshop) -> WorkshopView:
    return WorkshopView(
        id=str(workshop.id),
        association_id=workshop.association_id,
        held_at=workshop.held_at,
        job_families=list(workshop.job_families),
        women_focused=workshop.women_focused,
        participants=list(workshop.participants),
        recorded_at=workshop.recorded_at,
    )


def referral_view(referral: Referral) -> ReferralView:
    return ReferralView(
        id=str(referral.id),
        beneficiary_id=referral.beneficiary_id,
        partner_kind=referral.partner_kind,
        status=referral.status.value,
        refusal_reason=referral.refusal_reason,
        made_at=referral.made_at,
        resolved_at=referral.resolved_at,
    )


def placement_view(placement: Placement) -> PlacementView:
    return PlacementView(
        id=str(placement.id),
        beneficiary_id=placement.beneficiary_id,
        kind=placement.kind,
        outcome_class=placement.outcome_class,
        directed_to_employment=placement.directed_to_employment,
        digital_sector=placement.digital_sector,
        starts_on=placement.starts_on,
        employer=placement.employer,
        recorded_at=placement.recorded_at,
    )


def follow_up_due_view(due: FollowUpDue) -> FollowUpDueView:
    return FollowUpDueView(
        placement_id=str(due.placement_id),
        beneficiary_id=due.beneficiary_id,
        months=due.months,
        due_on=due.due_on,
    )


@router.get("/job-families")
async def job_families(who: Caller, service: Service) -> list[JobFamilyView]:
    return [
        JobFamilyView(code=family.code, title=family.title, rome_codes=list(family.rome_codes))
        for family in service.reference.job_families.values()
    ]


@router.get("/refusal-reasons")
async def refusal_reasons(who: Caller, service: Service) -> list[str]:
    return list(service.reference.refusal_reasons)


@router.post("/workshops", status_code=201)
async def record_workshop(
    body: WorkshopIn, who: Caller, service: Service, audit: Audited
) -> WorkshopView:
    association = scope(who)
    who.require_association(body.association_id)
    request = WorkshopRequest(
        association_id=body.association_id,
        held_at=body.held_at,
        job_families=tuple(body.job_families),
        women_focused=body.women_focused,
        participants=tuple(body.participants),
    )
    workshop = await service.record_workshop(request, association)
    await audit(Action.RECORD, RecordKind.WORKSHOP, workshop.participants)
    return workshop_view(workshop)


@router.put("/beneficiaries/{beneficiary_id}/interests")
async def record_interests(
    beneficiary_id: str, body: InterestsIn, who: Caller, service: Service, audit: Audited
) -> InterestsView:
    event = await service.record_interests(beneficiary_id, body.job_families, scope(who))
    await audit(Action.CHANGE, RecordKind.INTEREST, [beneficiary_id])
    return InterestsView(
        beneficiary_id=beneficiary_id,
        job_families=event.job_families,
        recorded_at=event.recorded_at,
    )


@router.post("/referrals", status_code=201)
async def make_referral(
    body: ReferralIn, who: Caller, service: Service, audit: Audited
) -> ReferralView:
    referral = await service.make_referral(body.beneficiary_id, body.partner_kind, scope(who))
    await audit(Action.RECORD, RecordKind.REFERRAL, [referral.beneficiary_id])
    return referral_view(referral)


@router.post("/referrals/{referral_id}/resolution")
async def resolve_referral(
    referral_id: str, body: ResolutionIn, who: Caller, service: Service, audit: Audited
) -> ReferralView:
    referral = await service.resolve_referral(
        referral_id, body.outcome, body.refusal_reason, scope(who)
    )
    await audit(Action.CHANGE, RecordKind.REFERRAL, [referral.beneficiary_id])
    return referral_view(referral)


@router.post("/placements", status_code=201)
async def record_placement(
    body: PlacementIn, who: Caller, service: Service, audit: Audited
) -> PlacementView:
    request = PlacementRequest(
        beneficiary_id=body.beneficiary_id,
        kind=body.kind,
        starts_on=body.starts_on,
        digital_sector=body.digital_sector,
        employer=body.employer,
    )
    placement = await service.record_placement(request, scope(who))
    await audit(Action.RECORD, RecordKind.PLACEMENT, [placement.beneficiary_id])
    return placement_view(placement)


@router.get("/follow-ups/due")
async def follow_ups_due(
    who: Caller, service: Service, audit: Audited, on: date | None = None
) -> list[FollowUpDueView]:
    due = await service.due_follow_ups(on or service.today(), scope(who))
    await audit(Action.LIST, RecordKind.FOLLOW_UP, [follow_up.beneficiary_id for follow_up in due])
    return [follow_up_due_view(follow_up) for follow_up in due]


@router.post("/placements/{placement_id}/follow-ups", status_code=201)
async def record_follow_up(
    placement_id: str, body: FollowUpIn, who: Caller, service: Service, audit: Audited
) -> FollowUpView:
    event = await service.record_follow_up(
        placement_id, body.months, body.still_in_post, scope(who)
    )
    await audit(Action.RECORD, RecordKind.FOLLOW_UP, [str(event.beneficiary_id)])
    return FollowUpView(
        placement_id=placement_id,
        months=event.months,
        still_in_post=event.still_in_post,
        recorded_at=event.recorded_at,
    )


class PeopleIn(Strict):
    beneficiary_ids: list[Annotated[str, ID]] = Field(max_length=500)


def _follow_up_view(document: dict[str, Any]) -> FollowUpView:
    return FollowUpView(
        placement_id=document["placement_id"],
        months=document["months"],
        still_in_post=document["still_in_post"],
        recorded_at=document["recorded_at"],
    )


def _interests_view(beneficiary_id: str, interests: tuple[list[str], datetime]) -> InterestsView:
    job_families, recorded_at = interests
    return InterestsView(
        beneficiary_id=beneficiary_id, job_families=job_families, recorded_at=recorded_at
    )


@router.post("/beneficiaries/records")
async def records_of_people(
    body: PeopleIn, who: Caller, service: Service, audit: Audited
) -> RecordsOfPeople:
    association = scope(who)
    wanted = list(dict.fromkeys(body.beneficiary_ids))
    if association is not None:
        people = await service.store.people_among(wanted)
        wanted = [i for i in wanted if i in people and people[i].association_id == association]
    found = await service.store.records_of_many(wanted)
    for record, holders in (
        (RecordKind.WORKSHOP, [i for i, r in found.items() if r.workshops]),
        (RecordKind.INTEREST, [i for i, r in found.items() if r.interests]),
        (RecordKind.REFERRAL, [i for i, r in found.items() if r.referrals]),
        (RecordKind.PLACEMENT, [i for i, r in found.items() if r.placements]),
        (RecordKind.FOLLOW_UP, [i for i, r in found.items() if r.follow_ups]),
    ):
        await audit(Action.READ, record, holders)
    return RecordsOfPeople(
        records={
            person_id: PersonRecords(
                workshops=[workshop_view(w) for w in records.workshops],
                interests=(
                    _interests_view(person_id, records.interests) if records.interests else None
                ),
                referrals=[referral_view(r) for r in records.referrals],
                placements=[placement_view(p) for p in records.placements],
                follow_ups=[_follow_up_view(f) for f in records.follow_ups],
            )
            for person_id, records in found.items()
        }
    )


@router.get("/placements")
async def page_placements(
    who: Caller,
    service: Service,
    audit: Audited,
    association_id: str | None = None,
    kind: PlacementKind | None = None,
    after: str | None = None,
    first: int = 50,
) -> Page[PlacementView]:
    association_id = scope(who) or association_id
    filters = {"association_id": association_id, "kind": kind.value if kind else None}
    page, placements = await service.store.placement_page(filters, parse_position(after), first)
    await audit(Action.LIST, RecordKind.PLACEMENT, [p.beneficiary_id for p in placements])
    return page.answer([placement_view(p) for p in placements])


@router.get("/referrals")
async def page_referrals(
    who: Caller,
    service: Service,
    audit: Audited,
    association_id: str | None = None,
    status: ReferralStatus | None = None,
    partner_kind: PartnerKind | None = None,
    after: str | None = None,
    first: int = 50,
) -> Page[ReferralView]:
    association_id = scope(who) or association_id
    filters = {
        "association_id": association_id,
        "status": status.value if status else None,
        "partner_kind": partner_kind.value if partner_kind else None,
    }
    page, referrals = await service.store.referral_page(filters, parse_position(after), first)
    await audit(Action.LIST, RecordKind.REFERRAL, [r.beneficiary_id for r in referrals])
    return page.answer([referral_view(r) for r in referrals])


@router.get("/beneficiaries/{beneficiary_id}/export")
async def export_beneficiary(
    beneficiary_id: str, who: Caller, service: Service, audit: Audited
) -> dict[str, Any]:
    """Everything orientation holds about the person (right of access), with who read or
    changed it here."""
    who.require(Role.COORDINATOR)
    await audit(Action.EXPORT, RecordKind.ALL_RECORDS, [beneficiary_id])
    return {
        "service": "orientation",
        "records": await service.store.records_of(beneficiary_id),
        "access_log": audit_as_json(await audit.log.entries(beneficiary_id, None)),
    }


# -- partner intake ------------------------------------------------------------------------


@router.post("/intake/scope")
async def intake_scope(body: ScopeQuestion, who: Caller, service: Service) -> ScopeAnswer:
    """Which association each named person, referral and placement belongs to: the gateway
    asks before it accepts a partner's request over HTTP (ids only; unknown ones are left
    out)."""
    who.require(Role.SERVICE, Role.COORDINATOR)
    return ScopeAnswer.of(body, await service.store.owners_of(body))


# -- spreadsheet import -------------------------------------------------------------------


@router.post("/imports/placements")
async def import_placements(
    body: SheetImportIn, who: Caller, service: Service, audit: Audited
) -> dict[str, Any]:
    """Record spreadsheet rows one by one, each as ``POST /placements`` would.

    A placement already recorded (same person, kind and start) comes back as a duplicate with
    its id: sending the same file twice records nothing twice. A dry run goes through the same
    steps in one transaction that is rolled back.
    """
    association = scope(who)
    rows = [sent.sheet_row() for sent in body.rows]
    if not body.dry_run:
        return {
            "results": [await _import_placement(row, association, service, audit) for row in rows]
        }

    async def rehearsal(session: Session) -> list[dict[str, Any]]:
        within = Orientation(
            service.store,
            lambda work: work(session),
            service.reference,
            clock=service.now,
            calendar=service.today,
        )
        made: dict[str, int] = {}
        return [await _import_placement(row, association, within, None, made) for row in rows]

    return {"results": await rehearse(service.store.db.client, rehearsal)}


async def _import_placement(
    row: SheetRow,
    association: str | None,
    service: Orientation,
    audit: Audit | None,
    rehearsed: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One row's result; ``rehearsed`` (a dry run, not audited) maps the placements it made to
    their rows."""
    parsed = importer.parse_row(row)
    if isinstance(parsed, list):
        return row_result(row, "invalid", errors=parsed)
    try:
        placement = await service.record_placement(parsed, association)
    except NotFound as missing:
        return row_result(
            row, "invalid", errors=[importer.SHEET.refusal(row, "beneficiary", str(missing))]
        )
    except Conflict as duplicate:
        if rehearsed is not None and duplicate.existing_id in rehearsed:
            return row_result(row, "duplicate", same_as_row=rehearsed[duplicate.existing_id])
        return row_result(row, "duplicate", id=duplicate.existing_id)
    except InvalidInput as refused:
        return row_result(row, "invalid", errors=importer.SHEET.refusals(row, refused.errors))
    if audit is not None:
        await audit(Action.RECORD, RecordKind.PLACEMENT, [placement.beneficiary_id])
    if rehearsed is None:
        return row_result(row, "created", id=str(placement.id))
    rehearsed[str(placement.id)] = row.number
    return row_result(row, "valid")
