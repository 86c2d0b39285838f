"""Who may use which GraphQL root field, checked at the gateway before any service is called
(each service checks again with the token the gateway signs for it).

Coordinators use every field; association staff every field but the coordinators' own (their
association scope is enforced by the services, which know whose record is whose); funders only
aggregate figures and reference data — no field that returns a person; partners only their
delivery log (they send events to ``POST /ingest/{service}``); ops no GraphQL at all (health at
``/healthz``, metrics at ``/metrics``). A field not listed for funders, partners or ops is
refused to them: a new field is closed until someone opens it here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from kit.auth import Role

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
