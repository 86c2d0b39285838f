"""Access in GraphQL: who may use which root field, and the logs of who did what (the audit
log of every service, the partners' delivery log).

Root fields are checked at the gateway before any service is called (each service checks again
with the token the gateway signs for it).

Coordinators use every field; association staff every field but the coordinators' own (their
association scope is enforced by the services, which know whose record is whose); funders only
aggregate figures and reference data — no field that returns a person; partners only their
delivery log (they send events to ``POST /ingest/{service}``); ops no GraphQL at all (health at
``/healthz``, metrics at ``/metrics``). A field not listed for funders, partners or ops is
refused to them: a new field is closed until someone opens it here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from contracts.api.intake import DeliveryLine
from kit import audit
from kit.auth import Role
from kit.settings import SERVICE_NAMES

from .context import Context, context_of
from .enums import RecordKind
from .services import AccessDenied

COORDINATORS_ONLY = frozenset(
    {
        "auditLog",
        "beneficiaryExport",
        "erasureReceipt",
        "saveDistrict",
        "saveAssociation",
        "runRetention",
        "shareLinks",
        "createShareLink",
        "revokeShareLink",
    }
)
AGGREGATES = frozenset(
    {
        "impact",
        "impactUpdated",
        "exports",
        "districts",
        "associations",
        "modules",
        "competences",
        "jobFamilies",
        "maturityQuestionnaire",
    }
)
OPEN_TO: dict[Role, frozenset[str] | None] = {
    Role.COORDINATOR: None,  # every field
    Role.FUNDER: AGGREGATES,
    Role.PARTNER: frozenset({"deliveryLog"}),
    Role.OPS: frozenset(),
    Role.SERVICE: frozenset(),
}


def may_use(role: Role, field: str) -> bool:
    if field.startswith("__"):  # __typename, introspection (off in production)
        return True
    if role is Role.ASSOCIATION:
        return field not in COORDINATORS_ONLY
    allowed = OPEN_TO[role]
    return allowed is None or field in allowed


def require_field(role: Role, field: str) -> None:
    if not may_use(role, field):
        raise AccessDenied(f"role {role.value!r} may not use {field!r}", 403)


class RootFieldAccess(SchemaExtension):
    """Refuses a root field (query, mutation or subscription) the caller's role may not use,
    before its resolver runs."""

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if info.path.prev is None:
            require_field(info.context.principal.role, info.field_name)
        return _next(root, info, *args, **kwargs)


# -- the logs: who did what ---------------------------------------------------------------

# The services partners send requests to (dn.intake.<service>).
INTAKE_SERVICES = ("registration", "training", "orientation")


@strawberry.type(
    description="Who read or changed which kind of record about whom, when, in which service "
    "and through which route (ids only, never the record's content)"
)
class AuditEntry:
    at: dt.datetime
    service: str = strawberry.field(description="registration, training, orientation, reporting")
    actor: str = strawberry.field(
        description="Token subject of the caller, a partner's event source (role partner) or a "
        "job's name (role system)"
    )
    role: str
    action: str = strawberry.field(
        description="read, list, export, record, change, erase, or registration's own: enrol, "
        "rectify, withdraw, merge, merged, import, consent:<purpose>"
    )
    record: RecordKind
    beneficiary_id: strawberry.ID | None
    route: str = strawberry.field(
        description="The service's HTTP route (e.g. POST /sessions/{session_id}/attendance), "
        "`kafka <intake topic>` for a partner's request, or `job <name>`"
    )

    @staticmethod
    def of(entry: audit.AuditEntry) -> AuditEntry:
        return AuditEntry(
            at=entry.at,
            service=entry.service,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            record=entry.record,
            beneficiary_id=strawberry.ID(entry.beneficiary_id) if entry.beneficiary_id else None,
            route=entry.route,
        )


@strawberry.type(
    description="What one partner sent to one service's intake: applied (accepted), refused "
    "(rejected, with the last reason) and waiting for what it names"
)
class PartnerDelivery:
    service: str
    partner: str
    accepted: int
    rejected: int
    waiting: int
    last_error: str | None
    last_error_at: dt.datetime | None
    last_seen: dt.datetime | None

    @staticmethod
    def of(line: DeliveryLine) -> PartnerDelivery:
        return PartnerDelivery(
            service=line.service,
            partner=line.partner,
            accepted=line.accepted,
            rejected=line.rejected,
            waiting=line.waiting,
            last_error=line.last_error,
            last_error_at=line.last_error_at,
            last_seen=line.last_seen,
        )


@strawberry.type
class AccessQuery:
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
