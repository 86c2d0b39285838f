"""The GraphQL schema: Query, Mutation and Subscription, with the limits, masking and tracing
extensions."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription
from .tracing import PrivateOpenTelemetryExtension


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
schema = strawberry.Schema(
    query=Query, mutation=Mutation, subscription=Subscription, extensions=EXTENSIONS
)
