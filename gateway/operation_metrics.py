"""GraphQL latency for Prometheus: each operation by type and outcome, each root field by name.

HTTP latency alone sees every GraphQL operation as ``POST /graphql``. Labels stay bounded: the
operation's type, and root field names that exist in the schema; never the client-chosen
operation name nor the query text (unbounded, and a query could carry personal data).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from graphql import GraphQLResolveInfo, OperationType
from prometheus_client import Histogram
from strawberry.extensions import SchemaExtension

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OPERATION_SECONDS = Histogram(
    "dn_graphql_operation_seconds",
    "GraphQL query and mutation latency, parse to result (subscriptions are long-lived: left out)",
    ["operation", "outcome"],
    buckets=BUCKETS,
)
ROOT_FIELD_SECONDS = Histogram(
    "dn_graphql_root_field_seconds",
    "Latency of each root field's resolver (its service calls), by field and outcome",
    ["operation", "field", "outcome"],
    buckets=BUCKETS,
)


class GraphQLMetrics(SchemaExtension):
    def on_operation(self) -> Generator[None, None, None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            operation = context.operation_type.value
        except RuntimeError:  # the document did not parse: no operation to speak of
            operation = "invalid"
        if operation == OperationType.SUBSCRIPTION.value:
            return
        failed = bool(context.pre_execution_errors) or bool(
            context.result is not None and context.result.errors
        )
        OPERATION_SECONDS.labels(operation, "error" if failed else "ok").observe(
            time.perf_counter() - started
        )

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        operation = info.operation.operation
        if info.path.prev is not None or operation is OperationType.SUBSCRIPTION:
            return _next(root, info, *args, **kwargs)
        started = time.perf_counter()
        labels = (operation.value, info.field_name)  # a schema field: resolution got this far
        try:
            result = _next(root, info, *args, **kwargs)
        except Exception:
            _observe(labels, "error", started)
            raise
        if inspect.isawaitable(result):
            return _timed(result, labels, started)
        _observe(labels, "ok", started)
        return result


async def _timed(result: Awaitable[Any], labels: tuple[str, str], started: float) -> Any:
    try:
        value = await result
    except Exception:
        _observe(labels, "error", started)
        raise
    _observe(labels, "ok", started)
    return value


def _observe(labels: tuple[str, str], outcome: str, started: float) -> None:
    ROOT_FIELD_SECONDS.labels(*labels, outcome).observe(time.perf_counter() - started)
