"""Registration in GraphQL: districts, associations, beneficiaries and their 360° view, the
rights of the people enrolled (rectification, consent, right of access, erasure) and retention
runs, each made from registration's answer as ``contracts.api.registration`` types it."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from enum import StrEnum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from contracts.api import Page
from contracts.api.orientation import PersonRecords
from contracts.api.registration import (
    AssociationView,
    BeneficiaryExport,
    BeneficiaryView,
    DistrictView,
    ErasureReceiptView,
)
from contracts.api.registration import RetentionRun as RetentionRunView
from kit.settings import SERVICE_NAMES

from . import orientation, training
from .context import Context, context_of
from .enums import AgeBand, ConsentPurpose, EmploymentStatus, ErasureReason, Gender, Track
from .pagination import DEFAULT_FIRST, Connection, read_connection
from .services import UserInputError, validated
from .wire import enum_value, param_text, path_segment

# -- types --------------------------------------------------------------------------------


@strawberry.type(description="A priority district (QPV) of Bordeaux Métropole")
class District:
    id: strawberry.ID
    name: str
    commune: str
    qpv_code: str
    insee_code: str

    @staticmethod
    def of(district: DistrictView) -> District:
        return District(
            id=strawberry.ID(district.id),
            name=district.name,
            commune=district.commune,
            qpv_code=district.qpv_code,
            insee_code=district.insee_code,
        )


@strawberry.type(description="A neighbourhood association running the programme")
class Association:
    id: strawberry.ID
    name: str
    siret: str | None = strawberry.field(
        description="SIRET number of the association's establishment (14 digits), if known"
    )
    rna: str | None = strawberry.field(
        description="Number in the national register of associations (RNA, W + 9 digits), if known"
    )
    district_ids: strawberry.Private[list[str]]

    @strawberry.field(description="Districts the association serves")
    async def districts(self, info: Info[Context, Any]) -> list[District]:
        districts = await context_of(info).reference("districts")
        return [District.of(d) for d in districts if d.id in self.district_ids]

    @staticmethod
    def of(association: AssociationView) -> Association:
        return Association(
            id=strawberry.ID(association.id),
            name=association.name,
            siret=association.siret,
            rna=association.rna,
            district_ids=list(association.districts),
        )


@strawberry.type
class Consent:
    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


@strawberry.type(description="One resident enrolled in the programme")
class Beneficiary:
    id: strawberry.ID
    association_id: strawberry.ID
    district_id: strawberry.ID
    first_name: str
    last_name: str
    birth_year: int | None
    phone: str | None = strawberry.field(description="null: the person has no phone")
    email: str | None
    street: str | None
    postcode: str | None
    insee_code: str | None = strawberry.field(description="INSEE code of the commune")
    qpv_resident: bool = strawberry.field(description="Lives inside a priority district")
    status: str = strawberry.field(description="active or withdrawn")
    gender: Gender
    age_band: AgeBand
    tracks: list[Track]
    employment_status: EmploymentStatus
    consent: Consent
    enrolled_at: dt.datetime
    last_contact_at: dt.datetime | None

    # The 360° view: each field below is one batched call per service for a whole page of
    # people (the request's loaders), never one call per person.

    @strawberry.field(description="The association that enrolled the person")
    async def association(self, info: Info[Context, Any]) -> Association | None:
        associations = await context_of(info).reference("associations")
        found = (a for a in associations if a.id == self.association_id)
        return next((Association.of(a) for a in found), None)

    @strawberry.field(description="The priority district the person belongs to")
    async def district(self, info: Info[Context, Any]) -> District | None:
        districts = await context_of(info).reference("districts")
        return next((District.of(d) for d in districts if d.id == self.district_id), None)

    @strawberry.field(
        description="Training: attendance totals, trained or not, assessments; null when "
        "training has not heard of the person yet"
    )
    async def progress(self, info: Info[Context, Any]) -> training.Progress | None:
        row = await context_of(info).loaders.progress.load(str(self.id))
        return training.Progress.of(row) if row else None

    @strawberry.field(description="Training: every attendance record, in session order")
    async def attendance(self, info: Info[Context, Any]) -> list[training.Attendance]:
        rows = await context_of(info).loaders.attendance.load(str(self.id))
        return [training.Attendance.of(row) for row in rows]

    async def _orientation(self, info: Info[Context, Any]) -> PersonRecords:
        """What orientation holds about the person; nothing when it holds nothing the caller
        may see."""
        records = await context_of(info).loaders.orientation.load(str(self.id))
        return records if records is not None else orientation.NO_RECORDS

    @strawberry.field(description="Orientation: career-discovery workshops attended")
    async def workshops(self, info: Info[Context, Any]) -> list[orientation.Workshop]:
        records = await self._orientation(info)
        return [orientation.Workshop.of(workshop) for workshop in records.workshops]

    @strawberry.field(description="Orientation: the job families the person is interested in")
    async def interests(self, info: Info[Context, Any]) -> orientation.Interests | None:
        interests = (await self._orientation(info)).interests
        return orientation.Interests.of(interests) if interests else None

    @strawberry.field(description="Orientation: referrals to partners, oldest first")
    async def referrals(self, info: Info[Context, Any]) -> list[orientation.Referral]:
        records = await self._orientation(info)
        return [orientation.Referral.of(referral) for referral in records.referrals]

    @strawberry.field(description="Orientation: what the person went on to, by start date")
    async def placements(self, info: Info[Context, Any]) -> list[orientation.Placement]:
        records = await self._orientation(info)
        return [orientation.Placement.of(placement) for placement in records.placements]

    @strawberry.field(description="Orientation: 3- and 6-month follow-ups recorded")
    async def follow_ups(self, info: Info[Context, Any]) -> list[orientation.FollowUp]:
        records = await self._orientation(info)
        return [orientation.FollowUp.of(follow_up) for follow_up in records.follow_ups]

    @staticmethod
    def of(person: BeneficiaryView) -> Beneficiary:
        consent = person.consent
        return Beneficiary(
            id=strawberry.ID(person.id),
            association_id=strawberry.ID(person.association_id),
            district_id=strawberry.ID(person.district_id),
            first_name=person.first_name,
            last_name=person.last_name,
            birth_year=person.birth_year,
            phone=person.phone,
            email=person.email,
            street=person.street,
            postcode=person.postcode,
            insee_code=person.insee_code,
            qpv_resident=person.qpv_resident,
            status=person.status,
            gender=person.gender,
            age_band=person.age_band,
            tracks=list(person.tracks),
            employment_status=person.employment_status,
            consent=Consent(
                programme_follow_up=consent.programme_follow_up,
                share_with_partners=consent.share_with_partners,
                contact_for_surveys=consent.contact_for_surveys,
            ),
            enrolled_at=person.enrolled_at,
            last_contact_at=person.last_contact_at,
        )


@strawberry.type(description="Proof that a person's data was erased; it holds no personal data")
class ErasureReceipt:
    id: strawberry.ID
    beneficiary_id: strawberry.ID
    erased_at: dt.datetime
    reason: ErasureReason
    requested_by: str = strawberry.field(description="Who asked for the erasure (token subject)")
    erased: list[str] = strawberry.field(description="What was destroyed")

    @staticmethod
    def of(receipt: ErasureReceiptView) -> ErasureReceipt:
        return ErasureReceipt(
            id=strawberry.ID(receipt.id),
            beneficiary_id=strawberry.ID(receipt.beneficiary_id),
            erased_at=receipt.erased_at,
            reason=receipt.reason,
            requested_by=receipt.requested_by,
            erased=list(receipt.erased),
        )


@strawberry.type(description="People without contact for the period: listed, or anonymised")
class RetentionRun:
    dry_run: bool
    older_than_days: int
    beneficiary_ids: list[strawberry.ID]

    @staticmethod
    def of(run: RetentionRunView) -> RetentionRun:
        return RetentionRun(
            dry_run=run.dry_run,
            older_than_days=run.older_than_days,
            beneficiary_ids=[strawberry.ID(i) for i in run.beneficiary_ids],
        )


# -- inputs -------------------------------------------------------------------------------


@strawberry.input
class ConsentInput:
    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


@strawberry.input
class EnrolBeneficiaryInput:
    association_id: strawberry.ID
    district_id: strawberry.ID
    first_name: str
    last_name: str
    gender: Gender
    tracks: list[Track]
    consent: ConsentInput
    birth_year: int | None = None
    phone: str | None = None
    email: str | None = None
    street: str | None = None
    postcode: str | None = None
    insee_code: str | None = strawberry.field(default=None, description="INSEE code of the commune")
    qpv_resident: bool = strawberry.field(
        default=True, description="Lives inside a priority district"
    )
    employment_status: EmploymentStatus | None = None
    request_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="An id the sender chooses for this enrolment (e.g. a UUID made on the "
        "device): sent again, the same request returns the record it created and changes "
        "nothing",
    )


@strawberry.input(
    description="Corrections to a record: omitted fields stay as they are; null clears a contact "
    "or address field (phone, email, street, postcode, inseeCode)"
)
class RectifyBeneficiaryInput:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    birth_year: int | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    street: str | None = strawberry.UNSET
    postcode: str | None = strawberry.UNSET
    insee_code: str | None = strawberry.UNSET
    district_id: strawberry.ID | None = strawberry.UNSET
    gender: Gender | None = strawberry.UNSET
    tracks: list[Track] | None = strawberry.UNSET
    employment_status: EmploymentStatus | None = strawberry.UNSET
    qpv_resident: bool | None = strawberry.UNSET


@strawberry.input
class DistrictInput:
    name: str
    commune: str
    insee_code: str = strawberry.field(description="Five characters, e.g. 33063")
    qpv_code: str = strawberry.field(description="National QPV code, e.g. QN03306M")


@strawberry.input
class AssociationInput:
    name: str
    districts: list[strawberry.ID] = strawberry.field(description="Ids of the districts served")
    siret: str | None = strawberry.field(
        default=None,
        description="14 digits (spaces allowed), checked with its Luhn key (La Poste's: digits "
        "adding up to a multiple of 5)",
    )
    rna: str | None = strawberry.field(
        default=None, description="RNA number: W followed by 9 digits (Corsica: W2A…, W2B…)"
    )
    contact: str | None = None


# Fields a record always has: null cannot clear them (omit them to keep the current value).
NOT_CLEARABLE = (
    "first_name",
    "last_name",
    "birth_year",
    "district_id",
    "gender",
    "tracks",
    "employment_status",
    "qpv_resident",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def rectification(change: RectifyBeneficiaryInput) -> dict[str, Any]:
    """The fields the caller sent (UNSET ones are left out), as registration names them."""
    sent = {
        f.name: getattr(change, f.name)
        for f in dataclasses.fields(change)
        if getattr(change, f.name) is not strawberry.UNSET
    }
    cleared = [name for name in NOT_CLEARABLE if name in sent and sent[name] is None]
    if cleared:
        raise UserInputError(
            "; ".join(f"{_camel(name)}: cannot be cleared" for name in cleared),
            [
                {
                    "field": _camel(name),
                    "message": "cannot be cleared; leave it out to keep the current value",
                }
                for name in cleared
            ],
        )
    return {name: enum_value(value) for name, value in sent.items()}


# -- the list -----------------------------------------------------------------------------


class BeneficiaryStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


strawberry.enum(BeneficiaryStatus, description="Whether a person is still in the programme")


@strawberry.input(description="Which beneficiaries to list; unset fields do not filter")
class BeneficiaryFilter:
    association_id: strawberry.ID | None = None
    district_id: strawberry.ID | None = None
    track: Track | None = None
    status: BeneficiaryStatus | None = None


async def beneficiaries_page(
    context: Context, where: BeneficiaryFilter | None, first: int, after: str | None
) -> Connection[Beneficiary]:
    where = where or BeneficiaryFilter()
    filters = {
        "association_id": param_text(where.association_id),
        "district_id": param_text(where.district_id),
        "track": param_text(where.track),
        "status": param_text(where.status),
    }
    return await read_connection(
        context,
        "registration",
        "/beneficiaries",
        "beneficiaries",
        filters,
        first,
        after,
        Page[BeneficiaryView],
        Beneficiary.of,
    )


# -- fields -------------------------------------------------------------------------------

# Each service's right-of-access export as its contract (contracts/api); a service not named
# here is passed on unchecked.
EXPORT_CONTRACTS: dict[str, Any] = {"registration": BeneficiaryExport}


async def _export(context: Context, service: str, beneficiary_id: str) -> Any:
    """What ``service`` holds about the person, checked against its contract and passed on as
    the service wrote it: a field added to an export since still reaches the person."""
    path = f"/beneficiaries/{path_segment(beneficiary_id)}/export"
    body = await context.services.call(service, "GET", path, authorization=context.authorization)
    if service in EXPORT_CONTRACTS:
        validated(EXPORT_CONTRACTS[service], body, service, path)
    return body


async def _change_beneficiary(
    info: Info[Context, Any], method: str, path: str, body: dict[str, Any] | None = None
) -> Beneficiary:
    context = context_of(info)
    changed = await context.services.answer(
        BeneficiaryView,
        "registration",
        method,
        path,
        authorization=context.authorization,
        json=body,
    )
    return Beneficiary.of(changed)


@strawberry.type
class RegistrationQuery:
    @strawberry.field(description="One beneficiary; null when unknown or not yours to see")
    async def beneficiary(self, info: Info[Context, Any], id: strawberry.ID) -> Beneficiary | None:
        context = context_of(info)
        found = await context.services.answer_if_found(
            BeneficiaryView,
            "registration",
            "GET",
            f"/beneficiaries/{path_segment(id)}",
            authorization=context.authorization,
        )
        return Beneficiary.of(found) if found else None

    @strawberry.field(
        description="Everything every service holds about one person (right of access); "
        "coordinators only"
    )
    async def beneficiary_export(self, info: Info[Context, Any], id: strawberry.ID) -> JSON:
        context = context_of(info)
        answers = await asyncio.gather(
            *(_export(context, service, id) for service in SERVICE_NAMES),
            return_exceptions=True,
        )
        for answer in answers:  # registration's refusal first: it knows whether the person exists
            if isinstance(answer, BaseException):
                raise answer
        return JSON(
            {
                "beneficiaryId": id,
                "exportedAt": dt.datetime.now(dt.UTC).isoformat(),
                "services": dict(zip(SERVICE_NAMES, answers, strict=True)),
            }
        )

    @strawberry.field(description="The receipt of a person's erasure; null when never erased")
    async def erasure_receipt(
        self, info: Info[Context, Any], beneficiary_id: strawberry.ID
    ) -> ErasureReceipt | None:
        context = context_of(info)
        receipt = await context.services.answer_if_found(
            ErasureReceiptView,
            "registration",
            "GET",
            f"/erasures/{path_segment(beneficiary_id)}",
            authorization=context.authorization,
        )
        return ErasureReceipt.of(receipt) if receipt else None

    @strawberry.field(description="The programme's priority districts")
    async def districts(self, info: Info[Context, Any]) -> list[District]:
        return [District.of(d) for d in await context_of(info).reference("districts")]

    @strawberry.field(description="The associations running the programme")
    async def associations(self, info: Info[Context, Any]) -> list[Association]:
        return [Association.of(a) for a in await context_of(info).reference("associations")]

    @strawberry.field(
        description="Beneficiaries in enrolment order, filtered; association staff see their "
        "own association's. `first` (1-100, default 20) items after the cursor `after`; each "
        "person's training and orientation fields cost one batched call per service for the "
        "whole page. A bad cursor or page size is a BAD_USER_INPUT error naming the argument"
    )
    async def beneficiaries(
        self,
        info: Info[Context, Any],
        filter: BeneficiaryFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[Beneficiary]:
        return await beneficiaries_page(context_of(info), filter, first, after)


@strawberry.type
class RegistrationMutation:
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
            BeneficiaryView,
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
            ErasureReceiptView,
            "registration",
            "DELETE",
            f"/beneficiaries/{path_segment(id)}",
            authorization=context.authorization,
            params={"reason": (reason or ErasureReason.REQUEST_OF_PERSON).value},
        )
        return ErasureReceipt.of(receipt)

    @strawberry.mutation(description="Create or edit a priority district; coordinators only")
    async def save_district(
        self, info: Info[Context, Any], id: strawberry.ID, input: DistrictInput
    ) -> District:
        context = context_of(info)
        saved = await context.services.answer(
            DistrictView,
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
            AssociationView,
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
            RetentionRunView,
            "registration",
            "POST",
            "/retention",
            authorization=context.authorization,
            params={"dry_run": str(dry_run).lower(), "older_than_days": str(older_than_days)},
        )
        return RetentionRun.of(run)
