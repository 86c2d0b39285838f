"""Share links: random, unguessable ids that open the public (anonymised) figures until a
coordinator revokes them; kept in reporting's database, outside the projection versions."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from kit.mongo import Document

COLLECTION = "share_links"
ID_BYTES = 24  # 192 random bits, URL-safe base64: 32 characters


class ShareLinks:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[COLLECTION]

    async def create(self, label: str, created_by: str) -> dict[str, Any]:
        link = {
            "_id": secrets.token_urlsafe(ID_BYTES),
            "label": label,
            "created_by": created_by,
            "created_at": datetime.now(UTC),
            "revoked_at": None,
            "revoked_by": None,
        }
        await self.collection.insert_one(link)
        return view(link)

    async def all(self) -> list[dict[str, Any]]:
        return [view(link) async for link in self.collection.find().sort("created_at", -1)]

    async def active(self, link_id: str) -> bool:
        found = await self.collection.find_one({"_id": link_id, "revoked_at": None}, {"_id": 1})
        return found is not None

    async def revoke(self, link_id: str, revoked_by: str) -> dict[str, Any] | None:
        """The link, revoked now (or when it was first revoked); None when unknown."""
        await self.collection.update_one(
            {"_id": link_id, "revoked_at": None},
            {"$set": {"revoked_at": datetime.now(UTC), "revoked_by": revoked_by}},
        )
        found = await self.collection.find_one({"_id": link_id})
        return view(found) if found else None


def view(link: dict[str, Any]) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        if moment is None:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()

    return {
        "id": link["_id"],
        "label": link["label"],
        "created_by": link["created_by"],
        "created_at": iso(link["created_at"]),
        "revoked_at": iso(link.get("revoked_at")),
        "active": link.get("revoked_at") is None,
    }
