"""The GraphQL Query type: figures, beneficiaries, exports, logs, reference data, training
and orientation."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from contracts.api import registration
from contracts.api.intake import DeliveryLine
from kit import audit
from kit.settings import SERVICE_NAMES

from . import lists, orientation, training
from . import share_links as sharing
from .context import Context, context_of
from .impact import compose_impact
from .inputs import ImpactFilter
from .outputs import (
    Association,
    AuditEntry,
    Beneficiary,
    District,
    ErasureReceipt,
    Impact,
    PartnerDelivery,
)
from .pagination import DEFAULT_FIRST, Connection
from .services import validated
from .wire import path_segment

# The services partners send requests to (dn.intake.<service>).
INTAKE_SERVICES = ("registration", "training", "orientation")
# Each service's right-of-access export as its contract (contracts/api); a service not named
# here is passed on unchecked.
EXPORT_CONTRACTS: dict[str, Any] = {"registration": registration.BeneficiaryExport}


async def _export(context: Context, service: str, beneficiary_id: str) -> Any:
    """What ``service`` holds about the person, checked against its contract and passed on as
    the service wrote it: a field added to an export since still reaches the person."""
    path = f"/beneficiaries/{path_segment(beneficiary_id)}/export"
    body = await context.services.call(service, "GET", path, authorization=context.authorization)
    if service in EXPORT_CONTRACTS:
        validated(EXPORT_CONTRACTS[service], body, service, path)
    return body


@strawberry.type
class Query:
    @strawberry.field(description="Programme figures against targets, optionally filtered")
    async def impact(self, info: Info[Context, Any], filter: ImpactFilter | None = None) -> Impact:
        return await compose_impact(context_of(info), filter)

    @strawberry.field(description="One beneficiary; null when unknown or not yours to see")
    async def beneficiary(self, info: Info[Context, Any], id: strawberry.ID) -> Beneficiary | None:
        context = context_of(info)
        found = await context.services.answer_if_found(
            registration.BeneficiaryView,
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

    @strawberry.field(
        description="Who read or changed people's records in every service, newest first: "
        "actor, role, service, kind of record, route (ids only); at most `limit` (1-1000) "
        "entries; coordinators only"
    )
    async def audit_log(
        self,
        info: Info[Context, Any],
        beneficiary_id: strawberry.ID | None = None,
        actor: str | None = None,
        limit: int | None = 100,
    ) -> list[AuditEntry]:
        context = context_of(info)
        wanted = 100 if limit is None else limit
        params = {"limit": str(wanted)}
        if beneficiary_id is not None:
            params["beneficiary_id"] = str(beneficiary_id)
        if actor is not None:
            params["actor"] = actor
        answers = await asyncio.gather(
            *(
                context.services.answer(
                    list[audit.AuditEntry],
                    service,
                    "GET",
                    "/audit",
                    authorization=context.authorization,
                    params=params,
                )
                for service in SERVICE_NAMES
            ),
            return_exceptions=True,
        )
        entries: list[list[audit.AuditEntry]] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            entries.append(answer)
        return [AuditEntry.of(entry) for entry in audit.newest_first(entries, wanted)]

    @strawberry.field(
        description="Partner intake per service (registration, training, orientation): "
        "requests applied, refused with the last reason, and waiting for what they name; a "
        "partner sees only its own lines"
    )
    async def delivery_log(
        self, info: Info[Context, Any], partner: str | None = None
    ) -> list[PartnerDelivery]:
        context = context_of(info)
        answers = await asyncio.gather(
            *(
                context.services.answer(
                    list[DeliveryLine],
                    service,
                    "GET",
                    "/deliveries",
                    authorization=context.authorization,
                    params={"partner": partner} if partner else None,
                )
                for service in INTAKE_SERVICES
            )
        )
        return [PartnerDelivery.of(line) for lines in answers for line in lines]

    @strawberry.field(description="The receipt of a person's erasure; null when never erased")
    async def erasure_receipt(
        self, info: Info[Context, Any], beneficiary_id: strawberry.ID
    ) -> ErasureReceipt | None:
        context = context_of(info)
        receipt = await context.services.answer_if_found(
            registration.ErasureReceiptView,
            "registration",
            "GET",
            f"/erasures/{path_segment(beneficiary_id)}",
            authorization=context.authorization,
        )
        return ErasureReceipt.of(receipt) if receipt else None

    @strawberry.field(description="Public links to the anonymised figures; coordinators only")
    async def share_links(self, info: Info[Context, Any]) -> list[sharing.ShareLink]:
        return await sharing.share_links(context_of(info))

    @strawberry.field(description="The programme's priority districts")
    async def districts(self, info: Info[Context, Any]) -> list[District]:
        return [District.of(d) for d in await context_of(info).reference("districts")]

    @strawberry.field(description="The associations running the programme")
    async def associations(self, info: Info[Context, Any]) -> list[Association]:
        return [Association.of(a) for a in await context_of(info).reference("associations")]

    @strawberry.field(description="The training catalogue: modules with competences and level")
    async def modules(self, info: Info[Context, Any]) -> list[training.TrainingModule]:
        return await training.modules(context_of(info))

    @strawberry.field(description="The Pix competence framework, area by area")
    async def competences(self, info: Info[Context, Any]) -> list[training.CompetenceArea]:
        return await training.competences(context_of(info))

    @strawberry.field(description="Sessions by start time; association staff see their own")
    async def sessions(
        self,
        info: Info[Context, Any],
        association_id: strawberry.ID | None = None,
        starts_from: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        starts_to: Annotated[dt.datetime | None, strawberry.argument(name="to")] = None,
        limit: int = 200,
    ) -> list[training.Session]:
        return await training.sessions(
            context_of(info), association_id, starts_from, starts_to, limit
        )

    @strawberry.field(description="One session with its roll-call; null when unknown or not yours")
    async def session(self, info: Info[Context, Any], id: strawberry.ID) -> training.Session | None:
        return await training.session(context_of(info), id)

    @strawberry.field(
        description="Attendance totals, trained or not, assessments; null when training does "
        "not know the person"
    )
    async def beneficiary_progress(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> training.Progress | None:
        return await training.beneficiary_progress(context_of(info), id)

    @strawberry.field(
        description="People to follow up: their latest sessions are unexcused absences in a row "
        "(at least three), most missed first; association staff see their own association's"
    )
    async def beneficiaries_at_risk(
        self, info: Info[Context, Any], association_id: strawberry.ID | None = None
    ) -> list[training.AtRiskBeneficiary]:
        return await training.beneficiaries_at_risk(context_of(info), association_id)

    @strawberry.field(
        description="An association's digital maturity: self-assessments, staff training, upskilled"
    )
    async def association_maturity(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> training.AssociationMaturity:
        return await training.association_maturity(context_of(info), id)

    @strawberry.field(description="The association maturity self-assessment and how it scores")
    async def maturity_questionnaire(
        self, info: Info[Context, Any]
    ) -> training.MaturityQuestionnaire:
        return await training.maturity_questionnaire(context_of(info))

    @strawberry.field(description="Families of digital jobs, for workshops and interests")
    async def job_families(self, info: Info[Context, Any]) -> list[orientation.JobFamily]:
        return await orientation.job_families(context_of(info))

    @strawberry.field(description="The reasons a partner may give for refusing a referral")
    async def refusal_reasons(self, info: Info[Context, Any]) -> list[str]:
        return await orientation.refusal_reasons(context_of(info))

    @strawberry.field(
        description="Placement follow-ups due on or before a day (default: today), earliest first"
    )
    async def follow_ups_due(
        self, info: Info[Context, Any], on: dt.date | None = None
    ) -> list[orientation.FollowUpDue]:
        return await orientation.follow_ups_due(context_of(info), on)

    # -- paginated lists: Relay connections (edges { cursor node } pageInfo totalCount) -------

    @strawberry.field(
        description="Beneficiaries in enrolment order, filtered; association staff see their "
        "own association's. `first` (1-100, default 20) items after the cursor `after`; each "
        "person's training and orientation fields cost one batched call per service for the "
        "whole page. A bad cursor or page size is a BAD_USER_INPUT error naming the argument"
    )
    async def beneficiaries(
        self,
        info: Info[Context, Any],
        filter: lists.BeneficiaryFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[Beneficiary]:
        return await lists.beneficiaries(context_of(info), filter, first, after)

    @strawberry.field(
        description="Sessions in start order, filtered, paginated like `beneficiaries`; the "
        "roll-calls of a whole page (`attendance`) cost one call. (`sessions` is the older, "
        "unpaginated list.)"
    )
    async def sessions_connection(
        self,
        info: Info[Context, Any],
        filter: lists.SessionFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[training.Session]:
        return await lists.sessions(context_of(info), filter, first, after)

    @strawberry.field(description="Placements in recording order, filtered and paginated")
    async def placements(
        self,
        info: Info[Context, Any],
        filter: lists.PlacementFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[orientation.Placement]:
        return await lists.placements(context_of(info), filter, first, after)

    @strawberry.field(description="Referrals in the order they were made, filtered and paginated")
    async def referrals(
        self,
        info: Info[Context, Any],
        filter: lists.ReferralFilter | None = None,
        first: int = DEFAULT_FIRST,
        after: str | None = None,
    ) -> Connection[orientation.Referral]:
        return await lists.referrals(context_of(info), filter, first, after)
