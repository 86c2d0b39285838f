"""The gateway's one listener to reporting's change stream (``GET /impact/changes``, Server-Sent
Events), fanned out to the GraphQL subscriptions of this process.

Started at the first subscription; reconnects with capped backoff. Every (re)connection tells
every watcher to look again (``RESYNC``), since changes made while the stream was down were not
heard. A watcher holds at most one pending set of scopes, never a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from contracts.impact_changes import NAMES
from kit.auth import service_token
from kit.settings import Settings

log = logging.getLogger(__name__)

RESYNC = "*"  # a scope meaning "anything may have changed": the stream was (re)connected
EVERY_SCOPE = frozenset({RESYNC, NAMES})  # notices that touch every scope's answer
# Reporting sends a comment every 15 s; silence for longer than this means the stream is dead.
READ_TIMEOUT_S = 45.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 15.0


@dataclass(frozen=True)
class ChangeNotice:
    """Scopes whose figures changed since the watcher last looked, and the latest change's
    trace (to join the push to it)."""

    scopes: frozenset[str]
    traceparent: str | None

    def touches(self, scope: str) -> bool:
        """Whether ``scope``'s answer may differ (``all`` moves with any change; every answer
        names districts and associations)."""
        return bool(self.scopes) and (
            scope == "all" or scope in self.scopes or not self.scopes.isdisjoint(EVERY_SCOPE)
        )


class ChangeWatcher:
    """One subscription's pending changes, merged until it takes them."""

    def __init__(self) -> None:
        self._scopes: set[str] = set()
        self._traceparent: str | None = None
        self._ready = asyncio.Event()

    def notify(self, scopes: Iterable[str], traceparent: str | None = None) -> None:
        self._scopes.update(scopes)
        self._traceparent = traceparent or self._traceparent
        self._ready.set()

    async def next(self) -> ChangeNotice:
        """The changes pending, once there are some."""
        while not self._scopes:
            self._ready.clear()
            await self._ready.wait()
        return self.take()

    def take(self) -> ChangeNotice:
        notice = ChangeNotice(frozenset(self._scopes), self._traceparent)
        self._scopes.clear()
        self._traceparent = None
        self._ready.clear()
        return notice


class ImpactChanges:
    """Reporting's change notices for every watcher of this gateway process."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        on_names: Callable[[], None] | None = None,
    ):
        self._settings = settings
        self._transport = transport
        # Told when names may have changed (registration saved a district or an association,
        # or the stream reconnected and such a notice may have been missed).
        self._on_names = on_names
        self._watchers: set[ChangeWatcher] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.sequence = 0  # reporting's sequence number of the last notice heard
        # Connections made so far: a sequence is reporting's count since it started, so it
        # means something only with the connection it was heard on (gateway/answers.py).
        self.connections = 0

    @contextlib.contextmanager
    def watching(self) -> Iterator[ChangeWatcher]:
        """A watcher told of every change heard while the block runs; starts the stream."""
        watcher = self.watch()
        try:
            yield watcher
        finally:
            self.unwatch(watcher)

    def watch(self) -> ChangeWatcher:
        """A watcher told of every change heard until :meth:`unwatch`; starts the stream."""
        watcher = ChangeWatcher()
        self._watchers.add(watcher)
        self.start()
        return watcher

    def unwatch(self, watcher: ChangeWatcher) -> None:
        self._watchers.discard(watcher)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="impact-change-stream")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def broadcast(self, scopes: Iterable[str], traceparent: str | None = None) -> None:
        """Tell every watcher that ``scopes`` changed."""
        touched = frozenset(scopes)
        if self._on_names is not None and not touched.isdisjoint(EVERY_SCOPE):
            self._on_names()
        for watcher in self._watchers:
            watcher.notify(touched, traceparent)

    async def _listen(self) -> None:
        backoff = BACKOFF_FIRST_S
        timeout = httpx.Timeout(5.0, read=READ_TIMEOUT_S)
        base_url = self._settings.service_url("reporting")
        async with httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=self._transport
        ) as client:
            while True:
                try:
                    async for notice in self._notices(client):
                        self.broadcast(notice["scopes"], notice.get("traceparent"))
                    reason = "reporting ended the stream"
                except httpx.HTTPStatusError as error:
                    reason = f"reporting answered {error.response.status_code}"
                except (httpx.TransportError, ValueError, KeyError) as error:
                    reason = type(error).__name__
                except Exception:  # a bug must not end the stream for good: keep retrying
                    log.exception("impact change stream failed")
                    reason = "failure"
                if self.connected.is_set():  # it had worked: try again soon
                    backoff = BACKOFF_FIRST_S
                self.connected.clear()
                delay = backoff * random.uniform(
                    0.8, 1.2
                )  # jitter, so gateways do not reconnect in step
                log.warning("impact change stream lost (%s); reconnecting in %.1f s", reason, delay)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _notices(self, client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
        """The ``changed`` events of one connection, as their JSON data."""
        token = service_token(self._settings, "gateway", "reporting")
        headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
        async with client.stream("GET", "/impact/changes", headers=headers) as response:
            response.raise_for_status()
            self.connections += 1
            self.connected.set()
            log.info("impact change stream connected")
            # Changes made while no stream was open were not heard: every watcher looks again.
            self.broadcast((RESYNC,))
            event, data = "message", list[str]()
            async for line in response.aiter_lines():
                if line == "":
                    if event == "changed" and data:
                        notice: dict[str, Any] = json.loads("\n".join(data))
                        self.sequence = int(notice["sequence"])
                        yield notice
                    event, data = "message", []
                elif line.startswith(":"):
                    continue  # a heartbeat or a greeting
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
