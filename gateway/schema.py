"""The GraphQL schema: types, queries and mutations composed from the services."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from enum import Enum
from typing import Any
from urllib.parse import quote

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import BaseContext
from strawberry.scalars import JSON
from strawberry.types import Info

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.registration import ConsentPurpose, ErasureReason
from kit.auth import AuthError, Principal, principal_from_header
from kit.settings import SERVICE_NAMES, Settings

from .services import AccessDenied, Services, UserInputError
from .tracing import PrivateOpenTelemetryExtension

# The contracts' enums, exposed by member name (FEMALE, DIGITAL_CAREERS…) as GraphQL values.
strawberry.enum(Gender, description="Gender as the person declares it")
strawberry.enum(Track, description="Programme track")
strawberry.enum(EmploymentStatus, description="Employment status at entry")
strawberry.enum(AgeBand, description="Age band, from the birth year")
strawberry.enum(ConsentPurpose, description="What a person may consent to, purpose by purpose")
strawberry.enum(ErasureReason, description="Why a person's data was erased")


class Context(BaseContext):
    """Per-request state: the caller's token and the reference data fetched for this request."""

    def __init__(self, settings: Settings, services: Services) -> None:
        super().__init__()
        self.settings = settings
        self.services = services
        self._reference: dict[str, asyncio.Task[list[dict[str, Any]]]] = {}

    @property
    def authorization(self) -> str:
        return self.request.headers.get("authorization", "") if self.request else ""

    @property
    def principal(self) -> Principal:
        try:
            return principal_from_header(self.settings, self.authorization or None)
        except AuthError as error:
            raise AccessDenied(str(error), error.status) from error

    async def reference(self, kind: str) -> list[dict[str, Any]]:
        """Districts or associations, fetched once per request however many resolvers ask."""
        if kind not in self._reference:
            self.principal  # noqa: B018 — refuse anonymous callers before any service call
            # A task, not its result: concurrent resolvers must share the one call in flight.
            self._reference[kind] = asyncio.ensure_future(
                self.services.call(
                    "registration", "GET", f"/{kind}", authorization=self.authorization
                )
            )
        return await self._reference[kind]


def context_of(info: Info[Context, Any]) -> Context:
    return info.context


@strawberry.type(description="A priority district (QPV) of Bordeaux Métropole")
class District:
    id: strawberry.ID
    name: str
    commune: str
    qpv_code: str
    insee_code: str

    @staticmethod
    def of(row: dict[str, Any]) -> District:
        return District(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            commune=row["commune"],
            qpv_code=row["qpv_code"],
            insee_code=row["insee_code"],
        )


@strawberry.type(description="A neighbourhood association running the programme")
class Association:
    id: strawberry.ID
    name: str
    district_ids: strawberry.Private[list[str]]

    @strawberry.field(description="Districts the association serves")
    async def districts(self, info: Info[Context, Any]) -> list[District]:
        rows = await context_of(info).reference("districts")
        return [District.of(row) for row in rows if row["id"] in self.district_ids]


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

    @staticmethod
    def of(row: dict[str, Any]) -> Beneficiary:
        consent = row["consent"]
        return Beneficiary(
            id=strawberry.ID(row["id"]),
            association_id=strawberry.ID(row["association_id"]),
            district_id=strawberry.ID(row["district_id"]),
            first_name=row["first_name"],
            last_name=row["last_name"],
            birth_year=row.get("birth_year"),
            phone=row.get("phone"),
            email=row.get("email"),
            street=row.get("street"),
            postcode=row.get("postcode"),
            insee_code=row.get("insee_code"),
            qpv_resident=row["qpv_resident"],
            status=row["status"],
            gender=Gender(row["gender"]),
            age_band=AgeBand(row["age_band"]),
            tracks=[Track(track) for track in row["tracks"]],
            employment_status=EmploymentStatus(row["employment_status"]),
            consent=Consent(
                programme_follow_up=consent["programme_follow_up"],
                share_with_partners=consent["share_with_partners"],
                contact_for_surveys=consent["contact_for_surveys"],
            ),
            enrolled_at=_datetime(row["enrolled_at"]) or dt.datetime.now(dt.UTC),
            last_contact_at=_datetime(row.get("last_contact_at")),
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
    def of(row: dict[str, Any]) -> ErasureReceipt:
        return ErasureReceipt(
            id=strawberry.ID(row["id"]),
            beneficiary_id=strawberry.ID(row["beneficiary_id"]),
            erased_at=_datetime(row["erased_at"]) or dt.datetime.now(dt.UTC),
            reason=ErasureReason(row["reason"]),
            requested_by=row["requested_by"],
            erased=list(row["erased"]),
        )


@strawberry.type(description="Who read or changed which record, when and how (ids only)")
class AuditEntry:
    at: dt.datetime
    actor: str = strawberry.field(description="Token subject of the caller")
    role: str
    action: str
    beneficiary_id: strawberry.ID | None
    route: str


@strawberry.type(description="What one partner sent through intake: accepted and rejected counts")
class PartnerDelivery:
    partner: str
    accepted: int
    rejected: int
    last_error: str | None
    last_error_at: dt.datetime | None
    last_seen: dt.datetime | None


@strawberry.type(description="People without contact for the period: listed, or anonymised")
class RetentionRun:
    dry_run: bool
    older_than_days: int
    beneficiary_ids: list[strawberry.ID]


@strawberry.type
class Targets:
    trained: int
    directed_to_employment: int
    associations_upskilled: int


@strawberry.type
class DistrictImpact:
    district_id: strawberry.ID
    name: str
    enrolled: int


@strawberry.type
class AssociationImpact:
    association_id: strawberry.ID
    name: str
    enrolled: int


@strawberry.type
class GenderImpact:
    gender: Gender
    enrolled: int


@strawberry.type(description="Programme figures against its targets, for one scope")
class Impact:
    enrolled: int
    trained: int
    directed_to_employment: int
    associations_upskilled: int
    women_share_careers: float | None = strawberry.field(
        description="Share of women among careers-track participants (0–1); null when none"
    )
    targets: Targets
    by_district: list[DistrictImpact]
    by_association: list[AssociationImpact]
    by_gender: list[GenderImpact]
    updated_at: dt.datetime | None


@strawberry.input(description="Limit the figures to one association, district or track")
class ImpactFilter:
    association_id: strawberry.ID | None = None
    district_id: strawberry.ID | None = None
    track: Track | None = None


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
    siret: str | None = None
    rna: str | None = None
    contact: str | None = None


def _datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _enum_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_enum_value(item) for item in value]
    return value.value if isinstance(value, Enum) else value


def _segment(value: str) -> str:
    """An id as one URL path segment (an id with a slash must not reach another route)."""
    return quote(str(value), safe="")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _rectification(change: RectifyBeneficiaryInput) -> dict[str, Any]:
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
    return {name: _enum_value(value) for name, value in sent.items()}


def _association(row: dict[str, Any]) -> Association:
    return Association(id=strawberry.ID(row["id"]), name=row["name"], district_ids=row["districts"])


async def _impact(info: Info[Context, Any], impact_filter: ImpactFilter | None) -> Impact:
    context = context_of(info)
    params = {}
    if impact_filter is not None:
        for name in ("association_id", "district_id", "track"):
            value = _enum_value(getattr(impact_filter, name))
            if value is not None:
                params[name] = str(value)
    answer = await context.services.call(
        "reporting", "GET", "/impact", authorization=context.authorization, params=params
    )
    districts = {row["id"]: row["name"] for row in await context.reference("districts")}
    associations = {row["id"]: row["name"] for row in await context.reference("associations")}

    def rows(dimension: str) -> list[dict[str, Any]]:
        found = [b for b in answer["breakdowns"] if b["dimension"] == dimension]
        return sorted(found, key=lambda b: (-b["enrolled"], b["value"]))

    targets = answer["targets"]
    return Impact(
        enrolled=answer["enrolled"],
        trained=answer["trained"],
        directed_to_employment=answer["directed_to_employment"],
        associations_upskilled=answer["associations_upskilled"],
        women_share_careers=answer["women_share_careers"],
        targets=Targets(
            trained=targets["trained"],
            directed_to_employment=targets["directed_to_employment"],
            associations_upskilled=targets["associations_upskilled"],
        ),
        by_district=[
            DistrictImpact(
                district_id=strawberry.ID(b["value"]),
                name=districts.get(b["value"], "Unknown district"),
                enrolled=b["enrolled"],
            )
            for b in rows("district")
        ],
        by_association=[
            AssociationImpact(
                association_id=strawberry.ID(b["value"]),
                name=associations.get(b["value"], "Unknown association"),
                enrolled=b["enrolled"],
            )
            for b in rows("association")
        ],
        by_gender=[
            GenderImpact(gender=Gender(b["value"]), enrolled=b["enrolled"])
            for b in rows("gender")
            if b["value"] in Gender._value2member_map_
        ],
        updated_at=_datetime(answer.get("updated_at")),
    )


async def _change_beneficiary(
    info: Info[Context, Any], method: str, path: str, body: dict[str, Any] | None = None
) -> Beneficiary:
    context = context_of(info)
    row = await context.services.call(
        "registration", method, path, authorization=context.authorization, json=body
    )
    return Beneficiary.of(row)


@strawberry.type
class Query:
    @strawberry.field(description="Programme figures against targets, optionally filtered")
    async def impact(self, info: Info[Context, Any], filter: ImpactFilter | None = None) -> Impact:
        return await _impact(info, filter)

    @strawberry.field(description="One beneficiary; null when unknown or not yours to see")
    async def beneficiary(self, info: Info[Context, Any], id: strawberry.ID) -> Beneficiary | None:
        context = context_of(info)
        row = await context.services.call(
            "registration",
            "GET",
            f"/beneficiaries/{_segment(id)}",
            authorization=context.authorization,
            missing_ok=True,
        )
        return Beneficiary.of(row) if row else None

    @strawberry.field(
        description="Everything every service holds about one person (right of access); "
        "coordinators only"
    )
    async def beneficiary_export(self, info: Info[Context, Any], id: strawberry.ID) -> JSON:
        context = context_of(info)
        answers = await asyncio.gather(
            *(
                context.services.call(
                    service,
                    "GET",
                    f"/beneficiaries/{_segment(id)}/export",
                    authorization=context.authorization,
                )
                for service in SERVICE_NAMES
            ),
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

    @strawberry.field(description="Who read or changed records, newest first; coordinators only")
    async def audit_log(
        self,
        info: Info[Context, Any],
        beneficiary_id: strawberry.ID | None = None,
        actor: str | None = None,
        limit: int | None = 100,
    ) -> list[AuditEntry]:
        context = context_of(info)
        params = {"limit": str(100 if limit is None else limit)}
        if beneficiary_id is not None:
            params["beneficiary_id"] = str(beneficiary_id)
        if actor is not None:
            params["actor"] = actor
        rows = await context.services.call(
            "registration", "GET", "/audit", authorization=context.authorization, params=params
        )
        return [
            AuditEntry(
                at=_datetime(row["at"]) or dt.datetime.now(dt.UTC),
                actor=row["actor"],
                role=row["role"],
                action=row["action"],
                beneficiary_id=(
                    strawberry.ID(row["beneficiary_id"]) if row.get("beneficiary_id") else None
                ),
                route=row["route"],
            )
            for row in rows
        ]

    @strawberry.field(description="Partner intake counts; a partner sees only its own line")
    async def delivery_log(
        self, info: Info[Context, Any], partner: str | None = None
    ) -> list[PartnerDelivery]:
        context = context_of(info)
        rows = await context.services.call(
            "registration",
            "GET",
            "/deliveries",
            authorization=context.authorization,
            params={"partner": partner} if partner else None,
        )
        return [
            PartnerDelivery(
                partner=row["partner"],
                accepted=row["accepted"],
                rejected=row["rejected"],
                last_error=row.get("last_error"),
                last_error_at=_datetime(row.get("last_error_at")),
                last_seen=_datetime(row.get("last_seen")),
            )
            for row in rows
        ]

    @strawberry.field(description="The receipt of a person's erasure; null when never erased")
    async def erasure_receipt(
        self, info: Info[Context, Any], beneficiary_id: strawberry.ID
    ) -> ErasureReceipt | None:
        context = context_of(info)
        row = await context.services.call(
            "registration",
            "GET",
            f"/erasures/{_segment(beneficiary_id)}",
            authorization=context.authorization,
            missing_ok=True,
        )
        return ErasureReceipt.of(row) if row else None

    @strawberry.field(description="The programme's priority districts")
    async def districts(self, info: Info[Context, Any]) -> list[District]:
        return [District.of(row) for row in await context_of(info).reference("districts")]

    @strawberry.field(description="The associations running the programme")
    async def associations(self, info: Info[Context, Any]) -> list[Association]:
        return [_association(row) for row in await context_of(info).reference("associations")]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Enrol a resident; personal data stays in registration")
    async def enrol_beneficiary(
        self, info: Info[Context, Any], input: EnrolBeneficiaryInput
    ) -> Beneficiary:
        context = context_of(info)
        body = {
            key: _enum_value(value)
            for key, value in strawberry.asdict(input).items()
            if key != "consent"
        }
        body["tracks"] = [_enum_value(track) for track in input.tracks]
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
            info, "PATCH", f"/beneficiaries/{_segment(id)}", _rectification(input)
        )

    @strawberry.mutation(description="The person leaves the programme; what they did still counts")
    async def withdraw_beneficiary(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> Beneficiary:
        return await _change_beneficiary(info, "POST", f"/beneficiaries/{_segment(id)}/withdrawal")

    @strawberry.mutation(description="Give or withdraw consent for one purpose")
    async def set_consent(
        self, info: Info[Context, Any], id: strawberry.ID, purpose: ConsentPurpose, given: bool
    ) -> Beneficiary:
        return await _change_beneficiary(
            info,
            "PUT",
            f"/beneficiaries/{_segment(id)}/consent/{purpose.value}",
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
            f"/beneficiaries/{_segment(kept_id)}/merge",
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
            f"/beneficiaries/{_segment(id)}",
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
            f"/districts/{_segment(id)}",
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
            f"/associations/{_segment(id)}",
            authorization=context.authorization,
            json=body,
        )
        return _association(row)

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


def _mask(error: GraphQLError) -> bool:
    """Mask what an unexpected exception says; keep GraphQL's own errors (syntax, validation,
    variable types: they tell the caller what to fix) and the errors we raise on purpose."""
    if (error.extensions or {}).get("code"):
        return False
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


EXTENSIONS: list[Any] = [
    PrivateOpenTelemetryExtension,
    QueryDepthLimiter(max_depth=10),
    MaxTokensLimiter(max_token_count=2000),
    MaxAliasesLimiter(max_alias_count=20),
    MaskErrors(should_mask_error=_mask),
]
schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=EXTENSIONS)
