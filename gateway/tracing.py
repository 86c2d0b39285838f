"""Strawberry's OpenTelemetry extension, minus the query text and resolver arguments.

The stock extension records the whole query and every argument as span attributes; an
enrolment carries names and phone numbers, and nothing personal may reach a trace.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry.trace import SpanKind
from strawberry.extensions.tracing.opentelemetry import (  # type: ignore[attr-defined]
    LifecycleStep,
    OpenTelemetryExtension,
)
from strawberry.extensions.tracing.utils import should_skip_tracing


def _no_arguments(_: dict[str, Any], __: GraphQLResolveInfo[Any]) -> dict[str, Any]:
    return {}


class PrivateOpenTelemetryExtension(OpenTelemetryExtension):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "arg_filter": _no_arguments})

    def on_operation(self) -> Generator[None, None, None]:
        name = self.execution_context.operation_name
        span = self._tracer.start_span(
            f"GraphQL {name}" if name else "GraphQL operation", kind=SpanKind.SERVER
        )
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        yield
        resolved = self.execution_context.operation_name
        if resolved:
            span.update_name(f"GraphQL {resolved}")
            span.set_attribute("graphql.operation.name", resolved)
        span.end()

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """A traced field (a root field, a resolver of ours) as the stock extension does; every
        other field passes through as it is: the stock extension made each field of an answer
        an awaited coroutine (a dashboard answer has hundreds)."""
        if should_skip_tracing(_next, info):
            return _next(root, info, *args, **kwargs)
        return super().resolve(_next, root, info, *args, **kwargs)
