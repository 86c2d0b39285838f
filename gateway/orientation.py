"""Orientation in GraphQL: workshops, interests, referrals, placements and their follow-ups."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from .context import Context, context_of
from .enums import OutcomeClass, PartnerKind, PlacementKind, ReferralOutcome
from .wire import enum_value, parse_datetime, path_segment, required_datetime

if TYPE_CHECKING:
    from .outputs import Beneficiary


async def _beneficiary(
    info: Info[Context, Any], beneficiary_id: str
) -> Annotated[Beneficiary, strawberry.lazy(".outputs")] | None:
    """The person, through the request's loader (one call for a whole list)."""
    from .outputs import Beneficiary

    row = await context_of(info).loaders.beneficiary.load(str(beneficiary_id))
    return Beneficiary.of(row) if row else None


# -- reference ----------------------------------------------------------------------------


@strawberry.type(description="A family of digital jobs, with its ROME codes")
class JobFamily:
    code: str
    title: str
    rome_codes: list[str]


async def job_families(context: Context) -> list[JobFamily]:
    rows = await context.fetched("orientation", "/job-families")
    return [
        JobFamily(code=row["code"], title=row["title"], rome_codes=list(row["rome_codes"]))
        for row in rows
    ]


async def refusal_reasons(context: Context) -> list[str]:
    reasons: list[str] = await context.fetched("orientation", "/refusal-reasons")
    return reasons


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
    def of(row: dict[str, Any]) -> Workshop:
        return Workshop(
            id=strawberry.ID(row["id"]),
            association_id=strawberry.ID(row["association_id"]),
            held_at=required_datetime(row["held_at"]),
            job_families=list(row["job_families"]),
            women_focused=row["women_focused"],
            participants=[strawberry.ID(participant) for participant in row["participants"]],
            recorded_at=required_datetime(row["recorded_at"]),
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
    def of(row: dict[str, Any]) -> Interests:
        return Interests(
            beneficiary_id=strawberry.ID(row["beneficiary_id"]),
            job_families=list(row["job_families"]),
            recorded_at=required_datetime(row["recorded_at"]),
        )


async def record_workshop(context: Context, input: RecordWorkshopInput) -> Workshop:
    body = {
        "association_id": str(input.association_id),
        "held_at": input.held_at.isoformat(),
        "job_families": list(input.job_families),
        "women_focused": input.women_focused,
        "participants": [str(participant) for participant in input.participants],
    }
    row = await context.services.call(
        "orientation", "POST", "/workshops", authorization=context.authorization, json=body
    )
    return Workshop.of(row)


async def set_interests(
    context: Context, beneficiary_id: str, job_families: list[str]
) -> Interests:
    row = await context.services.call(
        "orientation",
        "PUT",
        f"/beneficiaries/{path_segment(beneficiary_id)}/interests",
        authorization=context.authorization,
        json={"job_families": list(job_families)},
        missing_field="beneficiaryId",
    )
    return Interests.of(row)


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
    ) -> Annotated[Beneficiary, strawberry.lazy(".outputs")] | None:
        return await _beneficiary(info, self.beneficiary_id)

    @staticmethod
    def of(row: dict[str, Any]) -> Referral:
        return Referral(
            id=strawberry.ID(row["id"]),
            beneficiary_id=strawberry.ID(row["beneficiary_id"]),
            partner_kind=PartnerKind(row["partner_kind"]),
            status=row["status"],
            refusal_reason=row.get("refusal_reason"),
            made_at=required_datetime(row["made_at"]),
            resolved_at=parse_datetime(row.get("resolved_at")),
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
    row = await context.services.call(
        "orientation",
        "POST",
        "/referrals",
        authorization=context.authorization,
        json=body,
        missing_field="beneficiaryId",
    )
    return Referral.of(row)


async def resolve_referral(
    context: Context, referral_id: str, outcome: ReferralOutcome, refusal_reason: str | None
) -> Referral:
    row = await context.services.call(
        "orientation",
        "POST",
        f"/referrals/{path_segment(referral_id)}/resolution",
        authorization=context.authorization,
        json={"outcome": enum_value(outcome), "refusal_reason": refusal_reason},
        missing_field="id",
    )
    return Referral.of(row)


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
    ) -> Annotated[Beneficiary, strawberry.lazy(".outputs")] | None:
        return await _beneficiary(info, self.beneficiary_id)

    @staticmethod
    def of(row: dict[str, Any]) -> Placement:
        return Placement(
            id=strawberry.ID(row["id"]),
            beneficiary_id=strawberry.ID(row["beneficiary_id"]),
            kind=PlacementKind(row["kind"]),
            outcome_class=OutcomeClass(row["outcome_class"]),
            directed_to_employment=row["directed_to_employment"],
            digital_sector=row["digital_sector"],
            starts_on=dt.date.fromisoformat(row["starts_on"]),
            employer=row.get("employer"),
            recorded_at=required_datetime(row["recorded_at"]),
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
    ) -> Annotated[Beneficiary, strawberry.lazy(".outputs")] | None:
        return await _beneficiary(info, self.beneficiary_id)


@strawberry.type(description="Whether the person was still in post at a follow-up")
class FollowUp:
    placement_id: strawberry.ID
    months: int
    still_in_post: bool
    recorded_at: dt.datetime

    @staticmethod
    def of(row: dict[str, Any]) -> FollowUp:
        return FollowUp(
            placement_id=strawberry.ID(row["placement_id"]),
            months=row["months"],
            still_in_post=row["still_in_post"],
            recorded_at=required_datetime(row["recorded_at"]),
        )


async def record_placement(context: Context, input: RecordPlacementInput) -> Placement:
    body = {
        "beneficiary_id": str(input.beneficiary_id),
        "kind": enum_value(input.kind),
        "starts_on": input.starts_on.isoformat(),
        "digital_sector": bool(input.digital_sector),
        "employer": input.employer,
    }
    row = await context.services.call(
        "orientation",
        "POST",
        "/placements",
        authorization=context.authorization,
        json=body,
        missing_field="beneficiaryId",
    )
    return Placement.of(row)


async def follow_ups_due(context: Context, on: dt.date | None) -> list[FollowUpDue]:
    rows = await context.services.call(
        "orientation",
        "GET",
        "/follow-ups/due",
        authorization=context.authorization,
        params={"on": on.isoformat()} if on is not None else None,
    )
    return [
        FollowUpDue(
            placement_id=strawberry.ID(row["placement_id"]),
            beneficiary_id=strawberry.ID(row["beneficiary_id"]),
            months=row["months"],
            due_on=dt.date.fromisoformat(row["due_on"]),
        )
        for row in rows
    ]


async def record_follow_up(
    context: Context, placement_id: str, months: int, still_in_post: bool
) -> FollowUp:
    row = await context.services.call(
        "orientation",
        "POST",
        f"/placements/{path_segment(placement_id)}/follow-ups",
        authorization=context.authorization,
        json={"months": months, "still_in_post": still_in_post},
        missing_field="placementId",
    )
    return FollowUp.of(row)
