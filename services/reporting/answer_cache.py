"""Computed ``/impact`` answers, shared by the requests that ask the same thing at once.

Every figure comes from counters, but an answer still reads every counter of its scope and
builds rates, forecasts and breakdowns from them: dozens of dashboards and a live push after
each commit would otherwise do that work again and again for identical figures. An answer is
reused while the key holds (projection version, scope, this process's change sequence, day,
audience) and for at most ``ttl_s``: another reporting instance's commits are not announced in
this process, so the time bound caps how stale they can make it. Concurrent requests for a
key being computed wait for that one computation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass


@dataclass
class _Entry:
    computed_at: float
    answer: asyncio.Future[bytes]


class AnswerCache:
    def __init__(self, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        now = self._clock()
        self._forget_older_than(now - self._ttl_s)
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(now, asyncio.ensure_future(compute()))
            self._entries[key] = entry
        try:
            # Shielded: one caller giving up (client gone) must not cancel the others' answer.
            return await asyncio.shield(entry.answer)
        except Exception:
            if self._entries.get(key) is entry:
                del self._entries[key]  # a failure is not an answer: the next caller retries
            raise

    def _forget_older_than(self, oldest: float) -> None:
        for key in [k for k, e in self._entries.items() if e.computed_at < oldest]:
            del self._entries[key]
