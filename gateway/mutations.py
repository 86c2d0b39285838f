"""The GraphQL Mutation type: a person's record and rights, reference data, retention runs,
training and orientation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from contracts.api import registration

from . import orientation, training
from . import share_links as sharing
from .context import Context, context_of
from .enums import ConsentPurpose, ErasureReason, ReferralOutcome
from .inputs import AssociationInput, DistrictInput, EnrolBeneficiaryInput, RectifyBeneficiaryInput
from .outputs import Association, Beneficiary, District, ErasureReceipt, RetentionRun
from .rectification import rectification
from .wire import enum_value, path_segment


async def _change_beneficiary(
    info: Info[Context, Any], method: str, path: str, body: dict[str, Any] | None = None
) -> Beneficiary:
    context = context_of(info)
    changed = await context.services.answer(
        registration.BeneficiaryView,
        "registration",
        method,
        path,
        authorization=context.authorization,
        json=body,
    )
    return Beneficiary.of(changed)


@strawberry.type(
    description="Changes, each forwarded to the service that owns the record. Refused input "
    "comes back as a GraphQL error with `extensions.code = BAD_USER_INPUT` and "
    "`extensions.fields = [{field, message}]`, one entry per input field a form should mark "
    "(camelCase field names), saying what is accepted; an id that names nothing is reported on "
    "its field the same way. A duplicate is `CONFLICT` with `extensions.existingId`; a "
    "refusal of the caller's role `FORBIDDEN`"
)
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
        enrolled = await context.services.answer(
            registration.BeneficiaryView,
            "registration",
            "POST",
            "/beneficiaries",
            authorization=context.authorization,
            json=body,
        )
        return Beneficiary.of(enrolled)

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
        receipt = await context.services.answer(
            registration.ErasureReceiptView,
            "registration",
            "DELETE",
            f"/beneficiaries/{path_segment(id)}",
            authorization=context.authorization,
            params={"reason": (reason or ErasureReason.REQUEST_OF_PERSON).value},
        )
        return ErasureReceipt.of(receipt)

    @strawberry.mutation(
        description="A read-only public link to the anonymised programme figures (the "
        "dashboard at /?share={id}, JSON at GET /public/{id}; no token), until revoked; "
        "coordinators only"
    )
    async def create_share_link(self, info: Info[Context, Any], label: str) -> sharing.ShareLink:
        return await sharing.create_share_link(context_of(info), label)

    @strawberry.mutation(description="Close a share link for good; its id then answers 404")
    async def revoke_share_link(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> sharing.ShareLink:
        return await sharing.revoke_share_link(context_of(info), id)

    @strawberry.mutation(description="Create or edit a priority district; coordinators only")
    async def save_district(
        self, info: Info[Context, Any], id: strawberry.ID, input: DistrictInput
    ) -> District:
        context = context_of(info)
        saved = await context.services.answer(
            registration.DistrictView,
            "registration",
            "PUT",
            f"/districts/{path_segment(id)}",
            authorization=context.authorization,
            json=strawberry.asdict(input),
        )
        context.services.reference.clear()  # the next answers name it as saved
        return District.of(saved)

    @strawberry.mutation(description="Create or edit an association; coordinators only")
    async def save_association(
        self, info: Info[Context, Any], id: strawberry.ID, input: AssociationInput
    ) -> Association:
        context = context_of(info)
        body = {**strawberry.asdict(input), "districts": [str(d) for d in input.districts]}
        saved = await context.services.answer(
            registration.AssociationView,
            "registration",
            "PUT",
            f"/associations/{path_segment(id)}",
            authorization=context.authorization,
            json=body,
        )
        context.services.reference.clear()  # the next answers name it as saved
        return Association.of(saved)

    @strawberry.mutation(
        description="Anonymise people without contact for olderThanDays (dry run: only list them)"
    )
    async def run_retention(
        self, info: Info[Context, Any], dry_run: bool = True, older_than_days: int = 730
    ) -> RetentionRun:
        context = context_of(info)
        run = await context.services.answer(
            registration.RetentionRun,
            "registration",
            "POST",
            "/retention",
            authorization=context.authorization,
            params={"dry_run": str(dry_run).lower(), "older_than_days": str(older_than_days)},
        )
        return RetentionRun.of(run)

    @strawberry.mutation(description="Schedule one session (district: the association's own)")
    async def schedule_session(
        self, info: Info[Context, Any], input: training.ScheduleSessionInput
    ) -> training.Session:
        return await training.schedule_session(context_of(info), input)

    @strawberry.mutation(description="Schedule a weekly series of sessions, all or none (≤ 200)")
    async def schedule_recurring_sessions(
        self, info: Info[Context, Any], input: training.ScheduleRecurringSessionsInput
    ) -> list[training.Session]:
        return await training.schedule_recurring_sessions(context_of(info), input)

    @strawberry.mutation(
        description="Record one person's attendance; the same record again changes nothing"
    )
    async def record_attendance(
        self, info: Info[Context, Any], input: training.RecordAttendanceInput
    ) -> training.Attendance:
        return await training.record_attendance(context_of(info), input)

    @strawberry.mutation(
        description="Record a session's whole roll-call, all or none; lines already recorded "
        "the same are unchanged (a resend changes nothing)"
    )
    async def record_roll_call(
        self,
        info: Info[Context, Any],
        session_id: strawberry.ID,
        records: list[training.RollCallRecordInput],
        correct: Annotated[
            bool,
            strawberry.argument(
                description="A line that differs from the recorded one replaces it (false: "
                "such a line is a CONFLICT)"
            ),
        ] = False,
    ) -> training.RollCall:
        return await training.record_roll_call(context_of(info), session_id, records, correct)

    @strawberry.mutation(description="Set the headcount of people attending without enrolment")
    async def record_anonymous_attendance(
        self, info: Info[Context, Any], session_id: strawberry.ID, count: int
    ) -> training.Session:
        return await training.record_anonymous_attendance(context_of(info), session_id, count)

    @strawberry.mutation(description="Record a Pix assessment of one competence")
    async def record_assessment(
        self, info: Info[Context, Any], input: training.RecordAssessmentInput
    ) -> training.Assessment:
        return await training.record_assessment(context_of(info), input)

    @strawberry.mutation(
        description="Record an association's maturity self-assessment: an answer from 0 to 3 to "
        "every question (maturityQuestionnaire); the score adds the staff sessions' hours. "
        "Coordinators, or the association's own staff"
    )
    async def assess_association_maturity(
        self,
        info: Info[Context, Any],
        association_id: strawberry.ID,
        answers: list[training.MaturityAnswerInput],
        assessed_at: Annotated[
            dt.datetime | None,
            strawberry.argument(description="When it was filled in (default: now); not later"),
        ] = None,
    ) -> training.AssociationMaturity:
        return await training.assess_association_maturity(
            context_of(info), association_id, answers, assessed_at
        )

    @strawberry.mutation(description="Record a career-discovery workshop and its participants")
    async def record_workshop(
        self, info: Info[Context, Any], input: orientation.RecordWorkshopInput
    ) -> orientation.Workshop:
        return await orientation.record_workshop(context_of(info), input)

    @strawberry.mutation(description="The job families a person is interested in")
    async def set_interests(
        self, info: Info[Context, Any], beneficiary_id: strawberry.ID, job_families: list[str]
    ) -> orientation.Interests:
        return await orientation.set_interests(context_of(info), beneficiary_id, job_families)

    @strawberry.mutation(description="Refer a person to a partner; needs their consent to share")
    async def refer_beneficiary(
        self, info: Info[Context, Any], input: orientation.ReferBeneficiaryInput
    ) -> orientation.Referral:
        return await orientation.refer_beneficiary(context_of(info), input)

    @strawberry.mutation(description="The partner's answer to a referral (a reason when refused)")
    async def resolve_referral(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        outcome: ReferralOutcome,
        refusal_reason: str | None = None,
    ) -> orientation.Referral:
        return await orientation.resolve_referral(context_of(info), id, outcome, refusal_reason)

    @strawberry.mutation(description="Record what a person went on to (once per person and kind)")
    async def record_placement(
        self, info: Info[Context, Any], input: orientation.RecordPlacementInput
    ) -> orientation.Placement:
        return await orientation.record_placement(context_of(info), input)

    @strawberry.mutation(description="Whether the person was still in post at 3 or 6 months")
    async def record_follow_up(
        self,
        info: Info[Context, Any],
        placement_id: strawberry.ID,
        months: int,
        still_in_post: bool,
    ) -> orientation.FollowUp:
        return await orientation.record_follow_up(
            context_of(info), placement_id, months, still_in_post
        )
