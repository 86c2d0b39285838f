"""Computations shared by the callers who ask for the same thing at once or soon after.

A key's value is computed once for every caller asking while it runs and after, until it is
``ttl_s`` old (older ones are dropped at each ask); a failure is never kept (the next caller
computes again), nor a value ``keep`` refuses. A caller giving up does not cancel the others'
computation. Reporting's ``/impact`` answers, the gateway's reference lists and its shared
GraphQL answers all use it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    computed_at: float
    answer: asyncio.Future[V]


class SharedComputations(Generic[V]):
    def __init__(
        self,
        ttl_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        kept: int | None = None,
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._kept = kept  # at most this many keys at once (then all are dropped: a bound)
        self._entries: dict[Hashable, _Entry[V]] = {}
        self.started = 0  # computations started so far

    async def get(
        self,
        key: Hashable,
        compute: Callable[[], Awaitable[V]],
        keep: Callable[[V], bool] | None = None,
    ) -> V:
        now = self._clock()
        self._forget_older_than(now - self._ttl_s)
        entry = self._entries.get(key)
        if entry is None:
            if self._kept is not None and len(self._entries) >= self._kept:
                self._entries.clear()
            entry = self._entries[key] = _Entry(now, asyncio.ensure_future(compute()))
            self.started += 1
        try:
            # Shielded: one caller giving up (client gone) must not cancel the others' answer.
            value = await asyncio.shield(entry.answer)
        except Exception:
            self._forget(key, entry)  # a failure is not an answer: the next caller retries
            raise
        if keep is not None and not keep(value):
            self._forget(key, entry)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _forget(self, key: Hashable, entry: _Entry[V]) -> None:
        if self._entries.get(key) is entry:
            del self._entries[key]

    def _forget_older_than(self, oldest: float) -> None:
        for key in [k for k, e in self._entries.items() if e.computed_at < oldest]:
            del self._entries[key]
