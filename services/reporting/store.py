"""Reporting's MongoDB collections: per-beneficiary facts, counters, freshness."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime
from uuid import uuid4

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kit.mongo import Document, Session
from services.reporting.domain import ALL, BeneficiaryFacts, Deltas


def counter_id(scope: str, dimension: str | None, value: str | None) -> str:
    return scope if dimension is None else f"{scope}|{dimension}:{value}"


class ReportingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.facts = db["beneficiary_facts"]
        self.counters = db["counters"]
        self.meta = db["meta"]
        self.associations = db["association_facts"]

    async def ensure_indexes(self) -> None:
        await self.counters.create_index("scope")

    async def load_facts(self, session: Session, beneficiary_id: str) -> BeneficiaryFacts:
        document = await self.facts.find_one({"_id": beneficiary_id}, session=session)
        if document is None:
            return BeneficiaryFacts(beneficiary_id)
        known = {f.name for f in fields(BeneficiaryFacts)} - {"beneficiary_id"}
        # An old document may lack newer fields: they take their defaults.
        values = {key: document[key] for key in known if key in document}
        if "tracks" in values:
            values["tracks"] = tuple(values["tracks"])
        return BeneficiaryFacts(beneficiary_id=beneficiary_id, **values)

    async def mark_association_upskilled(
        self, session: Session, association_id: str, event_time: datetime
    ) -> None:
        """Count an association as upskilled, once, in the totals and in its own scope."""
        changed = await self.associations.update_one(
            {"_id": association_id, "upskilled": {"$ne": True}},
            {"$set": {"upskilled": True, "upskilled_at": event_time}},
            upsert=False,
            session=session,
        )
        if changed.matched_count == 0:
            if await self.associations.find_one({"_id": association_id}, session=session):
                return  # already counted
            await self.associations.insert_one(
                {"_id": association_id, "upskilled": True, "upskilled_at": event_time},
                session=session,
            )
        deltas: Deltas = {
            ((ALL, None, None), "associations_upskilled"): 1,
            ((f"association:{association_id}", None, None), "associations_upskilled"): 1,
        }
        await self._move_counters(session, deltas)

    async def is_erased(self, session: Session, beneficiary_id: str) -> bool:
        found = await self.facts.find_one(
            {"_id": beneficiary_id, "erased": True}, {"_id": 1}, session=session
        )
        return found is not None

    async def pseudonymise(self, session: Session, beneficiary_id: str) -> None:
        """Re-key the person's facts under a random id and leave an empty tombstone, so
        aggregates keep their contribution but nothing links it to the erased person."""
        document = await self.facts.find_one({"_id": beneficiary_id}, session=session)
        if document is not None:
            document["_id"] = f"erased-{uuid4()}"
            await self.facts.insert_one(document, session=session)
        await self.facts.replace_one(
            {"_id": beneficiary_id}, {"erased": True}, upsert=True, session=session
        )

    async def save_transition(
        self, session: Session, facts: BeneficiaryFacts, deltas: Deltas, event_time: datetime
    ) -> None:
        """Store the new facts and move the counters, in the caller's transaction."""
        document = asdict(facts)
        document["_id"] = document.pop("beneficiary_id")
        await self.facts.replace_one(
            {"_id": document["_id"]}, document, upsert=True, session=session
        )
        await self._move_counters(session, deltas)
        now = datetime.now(UTC)
        await self.meta.update_one(
            {"_id": "freshness"},
            {
                "$set": {
                    "updated_at": now,
                    "last_event_time": event_time,
                    "lag_seconds": (now - event_time).total_seconds(),
                }
            },
            upsert=True,
            session=session,
        )

    async def _move_counters(self, session: Session, deltas: Deltas) -> None:
        if not deltas:
            return
        await self.counters.bulk_write(
            [
                UpdateOne(
                    {"_id": counter_id(*bucket)},
                    {
                        "$inc": {indicator: change},
                        "$setOnInsert": dict(
                            zip(("scope", "dimension", "value"), bucket, strict=True)
                        ),
                    },
                    upsert=True,
                )
                for (bucket, indicator), change in deltas.items()
            ],
            ordered=False,
            session=session,
        )

    async def counters_of(self, scope: str) -> list[Document]:
        return await self.counters.find({"scope": scope}).to_list()

    async def updated_at(self) -> datetime | None:
        document = await self.meta.find_one({"_id": "freshness"})
        return document["updated_at"] if document else None
