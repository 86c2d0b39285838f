"""The delivery log: per partner, how many intake requests a service applied, refused and holds
waiting, with the last refusal's reason, so a partner's developer sees what became of what
they sent without reading the dead-letter topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from contracts.api.intake import DeliveryLine
from kit.mongo import Document

DELIVERIES = "partner_deliveries"


@dataclass
class Tally:
    """One batch's outcomes for one partner."""

    accepted: int = 0
    rejected: int = 0
    waiting: int = 0  # parked now: not stored (the parking counts what still waits)
    last_error: str | None = None
    # The association a partner token spoke for (requests sent over HTTP): its staff see it.
    association_id: str | None = None

    def refused(self, reason: str, detail: str) -> None:
        self.rejected += 1
        self.last_error = f"{reason}: {detail}"


class Deliveries:
    def __init__(self, db: AsyncDatabase[Document], service: str) -> None:
        self._lines = db[DELIVERIES]
        self.service = service

    async def record(self, tallies: Mapping[str, Tally]) -> None:
        """Add one batch's outcomes: one write for every partner in it."""
        now = datetime.now(UTC)
        writes = []
        for partner, tally in tallies.items():
            change: dict[str, Any] = {
                "$inc": {"accepted": tally.accepted, "rejected": tally.rejected},
                "$set": {"last_seen": now},
            }
            if tally.last_error is not None:
                change["$set"] |= {"last_error": tally.last_error, "last_error_at": now}
            if tally.association_id is not None:
                change["$set"]["association_id"] = tally.association_id
            writes.append(UpdateOne({"_id": partner}, change, upsert=True))
        if writes:
            await self._lines.bulk_write(writes, ordered=False)

    async def lines(
        self, partner: str | None, waiting: Mapping[str, int], association_id: str | None = None
    ) -> list[DeliveryLine]:
        """Every partner's line (or one partner's, or those an association's token sent), with
        what it has waiting now."""
        query: dict[str, Any] = {"_id": partner} if partner else {}
        if association_id is not None:
            query["association_id"] = association_id
        found = {doc["_id"]: doc async for doc in self._lines.find(query).sort("_id", ASCENDING)}
        for name in waiting:
            if name not in found and partner in (None, name) and association_id is None:
                found[name] = {"_id": name}
        return [
            DeliveryLine(
                service=self.service,
                partner=name,
                accepted=doc.get("accepted", 0),
                rejected=doc.get("rejected", 0),
                waiting=waiting.get(name, 0),
                last_error=doc.get("last_error"),
                last_error_at=_utc(doc.get("last_error_at")),
                last_seen=_utc(doc.get("last_seen")),
            )
            for name, doc in sorted(found.items())
        ]


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
