"""Registration's districts and associations, shared by every request for a short while.

Every `impact` answer names its districts and associations: fetched per request, that was two
more service calls (each a signed token, a FastAPI request and a MongoDB read in registration)
for lists that change a few times a year. They are the same for every caller, so one fetch
serves every request for ``ttl_s``. A change made through this gateway clears them at once; one
made elsewhere when reporting's change stream says names changed (gateway/live.py, a ``names``
notice from registration's events), and within ``ttl_s`` at worst. A failed fetch is not
kept. Each list is registration's answer as its contract (``contracts.api.registration``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, overload

from contracts.api.registration import AssociationView, DistrictView
from kit.shared import SharedComputations

Kind = Literal["districts", "associations"]
ReferenceList = list[DistrictView] | list[AssociationView]
# What registration answers on GET /districts and GET /associations.
SHAPES: dict[str, Any] = {"districts": list[DistrictView], "associations": list[AssociationView]}
KINDS = tuple(SHAPES)
TTL_S = 30.0


class ReferenceLists:
    def __init__(
        self,
        fetch: Callable[[str], Awaitable[ReferenceList]],
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._lists: SharedComputations[ReferenceList] = SharedComputations(ttl_s, clock)
        self._cleared = 0

    @property
    def epoch(self) -> int:
        """Moves whenever the lists may have changed (fetched again, or cleared): answers naming
        districts and associations are shared only within one epoch (gateway/answers.py)."""
        return self._lists.started + self._cleared

    @overload
    async def get(self, kind: Literal["districts"]) -> list[DistrictView]: ...
    @overload
    async def get(self, kind: Literal["associations"]) -> list[AssociationView]: ...
    async def get(self, kind: Kind) -> ReferenceList:
        """The list ``kind`` names: the one kept if fresh, else fetched once for everyone
        asking meanwhile."""
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a reference list ({', '.join(KINDS)})")
        return await self._lists.get(kind, lambda: self._fetch(kind))

    def clear(self) -> None:
        """Forget the lists: a district or association was saved (through this gateway, or
        elsewhere and reporting's change stream said so)."""
        self._lists.clear()
        self._cleared += 1
