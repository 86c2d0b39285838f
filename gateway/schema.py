"""The GraphQL schema: Query, Mutation and Subscription, with the access, limits, masking and
tracing extensions (introspection off in production)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from kit.telemetry import current_trace_id

from .access import AccessQuery, RootFieldAccess
from .exports import ExportsQuery
from .operation_metrics import GraphQLMetrics
from .orientation import OrientationMutation, OrientationQuery
from .registration import RegistrationMutation, RegistrationQuery
from .reporting import ReportingMutation, ReportingQuery
from .subscriptions import Subscription
from .tracing import PrivateOpenTelemetryExtension
from .training import TrainingMutation, TrainingQuery

log = logging.getLogger(__name__)
MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 20
# Distinct query texts whose parsed document and validation are kept (an LRU: the dashboard,
# the app and partners send a few dozen; a caller sending new texts only evicts).
CACHED_QUERIES = 256


class Limits(AddValidationRules):
    """Depth and alias limits as validation rules. Their rule classes are made once here, not
    per request as the limiters' own factories would: validation results are cached by rule
    classes (ValidationCache), and new classes each time never hit."""

    RULES = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]

    def __init__(self) -> None:
        super().__init__(self.RULES)


def _mask(error: GraphQLError) -> bool:
    """Mask what an unexpected exception says; keep GraphQL's own errors (syntax, validation,
    variable types: they tell the caller what to fix) and the errors we raise on purpose."""
    if (error.extensions or {}).get("code"):
        return False
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskErrorsWithTrace(MaskErrors):
    """An unexpected error says only that it happened and its trace id (also in the
    ``x-trace-id`` header), which the ops team looks up in the logs and traces; the exception
    itself is logged there, never sent."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        trace_id = current_trace_id() or uuid.uuid4().hex
        log.error(
            "unexpected error in %s (trace %s)",
            ".".join(str(p) for p in error.path or ()),
            trace_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            message=f"Unexpected error; give the ops team this trace id: {trace_id}",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "traceId": trace_id},
        )


def extensions(production: bool = False) -> list[Any]:
    """The schema's extensions; ``production`` turns introspection off."""
    # Classes and factories, not instances: strawberry builds fresh ones for each request.
    chosen: list[Any] = [
        PrivateOpenTelemetryExtension,
        GraphQLMetrics,
        RootFieldAccess,
        Limits,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        # A query text is parsed and validated once (it was ~40% of a small query's CPU).
        lambda: ParserCache(maxsize=CACHED_QUERIES),
        lambda: ValidationCache(maxsize=CACHED_QUERIES),
        lambda: MaskErrorsWithTrace(should_mask_error=_mask),
    ]
    if production:
        chosen.insert(1, DisableIntrospection)
    return chosen


@strawberry.type(name="Query")
class Query(
    ReportingQuery, ExportsQuery, RegistrationQuery, TrainingQuery, OrientationQuery, AccessQuery
):
    """Every root query field, each area's from its module."""


@strawberry.type(
    name="Mutation",
    description="Changes, each forwarded to the service that owns the record. Refused input "
    "comes back as a GraphQL error with `extensions.code = BAD_USER_INPUT` and "
    "`extensions.fields = [{field, message}]`, one entry per input field a form should mark "
    "(camelCase field names), saying what is accepted; an id that names nothing is reported on "
    "its field the same way. A duplicate is `CONFLICT` with `extensions.existingId`; a "
    "refusal of the caller's role `FORBIDDEN`",
)
class Mutation(RegistrationMutation, ReportingMutation, TrainingMutation, OrientationMutation):
    """Every root mutation, each area's from its module."""


def build_schema(production: bool = False) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions(production)
    )


schema = build_schema()
