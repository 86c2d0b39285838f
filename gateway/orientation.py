"""Orientation in GraphQL: workshops, interests, referrals, placements and their follow-ups,
each made from orientation's answer as ``contracts.api.orientation`` types it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from contracts.api import Page
from contracts.api.orientation import (
    FollowUpDueView,
    FollowUpView,
    InterestsView,
    JobFamilyView,
    PersonRecords,
    PlacementView,
    ReferralView,
    WorkshopView,
)

from .context import Context, context_of
from .enums import OutcomeClass, PartnerKind, PlacementKind, ReferralOutcome
from .pagination import DEFAULT_FIRST, Connection, read_connection
from .wire import enum_value, param_text, path_segment

if TYPE_CHECKING:
    from .registration import Beneficiary


async def _beneficiary(info: Info[Context, Any], beneficiary_id: str) -> Beneficiary | None:
    """The person, through the request's loader (one call for a whole list)."""
    return await context_of(info).loaders.person.load(str(beneficiary_id))


# What a person's orientation fields show when orientation holds nothing the caller may see.
NO_RECORDS = PersonRecords(workshops=[], interests=None, referrals=[], placements=[], follow_ups=[])


# -- reference ----------------------------------------------------------------------------


@strawberry.type(description="A family of digital jobs, with its ROME codes")
class JobFamily:
    code: str
    title: str
    rome_codes: list[str]


async def job_families(context: Context) -> list[JobFamily]:
    families = await context.fetched("orientation", "/job-families", list[JobFamilyView])
    return [
        JobFamily(code=family.code, title=family.title, rome_codes=family.rome_codes)
        for family in families
    ]


async def refusal_reasons(context: Context) -> list[str]:
    return await context.fetched("orientation", "/refusal-reasons", list[str])


# -- workshops and interests --------------------------------------------------------------


@strawberry.type(description="A career-discovery workshop and who attended it")
class Workshop:
    id: strawberry.ID
    association_id: strawberry.ID
    held_at: dt.datetime
    job_families: list[str]
    women_focused: bool
    participants: list[strawberry.ID]
    recorded_at: dt.datetime

    @staticmethod
    def of(workshop: WorkshopView) -> Workshop:
        return Workshop(
            id=strawberry.ID(workshop.id),
            association_id=strawberry.ID(workshop.association_id),
            held_at=workshop.held_at,
            job_families=workshop.job_families,
            women_focused=workshop.women_focused,
            participants=[strawberry.ID(participant) for participant in workshop.participants],
            recorded_at=workshop.recorded_at,
        )


@strawberry.input
class RecordWorkshopInput:
    association_id: strawberry.ID
    held_at: dt.datetime = strawberry.field(description="When it took place (not in the future)")
    participants: list[strawberry.ID] = strawberry.field(description="Beneficiary ids")
    job_families: list[str] = strawberry.field(
        default_factory=list, description="Codes from jobFamilies"
    )
    women_focused: bool = False


@strawberry.type(description="The job families a person is interested in")
class Interests:
    beneficiary_id: strawberry.ID
    job_families: list[str]
    recorded_at: dt.datetime

    @staticmethod
    def of(interests: InterestsView) -> Interests:
        return Interests(
            beneficiary_id=strawberry.ID(interests.beneficiary_id),
            job_families=interests.job_families,
            recorded_at=interests.recorded_at,
        )


async def record_workshop(context: Context, input: RecordWorkshopInput) -> Workshop:
    body = {
        "association_id": str(input.association_id),
        "held_at": input.held_at.isoformat(),
        "job_families": list(input.job_families),
        "women_focused": input.women_focused,
        "participants": [str(participant) for participant in input.participants],
    }
    workshop = await context.services.answer(
        WorkshopView,
        "orientation",
        "POST",
        "/workshops",
        authorization=context.authorization,
        json=body,
    )
    return Workshop.of(workshop)


async def set_interests(
    context: Context, beneficiary_id: str, job_families: list[str]
) -> Interests:
    interests = await context.services.answer(
        InterestsView,
        "orientation",
        "PUT",
        f"/beneficiaries/{path_segment(beneficiary_id)}/interests",
        authorization=context.authorization,
        json={"job_families": list(job_families)},
        missing_field="beneficiaryId",
    )
    return Interests.of(interests)


# -- referrals ----------------------------------------------------------------------------


@strawberry.type(description="A beneficiary referred to a partner, and the partner's answer")
class Referral:
    id: strawberry.ID
    beneficiary_id: strawberry.ID
    partner_kind: PartnerKind
    status: str = strawberry.field(description="open, accepted or refused")
    refusal_reason: str | None
    made_at: dt.datetime
    resolved_at: dt.datetime | None

    @strawberry.field(description="The person; null when erased or not yours to see")
    async def beneficiary(
        self, info: Info[Context, Any]
    ) -> Annotated[Beneficiary, strawberry.lazy(".registration")] | None:
        return await _beneficiary(info, self.beneficiary_id)

    @staticmethod
    def of(referral: ReferralView) -> Referral:
        return Referral(
            id=strawberry.ID(referral.id),
            beneficiary_id=strawberry.ID(referral.beneficiary_id),
            partner_kind=referral.partner_kind,
            status=referral.status,
            refusal_reason=referral.refusal_reason,
            made_at=referral.made_at,
            resolved_at=referral.resolved_at,
        )


@strawberry.input(description="Needs the person's consent to sharing with partners")
class ReferBeneficiaryInput:
    beneficiary_id: strawberry.ID
    partner_kind: PartnerKind


async def refer_beneficiary(context: Context, input: ReferBeneficiaryInput) -> Referral:
    body = {
        "beneficiary_id": str(input.beneficiary_id),
        "partner_kind": enum_value(input.partner_kind),
    }
    referral = await context.services.answer(
        ReferralView,
        "orientation",
        "POST",
        "/referrals",
        authorization=context.authorization,
        json=body,
        missing_field="beneficiaryId",
    )
    return Referral.of(referral)


async def resolve_referral(
    context: Context, referral_id: str, outcome: ReferralOutcome, refusal_reason: str | None
) -> Referral:
    referral = await context.services.answer(
        ReferralView,
        "orientation",
        "POST",
        f"/referrals/{path_segment(referral_id)}/resolution",
        authorization=context.authorization,
        json={"outcome": enum_value(outcome), "refusal_reason": refusal_reason},
        missing_field="id",
    )
    return Referral.of(referral)


# -- placements and follow-ups ------------------------------------------------------------


@strawberry.type(description="What a beneficiary went on to: a job, a training, a business…")
class Placement:
    id: strawberry.ID
    beneficiary_id: strawberry.ID
    kind: PlacementKind
    outcome_class: OutcomeClass
    directed_to_employment: bool = strawberry.field(
        description="Counts towards the programme's employment target"
    )
    digital_sector: bool
    starts_on: dt.date
    employer: str | None
    recorded_at: dt.datetime

    @strawberry.field(description="The person; null when erased or not yours to see")
    async def beneficiary(
        self, info: Info[Context, Any]
    ) -> Annotated[Beneficiary, strawberry.lazy(".registration")] | None:
        return await _beneficiary(info, self.beneficiary_id)

    @staticmethod
    def of(placement: PlacementView) -> Placement:
        return Placement(
            id=strawberry.ID(placement.id),
            beneficiary_id=strawberry.ID(placement.beneficiary_id),
            kind=placement.kind,
            outcome_class=placement.outcome_class,
            directed_to_employment=placement.directed_to_employment,
            digital_sector=placement.digital_sector,
            starts_on=placement.starts_on,
            employer=placement.employer,
            recorded_at=placement.recorded_at,
        )


@strawberry.input
class RecordPlacementInput:
    beneficiary_id: strawberry.ID
    kind: PlacementKind
    starts_on: dt.date
    employer: str | None = None
    digital_sector: bool | None = None


@strawberry.type(description="A placement's 3- or 6-month follow-up, due and not yet recorded")
class FollowUpDue:
    placement_id: strawberry.ID
    beneficiary_id: strawberry.ID
    months: int
    due_on: dt.date

    @strawberry.field(description="The person; null when erased or not yours to see")
    async def beneficiary(
        self, info: Info[Context, Any]
    ) -> Annotated[Beneficiary, strawberry.lazy(".registration")] | None:
        return await _beneficiary(info, self.beneficiary_id)

    @staticmethod
    def of(due: FollowUpDueView) -> FollowUpDue:
        return FollowUpDue(
            placement_id=strawberry.ID(due.placement_id),
            beneficiary_id=strawberry.ID(due.beneficiary_id),
            months=due.months,
            due_on=due.due_on,
        )


@strawberry.type(description="Whether the person was still in post at a follow-up")
class FollowUp:
    placement_id: strawberry.ID
    months: int
    still_in_post: bool
    recorded_at: dt.datetime

    @staticmethod
    def of(follow_up: FollowUpView) -> FollowUp:
        return FollowUp(
            placement_id=strawberry.ID(follow_up.placement_id),
            months=follow_up.months,
            still_in_post=follow_up.still_in_post,
            recorded_at=follow_up.recorded_at,
        )


async def record_placement(context: Context, input: RecordPlacementInput) -> Placement:
    body = {
        "beneficiary_id": str(input.beneficiary_id),
        "kind": enum_value(input.kind),
        "starts_on": input.starts_on.isoformat(),
        "digital_sector": bool(input.digital_sector),
        "employer": input.employer,
    }
    placement = await context.services.answer(
        PlacementView,
        "orientation",
        "POST",
        "/placements",
        authorization=context.authorization,
        json=body,
        missing_field="beneficiaryId",
    )
    return Placement.of(placement)


async def follow_ups_due(context: Context, on: dt.date | None) -> list[FollowUpDue]:
    due = await context.services.answer(
        list[FollowUpDueView],
        "orientation",
        "GET",
        "/follow-ups/due",
        authorization=context.authorization,
        params={"on": on.isoformat()} if on is not None else None,
    )
    return [FollowUpDue.of(follow_up) for follow_up in due]


async def record_follow_up(
    context: Context, placement_id: str, months: int, still_in_post: bool
) -> FollowUp:
    follow_up = await context.services.answer(
        FollowUpView,
        "orientation",
        "POST",
        f"/placements/{path_segment(placement_id)}/follow-ups",
        authorization=context.authorization,
        json={"months": months, "still_in_post": still_in_post},
        missing_field="placementId",
    )
    return FollowUp.of(follow_up)


# -- the paginated lists ------------------------------------------------------------------


class ReferralStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REFUSED = "refused"


strawberry.enum(ReferralStatus, description="Where a referral stands")


@strawberry.input(description="Which placements to list; unset fields do not filter")
class PlacementFilter:
    association_id: strawberry.ID | None = None
    kind: PlacementKind | None = None


@strawberry.input(description="Which referrals to list; unset fields do not filter")
class ReferralFilter:
    association_id: strawberry.ID | None = None
    status: ReferralStatus | None = None
    partner_kind: PartnerKind | None = None


async def placements_page(
    context: Context, where: PlacementFilter | None, first: int, after: str | None
) -> Connection[Placement]:
    where = where or PlacementFilter()
    filters = {"association_id": param_text(where.association_id), "kind": param_text(where.kind)}
    return await read_connection(
        context,
        "orientation",
        "/placements",
        "placements",
        filters,
        first,
        after,
        Page[PlacementView],
        Placement.of,
    )


async def referrals_page(
    context: Context, where: ReferralFilter | None, first: int, after: str | None
) -> Connection[Referral]:
    where = where or ReferralFilter()
    filters = {
        "association_id": param_text(where.association_id),
        "status": param_text(where.status),
        "partner_kind": param_text(where.partner_kind),
    }
    return await read_connection(
        context,
        "orientation",
        "/referrals",
        "referrals",
        filters,
        first,
        after,
        Page[ReferralView],
        Referral.of,
    )


# -- fields (each calls the module's function of its name) --------------------------------


@strawberry.type
class OrientationQuery:
    @strawberry.field(description="Families of digital jobs, for workshops and interests")
    async def job_families(self, info: Info[Context, Any]) -> list[JobFamily]:
        return await job_families(context_of(info))

    @strawberry.field(description="The reasons a partner may give for refusing a referral")
    async def refusal_reasons(self, info: Info[Context, Any]) -> list[str]:
        return await refusal_reasons(context_of(info))

    @strawberry.field(
        description="Placement follow-ups due on or before a day (default: today), earliest first"
    )
    async def follow_ups_due(
        self, info: Info[Context, Any], on: dt.date | None = None
    ) -> list[FollowUpDue]:
        return await follow_ups_due(context_of(info), on)

    @strawberry.field(description="Placements in recording order, filtered and paginated")
    async def placements(
        self,
        info: Info[Context, Any],
        filter: PlacementFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[Placement]:
        return await placements_page(context_of(info), filter, first, after)

    @strawberry.field(description="Referrals in the order they were made, filtered and paginated")
    async def referrals(
        self,
        info: Info[Context, Any],
        filter: ReferralFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[Referral]:
        return await referrals_page(context_of(info), filter, first, after)


@strawberry.type
class OrientationMutation:
    @strawberry.mutation(description="Record a career-discovery workshop and its participants")
    async def record_workshop(
        self, info: Info[Context, Any], input: RecordWorkshopInput
    ) -> Workshop:
        return await record_workshop(context_of(info), input)

    @strawberry.mutation(description="The job families a person is interested in")
    async def set_interests(
        self, info: Info[Context, Any], beneficiary_id: strawberry.ID, job_families: list[str]
    ) -> Interests:
        return await set_interests(context_of(info), beneficiary_id, job_families)

    @strawberry.mutation(description="Refer a person to a partner; needs their consent to share")
    async def refer_beneficiary(
        self, info: Info[Context, Any], input: ReferBeneficiaryInput
    ) -> Referral:
        return await refer_beneficiary(context_of(info), input)

    @strawberry.mutation(description="The partner's answer to a referral (a reason when refused)")
    async def resolve_referral(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        outcome: ReferralOutcome,
        refusal_reason: str | None = None,
    ) -> Referral:
        return await resolve_referral(context_of(info), id, outcome, refusal_reason)

    @strawberry.mutation(description="Record what a person went on to (once per person and kind)")
    async def record_placement(
        self, info: Info[Context, Any], input: RecordPlacementInput
    ) -> Placement:
        return await record_placement(context_of(info), input)

    @strawberry.mutation(description="Whether the person was still in post at 3 or 6 months")
    async def record_follow_up(
        self,
        info: Info[Context, Any],
        placement_id: strawberry.ID,
        months: int,
        still_in_post: bool,
    ) -> FollowUp:
        return await record_follow_up(context_of(info), placement_id, months, still_in_post)
