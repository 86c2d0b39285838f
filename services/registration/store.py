"""Registration's MongoDB collections: encrypted beneficiaries, data keys, duplicate index,
consent log, erasure receipts, partner deliveries and reference data (the access log is
``kit.audit``'s)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.event import EventData
from contracts.registration import AssociationUpsertedV1, DistrictUpsertedV1
from kit import outbox
from kit.mongo import Document, Session, in_transaction
from kit.paging import Page, Position, read_page
from services.registration.domain import (
    Association,
    Beneficiary,
    Consent,
    District,
    PersonalData,
    ReferenceData,
    Status,
    duplicate_keys,
)
from services.registration.vault import Vault

REFERENCE_FILE = Path(__file__).with_name("reference_data.json")


class DuplicateEnrolment(Exception):
    """Another active record of the same association has the same identifying keys."""

    def __init__(self, existing_id: str) -> None:
        super().__init__(existing_id)
        self.existing_id = existing_id


class RegistrationStore:
    def __init__(self, db: AsyncDatabase[Document], source: str, vault: Vault) -> None:
        self.db = db
        self.source = source
        self.vault = vault
        self.beneficiaries = db["beneficiaries"]
        self.data_keys = db["data_keys"]
        self.duplicate_index = db["duplicate_index"]
        self.consent_log = db["consent_log"]
        self.erasures = db["erasure_receipts"]
        self.deliveries = db["partner_deliveries"]
        self.applied_requests = db["applied_intake_requests"]
        self.districts = db["districts"]
        self.associations = db["associations"]

    async def ensure_indexes(self) -> None:
        await self.beneficiaries.create_index([("association_id", ASCENDING), ("status", 1)])
        await self.beneficiaries.create_index([("status", ASCENDING), ("last_contact_at", 1)])
        await self.beneficiaries.create_index([("enrolled_at", ASCENDING), ("_id", 1)])
        await self.beneficiaries.create_index([("association_id", ASCENDING), ("enrolled_at", 1)])
        await self.duplicate_index.create_index("beneficiary_id")
        await self.consent_log.create_index("beneficiary_id")

    # -- reference data ----------------------------------------------------------------------

    async def load_reference_file(self, path: Path = REFERENCE_FILE) -> None:
        """Insert the shipped districts and associations that are not there yet, then announce
        every one not announced yet (:meth:`announce_reference`).

        Coordinators' edits win over the file: existing ids are left alone.
        """
        data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        for collection, rows in (
            (self.districts, data["districts"]),
            (self.associations, data["associations"]),
        ):
            await collection.bulk_write(
                [
                    UpdateOne({"_id": row["id"]}, {"$setOnInsert": _without_id(row)}, upsert=True)
                    for row in rows
                ]
            )
        await in_transaction(self.db.client, self.announce_reference)

    async def announce_reference(self, session: Session) -> int:
        """Emit ``district_upserted`` / ``association_upserted`` for each district and
        association never announced (seeded from the file, or saved before the events carried
        names to reporting), and mark them announced; returns how many."""
        districts = await self._unannounced(self.districts, session)
        associations = await self._unannounced(self.associations, session)
        if not districts and not associations:
            return 0  # every start after the first: no need to read the places themselves
        reference = await self.reference(session)
        for key in districts:
            await self.save_district(session, reference.districts[key])
        for key in associations:
            await self.save_association(session, reference.associations[key])
        return len(districts) + len(associations)

    @staticmethod
    async def _unannounced(collection: AsyncCollection[Document], session: Session) -> list[str]:
        found = collection.find({"announced": {"$ne": True}}, {"_id": 1}, session=session)
        return sorted([str(document["_id"]) async for document in found])

    async def reference(self, session: Session | None = None) -> ReferenceData:
        districts = {
            doc["_id"]: District(
                id=doc["_id"],
                name=doc["name"],
                commune=doc["commune"],
                insee_code=doc["insee_code"],
                qpv_code=doc["qpv_code"],
            )
            async for doc in self.districts.find(session=session)
        }
        associations = {
            doc["_id"]: Association(
                id=doc["_id"],
                name=doc["name"],
                districts=tuple(doc["districts"]),
                rna=doc.get("rna"),
                siret=doc.get("siret"),
                contact=doc.get("contact"),
            )
            async for doc in self.associations.find(session=session)
        }
        return ReferenceData(districts=districts, associations=associations)

    async def save_district(self, session: Session, district: District) -> None:
        document = {**_without_id(asdict(district)), "announced": True}  # by the event below
        await self.districts.replace_one(
            {"_id": district.id}, document, upsert=True, session=session
        )
        await self.emit(
            session,
            DistrictUpsertedV1(
                district_id=district.id,
                name=district.name,
                commune=district.commune,
                insee_code=district.insee_code,
                qpv_code=district.qpv_code,
            ),
        )

    async def save_association(self, session: Session, association: Association) -> None:
        document = _without_id(asdict(association))
        document["districts"] = list(association.districts)
        document["announced"] = True  # by the event below
        await self.associations.replace_one(
            {"_id": association.id}, document, upsert=True, session=session
        )
        await self.emit(
            session,
            AssociationUpsertedV1(
                association_id=association.id,
                name=association.name,
                districts=list(association.districts),
                siret=association.siret,
                rna=association.rna,
            ),
        )

    # -- beneficiaries -----------------------------------------------------------------------

    async def emit(self, session: Session, event: EventData) -> None:
        await outbox.enqueue(self.db, session, event, self.source)

    async def add(self, session: Session, beneficiary: Beneficiary, by: str) -> None:
        """Insert a new record under a new data key; raises :class:`DuplicateEnrolment`."""
        beneficiary_id = str(beneficiary.id)
        key, wrapped = self.vault.new_data_key(beneficiary_id)
        await self.data_keys.insert_one(
            {"_id": beneficiary_id, **wrapped, "created_at": beneficiary.enrolled_at},
            session=session,
        )
        await self.beneficiaries.insert_one(self._document(beneficiary, key), session=session)
        await self._index_duplicates(session, beneficiary)
        await self.consent_log.insert_many(
            [
                _consent_entry(beneficiary_id, purpose, given, by, beneficiary.enrolled_at)
                for purpose, given in asdict(beneficiary.consent).items()
            ],
            session=session,
        )
        await self.emit(session, beneficiary.enrolled_event())

    async def add_many(self, session: Session, enrolled: Sequence[tuple[Beneficiary, str]]) -> None:
        """:meth:`add` for many (beneficiary, by whom), with one write per collection; the
        caller has ruled out duplicates (a clash still raises :class:`DuplicateEnrolment`)."""
        if not enrolled:
            return
        keys, people, index, consents = [], [], [], []
        for beneficiary, by in enrolled:
            beneficiary_id = str(beneficiary.id)
            key, wrapped = self.vault.new_data_key(beneficiary_id)
            keys.append({"_id": beneficiary_id, **wrapped, "created_at": beneficiary.enrolled_at})
            people.append(self._document(beneficiary, key))
            index += [
                {"_id": index_id, "beneficiary_id": beneficiary_id}
                for index_id in self._duplicate_ids(beneficiary)
            ]
            consents += [
                _consent_entry(beneficiary_id, purpose, given, by, beneficiary.enrolled_at)
                for purpose, given in asdict(beneficiary.consent).items()
            ]
        await self.data_keys.insert_many(keys, session=session)
        await self.beneficiaries.insert_many(people, session=session)
        if index:
            try:
                await self.duplicate_index.insert_many(index, session=session)
            except (DuplicateKeyError, BulkWriteError) as error:
                raise DuplicateEnrolment("unknown") from error
        await self.consent_log.insert_many(consents, session=session)
        await outbox.enqueue_many(
            self.db, session, [b.enrolled_event() for b, _ in enrolled], self.source
        )

    async def requests_applied(
        self, request_ids: Sequence[str], session: Session | None = None
    ) -> set[str]:
        """Which of these partner requests (ce_ids) already created a record (one query)."""
        cursor = self.applied_requests.find(
            {"_id": {"$in": list(request_ids)}}, {"_id": 1}, session=session
        )
        return {doc["_id"] async for doc in cursor}

    async def mark_requests_applied(
        self, session: Session, applied: Sequence[tuple[str, str]]
    ) -> None:
        """(request ce_id, beneficiary) for many partner requests, in one write."""
        if applied:
            at = datetime.now(UTC)
            await self.applied_requests.insert_many(
                [{"_id": r, "beneficiary_id": b, "at": at} for r, b in applied], session=session
            )

    async def taken(self, beneficiary_ids: Sequence[str], session: Session) -> set[str]:
        """Which of these ids a record already has (one query)."""
        cursor = self.beneficiaries.find(
            {"_id": {"$in": list(beneficiary_ids)}}, {"_id": 1}, session=session
        )
        return {doc["_id"] async for doc in cursor}

    async def duplicates_among(
        self, beneficiaries: Sequence[Beneficiary], session: Session
    ) -> dict[str, str]:
        """Each identifying key of these people already indexed, with whose it is (one query):
        ``duplicate_keys_of`` says which keys are a person's."""
        ids = [index_id for b in beneficiaries for index_id in self._duplicate_ids(b)]
        cursor = self.duplicate_index.find({"_id": {"$in": ids}}, session=session)
        return {doc["_id"]: str(doc["beneficiary_id"]) async for doc in cursor}

    def duplicate_keys_of(self, beneficiary: Beneficiary) -> list[str]:
        return self._duplicate_ids(beneficiary)

    async def mark_request_applied(
        self, session: Session, request_id: str, beneficiary_id: str
    ) -> None:
        """Record that a partner request (its ce_id) created this record, in the same
        transaction: a redelivered request is then recognised, not refused as a duplicate."""
        await self.applied_requests.insert_one(
            {"_id": request_id, "beneficiary_id": beneficiary_id, "at": datetime.now(UTC)},
            session=session,
        )

    async def applied_request(self, request_id: str) -> str | None:
        found = await self.applied_requests.find_one({"_id": request_id})
        return str(found["beneficiary_id"]) if found else None

    async def find_duplicate(self, beneficiary: Beneficiary) -> str | None:
        ids = self._duplicate_ids(beneficiary)
        found = await self.duplicate_index.find_one({"_id": {"$in": ids}})
        return str(found["beneficiary_id"]) if found else None

    async def update(self, session: Session, beneficiary: Beneficiary) -> None:
        """Store a changed record: re-sealed under its own key, duplicate keys refreshed."""
        beneficiary_id = str(beneficiary.id)
        key = await self._data_key(beneficiary_id, session)
        await self.beneficiaries.replace_one(
            {"_id": beneficiary_id}, self._document(beneficiary, key), session=session
        )
        await self.duplicate_index.delete_many({"beneficiary_id": beneficiary_id}, session=session)
        if beneficiary.status is Status.ACTIVE:
            await self._index_duplicates(session, beneficiary)

    async def get(self, beneficiary_id: str, session: Session | None = None) -> Beneficiary | None:
        """The record with its personal data opened; None when absent or erased."""
        document = await self.beneficiaries.find_one({"_id": beneficiary_id}, session=session)
        if document is None or "personal" not in document:
            return None  # absent, erased, or merged into another record
        key = await self._data_key(beneficiary_id, session)
        return self._beneficiary(document, key)

    async def get_many(self, beneficiary_ids: list[str]) -> dict[str, Beneficiary]:
        """Records with their personal data opened, by id; absent or erased ones are left out."""
        cursor = self.beneficiaries.find(
            {"_id": {"$in": beneficiary_ids}, "personal": {"$exists": True}}
        )
        return {
            str(beneficiary.id): beneficiary
            for beneficiary in await self.opened(await cursor.to_list())
        }

    async def opened(self, documents: list[Document]) -> list[Beneficiary]:
        """Stored records opened with their data keys, read in one query; order kept."""
        ids = [document["_id"] for document in documents]
        keys = {
            stored["_id"]: self.vault.unwrap(stored["_id"], stored)
            async for stored in self.data_keys.find({"_id": {"$in": ids}})
        }
        return [
            self._beneficiary(document, keys[document["_id"]])
            for document in documents
            if document["_id"] in keys
        ]

    async def page(
        self,
        association_id: str | None,
        district_id: str | None,
        track: str | None,
        status: str | None,
        after: Position | None,
        first: int,
    ) -> tuple[Page, list[Beneficiary]]:
        """Records matching the filter in enrolment order, one page after ``after``."""
        query: dict[str, Any] = {"personal": {"$exists": True}}
        for field, value in (
            ("association_id", association_id),
            ("district_id", district_id),
            ("tracks", track),
            ("status", status),
        ):
            if value is not None:
                query[field] = value
        page = await read_page(self.beneficiaries, query, "enrolled_at", after, first)
        return page, await self.opened(page.documents)

    async def status_of(self, beneficiary_id: str) -> Status | None:
        document = await self.beneficiaries.find_one({"_id": beneficiary_id}, {"status": 1})
        return Status(document["status"]) if document else None

    async def shred(
        self, session: Session, beneficiary: Beneficiary, status: Status, **kept: Any
    ) -> None:
        """Crypto-shred a record: its data key goes, then the ciphertext, duplicate indexes
        and consent history; a tombstone with ``status`` and the ``kept`` fields remains."""
        beneficiary_id = str(beneficiary.id)
        await self.data_keys.delete_one({"_id": beneficiary_id}, session=session)
        await self.beneficiaries.replace_one(
            {"_id": beneficiary_id},
            {"status": status.value, "association_id": beneficiary.association_id, **kept},
            session=session,
        )
        await self.duplicate_index.delete_many({"beneficiary_id": beneficiary_id}, session=session)
        await self.consent_log.delete_many({"beneficiary_id": beneficiary_id}, session=session)

    async def add_receipt(self, session: Session, receipt: Document) -> None:
        await self.erasures.insert_one(receipt, session=session)

    async def erasure_receipt(self, beneficiary_id: str) -> Document | None:
        return await self.erasures.find_one({"beneficiary_id": beneficiary_id})

    async def touch(self, beneficiary_id: str, at: datetime) -> None:
        """Record a contact with the person (activity elsewhere), never moving it backwards."""
        await self.touch_many({beneficiary_id: at})

    async def touch_many(self, contacts: dict[str, datetime]) -> None:
        """Record contacts with many people (the latest of each), in one write."""
        if not contacts:
            return
        live = [Status.ACTIVE.value, Status.WITHDRAWN.value]
        await self.beneficiaries.bulk_write(
            [
                UpdateOne(
                    {"_id": beneficiary_id, "status": {"$in": live}},
                    {"$max": {"last_contact_at": at}},
                )
                for beneficiary_id, at in contacts.items()
            ],
            ordered=False,
        )

    async def last_contacts(self) -> dict[str, datetime]:
        """Last contact of every active or withdrawn record (for the retention job)."""
        cursor = self.beneficiaries.find(
            {"status": {"$in": [Status.ACTIVE.value, Status.WITHDRAWN.value]}},
            {"last_contact_at": 1},
        )
        return {doc["_id"]: doc["last_contact_at"] async for doc in cursor}

    async def consent_history(self, beneficiary_id: str) -> list[Document]:
        cursor = self.consent_log.find({"beneficiary_id": beneficiary_id}, {"_id": 0})
        return await cursor.sort("at", ASCENDING).to_list()

    async def list_ids(self, association_id: str | None, limit: int = 1000) -> list[str]:
        query: dict[str, Any] = {"status": {"$ne": Status.ERASED.value}}
        if association_id:
            query["association_id"] = association_id
        cursor = self.beneficiaries.find(query, {"_id": 1}).limit(limit)
        return [doc["_id"] async for doc in cursor]

    # -- documents ---------------------------------------------------------------------------

    async def _data_key(self, beneficiary_id: str, session: Session | None) -> bytes:
        stored = await self.data_keys.find_one({"_id": beneficiary_id}, session=session)
        if stored is None:
            raise LookupError(f"no data key for {beneficiary_id}")
        return self.vault.unwrap(beneficiary_id, stored)

    def _document(self, beneficiary: Beneficiary, key: bytes) -> Document:
        beneficiary_id = str(beneficiary.id)
        sealed = self.vault.seal(
            key,
            beneficiary_id,
            {**asdict(beneficiary.personal), "birth_year": beneficiary.birth_year},
        )
        return {
            "_id": beneficiary_id,
            **dimensions_as_json(beneficiary),
            "consent": asdict(beneficiary.consent),
            "personal": sealed,
            "enrolled_at": beneficiary.enrolled_at,
            "last_contact_at": beneficiary.last_contact_at or beneficiary.enrolled_at,
            "status": beneficiary.status.value,
        }

    def _beneficiary(self, document: Document, key: bytes) -> Beneficiary:
        personal = self.vault.open(key, document["_id"], document["personal"])
        birth_year = personal.pop("birth_year", None)
        return Beneficiary(
            id=UUID(document["_id"]),
            association_id=document["association_id"],
            district_id=document["district_id"],
            personal=PersonalData(**personal),
            birth_year=birth_year,
            gender=Gender(document["gender"]),
            age_band=AgeBand(document["age_band"]),
            tracks=tuple(Track(track) for track in document["tracks"]),
            employment_status=EmploymentStatus(document["employment_status"]),
            consent=Consent(**document["consent"]),
            enrolled_at=document["enrolled_at"],
            qpv_resident=document["qpv_resident"],
            status=Status(document["status"]),
            last_contact_at=document.get("last_contact_at"),
        )

    def _duplicate_ids(self, beneficiary: Beneficiary) -> list[str]:
        keys = duplicate_keys(beneficiary.personal, beneficiary.birth_year)
        return [
            f"{beneficiary.association_id}:{kind}:{self.vault.blind_index(kind, value)}"
            for kind, value in keys.items()
        ]

    async def _index_duplicates(self, session: Session, beneficiary: Beneficiary) -> None:
        """One unique document per identifying key: two concurrent enrolments of the same
        person cannot both commit, whatever their timing."""
        beneficiary_id = str(beneficiary.id)
        index_ids = self._duplicate_ids(beneficiary)
        if not index_ids:
            return  # no birth year, phone or email: nothing says who else this could be
        try:
            await self.duplicate_index.insert_many(
                [{"_id": index_id, "beneficiary_id": beneficiary_id} for index_id in index_ids],
                session=session,
            )
        except (DuplicateKeyError, BulkWriteError) as error:
            existing = await self.duplicate_index.find_one({"_id": {"$in": index_ids}})
            raise DuplicateEnrolment(
                str(existing["beneficiary_id"]) if existing else "unknown"
            ) from error

    async def log_consent(
        self,
        session: Session,
        beneficiary_id: str,
        purpose: str,
        given: bool,
        by: str,
        at: datetime,
    ) -> None:
        entry = _consent_entry(beneficiary_id, purpose, given, by, at)
        await self.consent_log.insert_one(entry, session=session)


def _consent_entry(
    beneficiary_id: str, purpose: str, given: bool, by: str, at: datetime
) -> Document:
    return {
        "beneficiary_id": beneficiary_id,
        "purpose": purpose,
        "given": given,
        "at": at,
        "by": by,
    }


def dimensions_as_json(beneficiary: Beneficiary) -> dict[str, Any]:
    """The person's dimensions with enums as their values (strings), as stored and shown."""
    return {
        name: [v.value for v in value]
        if isinstance(value, list)
        else getattr(value, "value", value)
        for name, value in beneficiary.dimensions().items()
    }


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in ("id", "_note")}
