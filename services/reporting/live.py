"""Live change notices: which impact scopes each committed projection change touched, broadcast
in process to the HTTP streams listening (the gateway's), merged per listener while it is busy.

The projector calls :meth:`ImpactFeed.publish` after each commit. A listener never holds a
queue: what it has not taken yet is one pending notice whose scopes grow, so a slow reader
costs memory for a set of scope names and nothing more, and ``publish`` never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from prometheus_client import Gauge, Histogram

log = logging.getLogger(__name__)

PUSH_SECONDS = Histogram(
    "dn_impact_push_seconds",
    "Delay from the time of the oldest event in a change notice to the notice being pushed to "
    "a listener",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
LISTENERS = Gauge("dn_impact_feed_listeners", "Open streams listening to impact changes")

HEARTBEAT_S = 15.0


@dataclass(frozen=True)
class ChangeNotice:
    """Changes not yet pushed to one listener: every scope they touched, up to ``sequence``."""

    sequence: int
    scopes: frozenset[str]
    # The oldest event among the merged changes: the push delay is measured from it.
    event_time: datetime | None
    # The latest change's trace, so the push can join it.
    traceparent: str | None

    def payload(self, pushed_at: datetime) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "scopes": sorted(self.scopes),
            "event_time": self.event_time.isoformat() if self.event_time else None,
            "pushed_at": pushed_at.isoformat(),
            "traceparent": self.traceparent,
        }

    def server_sent_event(self, pushed_at: datetime) -> str:
        data = json.dumps(self.payload(pushed_at), separators=(",", ":"))
        return f"id: {self.sequence}\nevent: changed\ndata: {data}\n\n"


class FeedListener:
    """One listener's pending changes, merged until it takes them."""

    def __init__(self) -> None:
        self._scopes: set[str] = set()
        self._sequence = 0
        self._event_time: datetime | None = None
        self._traceparent: str | None = None
        self._ready = asyncio.Event()
        self.closed = False

    def merge(
        self,
        sequence: int,
        scopes: frozenset[str],
        event_time: datetime | None,
        traceparent: str | None,
    ) -> None:
        self._scopes |= scopes
        self._sequence = sequence
        if event_time is not None and (self._event_time is None or event_time < self._event_time):
            self._event_time = event_time
        self._traceparent = traceparent or self._traceparent
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self, timeout_s: float = HEARTBEAT_S) -> ChangeNotice | None:
        """The changes pending now, waiting up to ``timeout_s`` for one; None when none came
        in time or the feed closed (see :attr:`closed`)."""
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives as the wait
        # ends, and a stream whose client left would go on waiting for the next change.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        return self.take()

    def take(self) -> ChangeNotice | None:
        """The pending changes, cleared; None when there are none."""
        self._ready.clear()
        if not self._scopes:
            return None
        notice = ChangeNotice(
            self._sequence, frozenset(self._scopes), self._event_time, self._traceparent
        )
        self._scopes.clear()
        self._event_time = None
        self._traceparent = None
        return notice


class ImpactFeed:
    """In-process broadcaster of projection changes to the listeners of ``/impact/changes``."""

    def __init__(self) -> None:
        self.sequence = 0
        self._listeners: set[FeedListener] = set()
        self._closed = False

    def publish(
        self, scopes: Iterable[str], event_time: datetime | None, traceparent: str | None = None
    ) -> None:
        """Tell every listener that a committed change touched ``scopes``. Never waits for a
        listener and never raises: a failure here must not fail the projection."""
        try:
            touched = frozenset(scopes)
            if not touched:
                return
            self.sequence += 1
            when = _aware(event_time)
            for listener in self._listeners:
                listener.merge(self.sequence, touched, when, traceparent)
        except Exception:
            log.exception("impact change notice not published")

    @contextlib.contextmanager
    def listening(self) -> Iterator[FeedListener]:
        """A listener receiving every change published while the block runs."""
        listener = FeedListener()
        if self._closed:
            listener.close()
        self._listeners.add(listener)
        LISTENERS.inc()
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
            LISTENERS.dec()

    def close(self) -> None:
        """End every listener's stream (the process is stopping)."""
        self._closed = True
        for listener in self._listeners:
            listener.close()


async def server_sent_events(
    feed: ImpactFeed, heartbeat_s: float = HEARTBEAT_S
) -> AsyncIterator[str]:
    """The text of one ``text/event-stream`` response: a ``changed`` event per notice, a
    comment line every ``heartbeat_s`` so proxies and the client see the stream is alive."""
    with feed.listening() as listener:
        yield f"retry: 1000\n: listening from sequence {feed.sequence}\n\n"
        while not listener.closed:
            notice = await listener.next(heartbeat_s)
            if notice is None:
                if not listener.closed:
                    yield ": heartbeat\n\n"
                continue
            pushed_at = datetime.now(UTC)
            if notice.event_time is not None:
                PUSH_SECONDS.observe(max(0.0, (pushed_at - notice.event_time).total_seconds()))
            yield notice.server_sent_event(pushed_at)


def close_on_exit_signal(feed: ImpactFeed) -> None:
    """End the feed's streams when the process is told to stop.

    uvicorn waits for open responses to finish before it runs the app's shutdown, and a change
    stream never finishes by itself: without this, stopping reporting would wait for the
    gateway to hang up. Chains the handler uvicorn installed (call from the app's startup).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(number)
        if not callable(previous):
            continue

        def chained(received: int, frame: FrameType | None, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(feed.close)
            previous(received, frame)

        try:
            signal.signal(number, chained)
        except ValueError:  # not the main thread (an app run inside tests): nothing to chain
            return


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
