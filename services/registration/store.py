"""Registration's MongoDB collections: beneficiaries, reference data, and their outbox writes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kit import outbox
from kit.mongo import Document, Session
from services.registration.domain import Association, Beneficiary, District, ReferenceData

REFERENCE_FILE = Path(__file__).with_name("reference_data.json")


class RegistrationStore:
    def __init__(self, db: AsyncDatabase[Document], source: str) -> None:
        self.db = db
        self.source = source
        self.beneficiaries = db["beneficiaries"]
        self.districts = db["districts"]
        self.associations = db["associations"]

    async def ensure_indexes(self) -> None:
        await self.beneficiaries.create_index("association_id")
        await self.beneficiaries.create_index("district_id")

    async def load_reference_file(self, path: Path = REFERENCE_FILE) -> None:
        """Upsert districts and associations from the shipped file (ids are stable)."""
        data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        for collection, rows in (
            (self.districts, data["districts"]),
            (self.associations, data["associations"]),
        ):
            await collection.bulk_write(
                [
                    UpdateOne({"_id": row["id"]}, {"$set": _without_id(row)}, upsert=True)
                    for row in rows
                ]
            )

    async def reference(self) -> ReferenceData:
        districts = {
            doc["_id"]: District(id=doc["_id"], **_fields(doc, District))
            async for doc in self.districts.find()
        }
        associations = {
            doc["_id"]: Association(
                id=doc["_id"],
                name=doc["name"],
                districts=tuple(doc["districts"]),
                rna=doc.get("rna"),
                contact=doc.get("contact"),
            )
            async for doc in self.associations.find()
        }
        return ReferenceData(districts=districts, associations=associations)

    async def add_beneficiary(self, session: Session, beneficiary: Beneficiary) -> None:
        """Insert the beneficiary and its enrolment event in the caller's transaction."""
        await self.beneficiaries.insert_one(_beneficiary_document(beneficiary), session=session)
        await outbox.enqueue(self.db, session, beneficiary.enrolled_event(), self.source)

    async def beneficiary(self, beneficiary_id: str) -> Document | None:
        return await self.beneficiaries.find_one({"_id": beneficiary_id})


def _beneficiary_document(beneficiary: Beneficiary) -> Document:
    return {
        "_id": str(beneficiary.id),
        "association_id": beneficiary.association_id,
        "district_id": beneficiary.district_id,
        "personal": asdict(beneficiary.personal),
        "birth_year": beneficiary.birth_year,
        "gender": beneficiary.gender.value,
        "age_band": beneficiary.age_band.value,
        "tracks": [track.value for track in beneficiary.tracks],
        "employment_status": beneficiary.employment_status.value,
        "consent": {**asdict(beneficiary.consent), "given_at": beneficiary.enrolled_at},
        "enrolled_at": beneficiary.enrolled_at,
        "status": "enrolled",
    }


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "id"}


def _fields(doc: Document, cls: type[Any]) -> dict[str, Any]:
    return {name: doc[name] for name in cls.__dataclass_fields__ if name != "id"}
