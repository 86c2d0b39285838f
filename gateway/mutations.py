"""The GraphQL Mutation type: a person's record and rights, reference data, retention runs."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from .context import Context, context_of
from .enums import ConsentPurpose, ErasureReason
from .inputs import AssociationInput, DistrictInput, EnrolBeneficiaryInput, RectifyBeneficiaryInput
from .outputs import Association, Beneficiary, District, ErasureReceipt, RetentionRun
from .rectification import rectification
from .wire import enum_value, path_segment


async def _change_beneficiary(
    info: Info[Context, Any], method: str, path: str, body: dict[str, Any] | None = None
) -> Beneficiary:
    context = context_of(info)
    row = await context.services.call(
        "registration", method, path, authorization=context.authorization, json=body
    )
    return Beneficiary.of(row)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Enrol a resident; personal data stays in registration")
    async def enrol_beneficiary(
        self, info: Info[Context, Any], input: EnrolBeneficiaryInput
    ) -> Beneficiary:
        context = context_of(info)
        body = {
            key: enum_value(value)
            for key, value in strawberry.asdict(input).items()
            if key != "consent"
        }
        body["tracks"] = [enum_value(track) for track in input.tracks]
        body["consent"] = strawberry.asdict(input.consent)
        row = await context.services.call(
            "registration",
            "POST",
            "/beneficiaries",
            authorization=context.authorization,
            json=body,
        )
        return Beneficiary.of(row)

    @strawberry.mutation(description="Correct a record; only the fields sent change")
    async def rectify_beneficiary(
        self, info: Info[Context, Any], id: strawberry.ID, input: RectifyBeneficiaryInput
    ) -> Beneficiary:
        return await _change_beneficiary(
            info, "PATCH", f"/beneficiaries/{path_segment(id)}", rectification(input)
        )

    @strawberry.mutation(description="The person leaves the programme; what they did still counts")
    async def withdraw_beneficiary(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> Beneficiary:
        return await _change_beneficiary(
            info, "POST", f"/beneficiaries/{path_segment(id)}/withdrawal"
        )

    @strawberry.mutation(description="Give or withdraw consent for one purpose")
    async def set_consent(
        self, info: Info[Context, Any], id: strawberry.ID, purpose: ConsentPurpose, given: bool
    ) -> Beneficiary:
        return await _change_beneficiary(
            info,
            "PUT",
            f"/beneficiaries/{path_segment(id)}/consent/{purpose.value}",
            {"given": given},
        )

    @strawberry.mutation(
        description="Fold a duplicate record into the kept one (tracks joined, earlier enrolment "
        "date kept); the duplicate's personal data is destroyed"
    )
    async def merge_beneficiaries(
        self, info: Info[Context, Any], kept_id: strawberry.ID, duplicate_id: strawberry.ID
    ) -> Beneficiary:
        return await _change_beneficiary(
            info,
            "POST",
            f"/beneficiaries/{path_segment(kept_id)}/merge",
            {"duplicate_id": str(duplicate_id)},
        )

    @strawberry.mutation(
        description="Destroy a person's personal data for good; figures keep their contribution"
    )
    async def erase_beneficiary(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        reason: ErasureReason | None = ErasureReason.REQUEST_OF_PERSON,
    ) -> ErasureReceipt:
        context = context_of(info)
        row = await context.services.call(
            "registration",
            "DELETE",
            f"/beneficiaries/{path_segment(id)}",
            authorization=context.authorization,
            params={"reason": (reason or ErasureReason.REQUEST_OF_PERSON).value},
        )
        return ErasureReceipt.of(row)

    @strawberry.mutation(description="Create or edit a priority district; coordinators only")
    async def save_district(
        self, info: Info[Context, Any], id: strawberry.ID, input: DistrictInput
    ) -> District:
        context = context_of(info)
        row = await context.services.call(
            "registration",
            "PUT",
            f"/districts/{path_segment(id)}",
            authorization=context.authorization,
            json=strawberry.asdict(input),
        )
        return District.of(row)

    @strawberry.mutation(description="Create or edit an association; coordinators only")
    async def save_association(
        self, info: Info[Context, Any], id: strawberry.ID, input: AssociationInput
    ) -> Association:
        context = context_of(info)
        body = {**strawberry.asdict(input), "districts": [str(d) for d in input.districts]}
        row = await context.services.call(
            "registration",
            "PUT",
            f"/associations/{path_segment(id)}",
            authorization=context.authorization,
            json=body,
        )
        return Association.of(row)

    @strawberry.mutation(
        description="Anonymise people without contact for olderThanDays (dry run: only list them)"
    )
    async def run_retention(
        self, info: Info[Context, Any], dry_run: bool = True, older_than_days: int = 730
    ) -> RetentionRun:
        context = context_of(info)
        answer = await context.services.call(
            "registration",
            "POST",
            "/retention",
            authorization=context.authorization,
            params={"dry_run": str(dry_run).lower(), "older_than_days": str(older_than_days)},
        )
        return RetentionRun(
            dry_run=answer["dry_run"],
            older_than_days=answer["older_than_days"],
            beneficiary_ids=[strawberry.ID(i) for i in answer["beneficiary_ids"]],
        )
