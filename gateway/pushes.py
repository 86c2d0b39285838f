"""``impactUpdated`` pushes composed once per change for every subscription that would get the
same answer, and handed to each.

Subscriptions to one scope by callers of one role and association get the same figures
(reporting hides small counts by role and association, gateway/impact.py names them the same
for everyone). They follow one :class:`Feed`, which hears reporting's change notices
(gateway/live.py), composes the answer once and offers it to every follower. There is no fixed
interval: changes heard while an answer is being composed are merged into the next one, so a
feed composes back to back under a stream of changes and at once after a quiet spell. A
follower keeps only the newest answer it has not taken yet: a slow client skips to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from opentelemetry import propagate, trace

from .context import Context
from .live import ChangeWatcher, ImpactChanges
from .reporting import Impact, ImpactFilter
from .services import AccessDenied, ServiceUnavailable

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

Compose = Callable[[Context, ImpactFilter | None], Awaitable[Impact]]
# The scope, and the role and association of the callers (what the answer depends on).
FeedKey = tuple[str, str, str | None]


class Follower:
    """One subscription's newest answer not taken yet."""

    def __init__(self, since: int) -> None:
        # Answers of compositions started before this one joined are not for it: its own
        # first answer, composed after joining, is newer.
        self.since = since
        self._answer: Impact | None = None
        self._ready = asyncio.Event()

    def offer(self, impact: Impact, round_started: int) -> None:
        if round_started >= self.since:
            self._answer = impact
            self._ready.set()

    async def next(self) -> Impact:
        while self._answer is None:
            self._ready.clear()
            await self._ready.wait()
        answer, self._answer = self._answer, None
        return answer


class Feed:
    """The answers of one scope for one audience, composed once per change."""

    def __init__(
        self, scope: str, impact_filter: ImpactFilter | None, changes: ImpactChanges
    ) -> None:
        self.scope = scope
        self.filter = impact_filter
        self.followers: dict[Follower, Context] = {}
        self.rounds = 0  # compositions started
        self.latest: Impact | None = None
        # Watching from now, before any follower composes its first answer: a change
        # committed meanwhile is heard.
        self._changes = changes
        self._watcher: ChangeWatcher = changes.watch()
        self._task: asyncio.Task[None] | None = None

    def start(self, compose: Compose) -> None:
        self._task = asyncio.create_task(self._run(compose), name=f"impact-feed-{self.scope}")

    def stop(self) -> asyncio.Task[None] | None:
        """Stop hearing changes and composing (the last follower left); the task stopping."""
        self._changes.unwatch(self._watcher)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            _stopping.add(task)  # referenced until it has stopped
            task.add_done_callback(_stopping.discard)
        return task

    async def _run(self, compose: Compose) -> None:
        while True:
            notice = await self._watcher.next()
            if not notice.touches(self.scope):
                continue
            round_started = self.rounds
            self.rounds += 1
            impact = await self._compose(compose, notice.traceparent)
            if impact is None or impact == self.latest:
                continue  # reporting away (it resyncs every watcher when back), or no news
            self.latest = impact
            for follower in self.followers:
                follower.offer(impact, round_started)

    async def _compose(self, compose: Compose, traceparent: str | None) -> Impact | None:
        """The answer now, asked with a follower's token (the first whose token still holds:
        one that expired ends its own subscription, see :func:`follow`)."""
        parent = propagate.extract({"traceparent": traceparent}) if traceparent else None
        with tracer.start_as_current_span("impactUpdated push", context=parent) as span:
            span.set_attribute("dn.subscriptions", len(self.followers))
            for context in list(self.followers.values()):
                try:
                    return await compose(context.renewed(), self.filter)
                except AccessDenied:
                    continue
                except ServiceUnavailable:
                    return None
                except Exception:  # a bug must not end the pushes for good: the next change
                    log.exception("impactUpdated answer for %s failed", self.scope)
                    return None
        return None


class ImpactFeeds:
    """This gateway process's feeds, one per scope and audience, while someone follows it."""

    def __init__(self, changes: ImpactChanges, compose: Compose) -> None:
        self._changes = changes
        self._compose = compose
        self._feeds: dict[FeedKey, Feed] = {}

    @contextlib.contextmanager
    def following(
        self, context: Context, scope: str, impact_filter: ImpactFilter | None
    ) -> Iterator[Follower]:
        """A follower of the feed for ``scope`` and the caller's audience while the block runs
        (the caller composes its first answer itself, inside the block)."""
        who = context.principal
        key: FeedKey = (scope, who.role.value, who.association_id)
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = Feed(scope, impact_filter, self._changes)
            feed.start(self._compose)
        follower = Follower(feed.rounds)
        feed.followers[follower] = context
        try:
            yield follower
        finally:
            del feed.followers[follower]
            if not feed.followers and self._feeds.get(key) is feed:
                del self._feeds[key]
                feed.stop()

    def __len__(self) -> int:
        return len(self._feeds)

    async def close(self) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        stopping = [task for feed in feeds if (task := feed.stop()) is not None]
        await asyncio.gather(*stopping, return_exceptions=True)


# Tasks of feeds stopped, until they have (asyncio keeps only weak references to tasks).
_stopping: set[asyncio.Task[None]] = set()
