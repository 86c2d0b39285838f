"""The GraphQL schema: types, queries and mutations composed from the services."""

from __future__ import annotations

import asyncio
import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from kit.auth import AuthError, Principal, principal_from_header
from kit.settings import Settings

from .services import AccessDenied, Services
from .tracing import PrivateOpenTelemetryExtension

# The contracts' enums, exposed by member name (FEMALE, DIGITAL_CAREERS…) as GraphQL values.
strawberry.enum(Gender, description="Gender as the person declares it")
strawberry.enum(Track, description="Programme track")
strawberry.enum(EmploymentStatus, description="Employment status at entry")
strawberry.enum(AgeBand, description="Age band, from the birth year")


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
    employment_status: EmploymentStatus | None = None


def _datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


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
            f"/beneficiaries/{id}",
            authorization=context.authorization,
            missing_ok=True,
        )
        return Beneficiary.of(row) if row else None

    @strawberry.field(description="The programme's priority districts")
    async def districts(self, info: Info[Context, Any]) -> list[District]:
        return [District.of(row) for row in await context_of(info).reference("districts")]

    @strawberry.field(description="The associations running the programme")
    async def associations(self, info: Info[Context, Any]) -> list[Association]:
        return [
            Association(
                id=strawberry.ID(row["id"]), name=row["name"], district_ids=row["districts"]
            )
            for row in await context_of(info).reference("associations")
        ]


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


def _mask(error: GraphQLError) -> bool:
    """Mask everything but the errors we raise on purpose (they carry a code)."""
    return not (error.extensions or {}).get("code")


EXTENSIONS: list[Any] = [
    PrivateOpenTelemetryExtension,
    QueryDepthLimiter(max_depth=10),
    MaxTokensLimiter(max_token_count=2000),
    MaxAliasesLimiter(max_alias_count=20),
    MaskErrors(should_mask_error=_mask),
]
schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=EXTENSIONS)
