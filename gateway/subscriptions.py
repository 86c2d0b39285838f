"""GraphQL subscriptions over graphql-transport-ws: ``impactUpdated`` answers with the figures
now, then again whenever reporting says its scope changed; and who may open the websocket."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncGenerator, Awaitable, Hashable
from typing import Any, cast

import strawberry
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult, Info
from strawberry.types.unset import UNSET, UnsetType

from .answers import SharedAnswers, answer_key
from .context import Context, context_of
from .live import ImpactChanges
from .pushes import ImpactFeeds
from .reporting import Impact, ImpactFilter, compose_impact
from .services import AccessDenied

# The longest reason a websocket close frame carries (RFC 6455: 125 bytes less the code).
CLOSE_REASON_BYTES = 123


def scope_of(impact_filter: ImpactFilter | None) -> str:
    """The reporting scope a filter reads: ``all``, ``association:<id>``, ``district:<id>``
    or ``track:<value>`` (reporting refuses a filter naming more than one)."""
    params = impact_filter.params() if impact_filter is not None else {}
    for name, value in params.items():
        return f"{name.removesuffix('_id')}:{value}"
    return "all"


def impact_feeds_of(context: Context) -> ImpactFeeds:
    assert context.request is not None
    feeds: ImpactFeeds = context.request.app.state.impact_feeds
    return feeds


@strawberry.type
class Subscription:
    @strawberry.subscription(  # type: ignore[untyped-decorator]
        description="The figures now, then again each time a change to them is committed "
        "(changes made while an answer is being composed come in the next one)"
    )
    async def impact_updated(
        self, info: Info[Context, Any], filter: ImpactFilter | None = None
    ) -> AsyncGenerator[Impact, None]:
        context = context_of(info)
        # Following before the first answer: a change committed while it is composed is heard.
        with impact_feeds_of(context).following(context, scope_of(filter), filter) as follower:
            latest = await compose_impact(context, filter)
            yield latest
            while True:
                impact = await follower.next()
                context.principal  # noqa: B018 — a token that has expired ends the subscription
                if impact != latest:  # the same figures again say nothing new
                    latest = impact
                    yield impact


class _ExplainedRefusal(ASGIWebSocketAdapter):
    """Closes a refused connection with the reason recorded at ``connection_init`` rather than
    the bare ``Forbidden`` strawberry sends."""

    async def close(self, code: int, reason: str) -> None:
        refusal = getattr(self.ws.state, "refusal", None)
        await super().close(code, refusal if code == 4403 and refusal else reason)


class SubscriptionsRouter(GraphQLRouter[Context, None]):
    """GraphQL over HTTP and over graphql-transport-ws; a websocket is acknowledged only with
    a valid token, in the ``connection_init`` payload (``{"Authorization": "Bearer …"}``) or
    in the handshake's ``Authorization`` header. Each operation then checks its own roles."""

    websocket_adapter_class = _ExplainedRefusal

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> ExecutionResult:
        """An `impact` query answered once for every caller who would get the same answer
        while the figures do not move (gateway/answers.py); anything else executed as is."""

        def execute() -> Awaitable[ExecutionResult]:
            return super(SubscriptionsRouter, self).execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )

        async def execute_once() -> ExecutionResult:
            return EncodedOnce.of(await execute())

        shared = _shared_key(context, request_data)
        if shared is None:
            return await execute()
        key, sequence = shared
        assert context.request is not None  # a shared key needs one
        answers: SharedAnswers = context.request.app.state.shared_answers
        return await answers.get(key, sequence, execute_once)

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        if isinstance(result, EncodedOnce):
            return cast(GraphQLHTTPResponse, result.response)  # the same mapping, encoded
        return process_result(result)

    def encode_json(self, data: object) -> str | bytes:
        if isinstance(data, EncodedResponse):
            return data.body
        return super().encode_json(data)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        try:
            context.principal  # noqa: B018 — verifies the token
        except AccessDenied as error:
            if not context.authorization:
                message = (
                    'send a token: connection_init payload {"Authorization": "Bearer <token>"}'
                )
            else:
                message = error.message
            reason = message.encode()[:CLOSE_REASON_BYTES].decode(errors="ignore")
            assert context.request is not None
            context.request.state.refusal = reason
            raise ConnectionRejectionError({"message": message}) from error
        acknowledged: UnsetType = UNSET  # acknowledge with no payload
        return acknowledged


class EncodedResponse(dict[str, Any]):
    """A shared answer's HTTP response, with its JSON made once for every request it answers
    (a dashboard's ``impact`` is ~70 KiB: encoding it was most of a shared answer's cost)."""

    def __init__(self, response: GraphQLHTTPResponse) -> None:
        super().__init__(response)
        self.body = json.dumps(response, separators=(",", ":")).encode()


@dataclasses.dataclass
class EncodedOnce(ExecutionResult):
    """An execution's result kept for sharing, with its response encoded once."""

    response: EncodedResponse = dataclasses.field(default_factory=lambda: EncodedResponse({}))

    @classmethod
    def of(cls, result: ExecutionResult) -> EncodedOnce:
        return cls(
            data=result.data,
            errors=result.errors,
            extensions=result.extensions,
            response=EncodedResponse(process_result(result)),
        )


def _shared_key(context: Context, request_data: Any) -> tuple[Hashable, Hashable] | None:
    """The key the answer to this request is shared under, with the projection's sequence; None
    when it is not shared (not an `impact` query, no valid token, reporting's change stream not
    connected: then the sequence is not known to be current)."""
    if context.request is None:
        return None
    changes: ImpactChanges = context.request.app.state.impact_changes
    changes.start()  # hearing the sequence from the first query on
    if not changes.connected.is_set():
        return None
    try:
        who = context.principal
    except AccessDenied:
        return None  # executed, to say why
    sequence = (changes.connections, changes.sequence)
    key = answer_key(
        getattr(request_data, "query", None),
        getattr(request_data, "variables", None),
        getattr(request_data, "operation_name", None),
        (who.role.value, who.association_id),
        sequence,
        context.services.reference.epoch,
    )
    return None if key is None else (key, sequence)
