"""Registration's districts and associations, shared by every request for a short while.

Every `impact` answer names its districts and associations: fetched per request, that was two
more service calls (each a signed token, a FastAPI request and a MongoDB read in registration)
for lists that change a few times a year. They are the same for every caller, so one fetch
serves every request for ``ttl_s``; a change made through this gateway clears them at once (a
change made elsewhere shows within ``ttl_s``). A failed fetch is not kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

KINDS = ("districts", "associations")
TTL_S = 30.0


@dataclass
class _Entry:
    answer: asyncio.Future[Any]
    until: float


class ReferenceLists:
    def __init__(
        self,
        fetch: Callable[[str], Awaitable[Any]],
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        # Moves whenever the lists may have changed (fetched again, or cleared): answers naming
        # districts and associations are shared only within one epoch (gateway/answers.py).
        self.epoch = 0

    async def get(self, kind: str) -> Any:
        """The list ``kind`` names: the one kept if fresh, else fetched once for everyone
        asking meanwhile."""
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a reference list ({', '.join(KINDS)})")
        entry = self._entries.get(kind)
        if entry is None or self._clock() >= entry.until or _failed(entry.answer):
            entry = _Entry(asyncio.ensure_future(self._fetch(kind)), self._clock() + self._ttl_s)
            self._entries[kind] = entry
            self.epoch += 1
        # Shielded: a caller cancelled (its request gone) does not cancel the others' fetch.
        return await asyncio.shield(entry.answer)

    def clear(self) -> None:
        """Forget the lists (a district or association was just saved through the gateway)."""
        self._entries.clear()
        self.epoch += 1


def _failed(answer: asyncio.Future[Any]) -> bool:
    return answer.done() and (answer.cancelled() or answer.exception() is not None)
