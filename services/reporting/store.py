"""Reporting's MongoDB collections: per-beneficiary facts, counters, freshness."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime
from uuid import uuid4

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kit.mongo import Document, Session
from services.reporting.domain import BeneficiaryFacts, Deltas


def counter_id(scope: str, dimension: str | None, value: str | None) -> str:
    return scope if dimension is None else f"{scope}|{dimension}:{value}"


class ReportingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.facts = db["beneficiary_facts"]
        self.counters = db["counters"]
        self.meta = db["meta"]

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
        if deltas:
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

    async def counters_of(self, scope: str) -> list[Document]:
        return await self.counters.find({"scope": scope}).to_list()

    async def updated_at(self) -> datetime | None:
        document = await self.meta.find_one({"_id": "freshness"})
        return document["updated_at"] if document else None
