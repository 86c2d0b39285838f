"""How many service calls one gateway request made: counted per request, sent back in
development as the ``x-dn-service-calls`` response header (tests assert the bound on it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-dn-service-calls"

# A one-element list, not an int: tasks started during the request (DataLoader batches) copy
# the context, so they must share one mutable counter rather than rebind a value.
_calls: ContextVar[list[int] | None] = ContextVar("dn_service_calls", default=None)


def count_call() -> None:
    """One more call to a service by the request being answered (if one is counted)."""
    calls = _calls.get()
    if calls is not None:
        calls[0] += 1


@contextlib.contextmanager
def counting() -> Iterator[list[int]]:
    """Count the service calls made inside the block: ``calls[0]`` after it."""
    calls = [0]
    token = _calls.set(calls)
    try:
        yield calls
    finally:
        _calls.reset(token)


class ServiceCallHeader:
    """ASGI middleware adding ``x-dn-service-calls`` to every HTTP answer (development only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with counting() as calls:

            async def counted(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers: list[Any] = list(message.get("headers", []))
                    headers.append((HEADER.encode(), str(calls[0]).encode()))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, counted)
