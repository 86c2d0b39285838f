"""Reporting's MongoDB collections: projection versions, per-beneficiary and per-session facts,
counters.

Counters are kept **one document per scope** (``all``, ``association:…``, ``district:…``,
``track:…``): ``{_id: scope, totals: {indicator: n}, cells: {dimension: {value: {indicator:
n}}}}``. A batch moves each scope it touches with one ``$inc`` (a batch of 500 attendance
events touched ~940 per-cell documents before), and an answer reads its scope in one document.

A projection *version* is a set of collections (``v3_facts``, ``v3_counters`` …). Reads use
the active version; a rebuild fills a new one while the live consumer writes to both, and one
update of the registry document switches reads over.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kit.mongo import Document, Session, in_transaction
from services.reporting.domain import BeneficiaryFacts, Deltas, SessionFacts

REGISTRY = "projection_versions"
# A rebuild that has not reported progress for this long is taken to have died.
REBUILD_STALE_AFTER = timedelta(seconds=60)
# How long an erased person's tombstone still leads to their re-keyed facts, so that facts
# already in flight on other topics when the erasure is read still count (then: forgotten).
ERASURE_LINK_DAYS = 7.0


def counter_id(scope: str, dimension: str | None, value: str | None) -> str:
    return scope if dimension is None else f"{scope}|{dimension}:{value}"


def field_name(value: str) -> str:
    """A breakdown value as a MongoDB field name: no dot (a path separator), no leading ``$``,
    not empty; reversible (:func:`value_of_field`)."""
    if value == "":
        return "%"
    escaped = value.replace("%", "%25").replace(".", "%2E")
    return "%24" + escaped[1:] if escaped.startswith("$") else escaped


def value_of_field(name: str) -> str:
    if name == "%":
        return ""
    return name.replace("%2E", ".").replace("%24", "$").replace("%25", "%")


@dataclasses.dataclass(frozen=True)
class Names:
    """District and association names by id, for the exports (reporting's figures hold ids)."""

    districts: dict[str, str] = dataclasses.field(default_factory=dict)
    associations: dict[str, str] = dataclasses.field(default_factory=dict)

    def name_all(self, cells: Iterable[tuple[str, str]]) -> bool:
        """Whether every (dimension, value) among ``cells`` that is a district or an
        association has a name."""
        known = {"district": self.districts, "association": self.associations}
        return all(value in known[dimension] for dimension, value in cells if dimension in known)


@dataclasses.dataclass(frozen=True)
class Registry:
    active: int
    building: int | None
    building_heartbeat: datetime | None
    switched_at: datetime | None

    @property
    def written(self) -> tuple[int, ...]:
        """Versions every new event must reach."""
        return (self.active,) if self.building is None else (self.active, self.building)


class RebuildRunning(Exception):
    pass


class Versions:
    """The registry of projection versions: which one serves reads, which one is being built."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.registry = db[REGISTRY]

    async def current(self) -> Registry:
        document = await self.registry.find_one({"_id": "registry"})
        if document is None:
            await self.registry.update_one(
                {"_id": "registry"}, {"$setOnInsert": {"active": 1, "building": None}}, upsert=True
            )
            document = await self.registry.find_one({"_id": "registry"})
            assert document is not None
        return Registry(
            active=int(document["active"]),
            building=document.get("building"),
            building_heartbeat=document.get("building_heartbeat"),
            switched_at=document.get("switched_at"),
        )

    def store(self, version: int) -> ReportingStore:
        return ReportingStore(self.db, version)

    async def active_store(self) -> ReportingStore:
        return self.store((await self.current()).active)

    async def begin_rebuild(self, *, force: bool = False) -> int:
        """Register a new version as being built; refuses while another rebuild is alive."""
        registry = await self.current()
        now = datetime.now(UTC)
        if registry.building is not None and not force:
            beat = registry.building_heartbeat
            if beat is not None and now - beat < REBUILD_STALE_AFTER:
                raise RebuildRunning(
                    f"version {registry.building} is being rebuilt (last progress {beat:%H:%M:%S}"
                    " UTC); wait for it, or pass --force if that rebuild has died"
                )
        if registry.building is not None:
            await self.drop(registry.building)  # an abandoned attempt
        version = max(registry.active, registry.building or 0) + 1
        await self.drop(version)
        await self.store(version).ensure_indexes()
        await self.registry.update_one(
            {"_id": "registry"},
            {"$set": {"building": version, "building_heartbeat": now}},
        )
        return version

    async def heartbeat(self, version: int) -> None:
        await self.registry.update_one(
            {"_id": "registry", "building": version},
            {"$set": {"building_heartbeat": datetime.now(UTC)}},
        )

    async def switch(self, version: int) -> int:
        """Make ``version`` the one reads use, in one update; returns the retired version."""
        before = await self.registry.find_one_and_update(
            {"_id": "registry", "building": version},
            {"$set": {"active": version, "building": None, "switched_at": datetime.now(UTC)}},
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            raise RebuildRunning(f"version {version} is no longer the one being built")
        return int(before["active"])

    async def abandon(self, version: int) -> None:
        await self.registry.update_one(
            {"_id": "registry", "building": version}, {"$set": {"building": None}}
        )
        await self.drop(version)

    async def drop(self, version: int) -> None:
        for name in await self.db.list_collection_names():
            if name.startswith(f"v{version}_"):
                await self.db.drop_collection(name)


class ReportingStore:
    """The collections of one projection version."""

    def __init__(self, db: AsyncDatabase[Document], version: int = 1) -> None:
        self.version = version
        prefix = f"v{version}_"
        self.facts = db[f"{prefix}facts"]
        self.sessions = db[f"{prefix}sessions"]
        self.counters = db[f"{prefix}scope_counters"]
        # Before December 2026: one document per (scope, dimension, value); folded at start.
        self.cell_counters = db[f"{prefix}counters"]
        self.client = db.client
        self.associations = db[f"{prefix}associations"]
        self.processed = db[f"{prefix}processed"]
        self.meta = db[f"{prefix}meta"]
        self.names = db[f"{prefix}names"]

    async def ensure_indexes(self) -> None:
        await self.fold_cell_counters()

    async def fold_cell_counters(self) -> int:
        """Fold counters stored one document per cell (before December 2026) into one document
        per scope, in one transaction, then drop the old collection: a platform upgraded in
        place keeps every figure. Returns the cells folded."""
        cells = await self.cell_counters.find({}).to_list()
        if not cells:
            return 0
        if await self.counters.estimated_document_count() == 0:
            scopes: dict[str, Document] = {}
            for cell in cells:
                document = scopes.setdefault(
                    cell["scope"], {"_id": cell["scope"], "totals": {}, "cells": {}}
                )
                indicators = {
                    key: value
                    for key, value in cell.items()
                    if key not in ("_id", "scope", "dimension", "value")
                }
                if cell.get("dimension") is None:
                    document["totals"].update(indicators)
                else:
                    by_value = document["cells"].setdefault(cell["dimension"], {})
                    by_value[field_name(str(cell["value"]))] = indicators

            async def write(session: Session) -> None:
                await self.counters.insert_many(list(scopes.values()), session=session)

            await in_transaction(self.client, write)
        # Folded now or by a start that stopped before this drop.
        await self.cell_counters.drop()
        return len(cells)

    # -- facts --------------------------------------------------------------------------------

    async def load_facts(
        self, session: Session, beneficiary_ids: list[str]
    ) -> dict[str, BeneficiaryFacts | None]:
        """The stored facts of each person. For an erased person: their re-keyed facts while
        the erasure's link lasts (``beneficiary_id`` is then the random key), else None."""
        found: dict[str, BeneficiaryFacts | None] = {}
        linked: dict[str, str] = {}
        now = datetime.now(UTC)
        async for document in self.facts.find({"_id": {"$in": beneficiary_ids}}, session=session):
            if not document.get("erased"):
                found[document["_id"]] = facts_of(document)
            elif document.get("pseudonym") and document.get("link_expires_at", now) > now:
                linked[document["pseudonym"]] = document["_id"]
            else:
                found[document["_id"]] = None
        if linked:
            cursor = self.facts.find({"_id": {"$in": list(linked)}}, session=session)
            async for document in cursor:
                found[linked[document["_id"]]] = facts_of(document)
        return found

    async def save_facts(
        self,
        session: Session,
        changed: list[tuple[str, BeneficiaryFacts]],
        erased: set[str],
        link_days: float = ERASURE_LINK_DAYS,
    ) -> None:
        """Store changed facts. An erased person's facts are re-keyed under a random id and
        their record becomes a tombstone: aggregates keep their contribution. The tombstone
        keeps the random key for ``link_days`` only, so facts already on their way (an
        attendance read after the erasure from another topic) still count; then
        :meth:`forget_erased_links` removes it and nothing links the figures to the person."""
        writes: list[Any] = []
        for key, facts in changed:
            pseudonymised = facts.beneficiary_id != key
            if key not in erased and not pseudonymised:
                writes.append(UpdateOne({"_id": key}, {"$set": document_of(facts)}, upsert=True))
                continue
            if not pseudonymised:
                facts = dataclasses.replace(facts, beneficiary_id=f"erased-{uuid4()}")
            writes.append(
                UpdateOne({"_id": facts.beneficiary_id}, {"$set": document_of(facts)}, upsert=True)
            )
            if key in erased and not pseudonymised:
                expires = datetime.now(UTC) + timedelta(days=link_days)
                writes.append(
                    UpdateOne(
                        {"_id": key},
                        {
                            "$set": {
                                "erased": True,
                                "pseudonym": facts.beneficiary_id,
                                "link_expires_at": expires,
                            },
                            "$unset": _all_fields(),
                        },
                        upsert=True,
                    )
                )
        if writes:
            await self.facts.bulk_write(writes, ordered=True, session=session)

    async def forget_erased_links(self, now: datetime | None = None) -> int:
        """Drop the link from erased people to their re-keyed facts once its time is up."""
        result = await self.facts.update_many(
            {"erased": True, "link_expires_at": {"$lte": now or datetime.now(UTC)}},
            {"$unset": {"pseudonym": "", "link_expires_at": ""}},
        )
        return result.modified_count

    # -- sessions -----------------------------------------------------------------------------

    async def load_sessions(
        self, session: Session, session_ids: list[str]
    ) -> dict[str, SessionFacts]:
        """The stored facts of each training session reporting has heard of."""
        cursor = self.sessions.find({"_id": {"$in": session_ids}}, session=session)
        return {document["_id"]: session_facts_of(document) async for document in cursor}

    async def save_sessions(self, session: Session, changed: list[SessionFacts]) -> None:
        if changed:
            await self.sessions.bulk_write(
                [
                    UpdateOne(
                        {"_id": facts.session_id}, {"$set": session_document_of(facts)}, upsert=True
                    )
                    for facts in changed
                ],
                ordered=False,
                session=session,
            )

    # -- associations -------------------------------------------------------------------------

    async def upskilled_associations(
        self, session: Session, association_ids: list[str]
    ) -> set[str]:
        cursor = self.associations.find(
            {"_id": {"$in": association_ids}, "upskilled": True}, {"_id": 1}, session=session
        )
        return {document["_id"] async for document in cursor}

    async def mark_upskilled(self, session: Session, upskilled: dict[str, datetime]) -> None:
        if upskilled:
            await self.associations.bulk_write(
                [
                    UpdateOne(
                        {"_id": association_id},
                        {"$set": {"upskilled": True, "upskilled_at": at}},
                        upsert=True,
                    )
                    for association_id, at in upskilled.items()
                ],
                session=session,
            )

    # -- idempotence --------------------------------------------------------------------------

    async def already_processed(self, session: Session, event_ids: list[str]) -> set[str]:
        cursor = self.processed.find({"_id": {"$in": event_ids}}, {"_id": 1}, session=session)
        return {document["_id"] async for document in cursor}

    async def mark_processed(self, session: Session, events: list[tuple[str, str]]) -> None:
        if events:
            now = datetime.now(UTC)
            await self.processed.insert_many(
                [{"_id": event_id, "type": kind, "at": now} for event_id, kind in events],
                ordered=False,
                session=session,
            )

    # -- counters -----------------------------------------------------------------------------

    async def move_counters(self, session: Session, deltas: Deltas) -> None:
        """Add ``deltas``: one update per scope the batch touches."""
        increments: dict[str, dict[str, int]] = {}
        for ((scope, dimension, value), indicator), change in deltas.items():
            if dimension is None:
                path = f"totals.{indicator}"
            else:
                path = f"cells.{dimension}.{field_name(str(value))}.{indicator}"
            increments.setdefault(scope, {})[path] = change
        if not increments:
            return
        await self.counters.bulk_write(
            [
                UpdateOne({"_id": scope}, {"$inc": increments[scope]}, upsert=True)
                for scope in sorted(increments)
            ],
            ordered=False,
            session=session,
        )

    async def record_freshness(self, session: Session, event_time: datetime) -> None:
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
        """The scope's counters, one mapping per cell: ``scope``, ``dimension`` and ``value``
        (None for the totals) and a count per indicator."""
        document = await self.counters.find_one({"_id": scope})
        return cells_of(document) if document else []

    async def save_names(self, session: Session, names: Mapping[tuple[str, str], str]) -> None:
        """Store districts' and associations' names, ``(kind, id) → name``."""
        if names:
            await self.names.bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{kind}:{key}"},
                        {"$set": {"kind": kind, "key": key, "name": name}},
                        upsert=True,
                    )
                    for (kind, key), name in names.items()
                ],
                ordered=False,
                session=session,
            )

    async def reference_names(self) -> Names:
        """Every district's and association's name by id, as registration's events gave them."""
        names = Names()
        async for document in self.names.find({}):
            kind = names.districts if document["kind"] == "district" else names.associations
            kind[str(document["key"])] = str(document["name"])
        return names

    async def freshness(self) -> Document | None:
        return await self.meta.find_one({"_id": "freshness"})


def cells_of(document: Document) -> list[Document]:
    """A scope's counter document as one mapping per cell (what figures.impact reads)."""
    scope = document["_id"]
    cells = (
        [{"_id": scope, "scope": scope, "dimension": None, "value": None, **document["totals"]}]
        if document.get("totals")
        else []
    )
    for dimension, by_value in (document.get("cells") or {}).items():
        for name, indicators in by_value.items():
            value = value_of_field(name)
            cells.append(
                {
                    "_id": counter_id(scope, dimension, value),
                    "scope": scope,
                    "dimension": dimension,
                    "value": value,
                    **indicators,
                }
            )
    return cells


def document_of(facts: BeneficiaryFacts) -> Document:
    # Shallow: the records inside are plain dicts already (asdict would deep-copy them all).
    document = {f.name: getattr(facts, f.name) for f in fields(facts) if f.name != "beneficiary_id"}
    document["tracks"] = list(facts.tracks)
    return document


def facts_of(document: Document) -> BeneficiaryFacts:
    known = {f.name for f in fields(BeneficiaryFacts)} - {"beneficiary_id"}
    # An old document may lack newer fields: they take their defaults.
    values = {key: document[key] for key in known if key in document}
    if "tracks" in values:
        values["tracks"] = tuple(values["tracks"])
    return BeneficiaryFacts(beneficiary_id=str(document["_id"]), **values)


def session_document_of(facts: SessionFacts) -> Document:
    return {f.name: getattr(facts, f.name) for f in fields(facts) if f.name != "session_id"}


def session_facts_of(document: Document) -> SessionFacts:
    known = {f.name for f in fields(SessionFacts)} - {"session_id"}
    values = {key: document[key] for key in known if key in document}
    return SessionFacts(session_id=str(document["_id"]), **values)


def _all_fields() -> dict[str, str]:
    return {f.name: "" for f in fields(BeneficiaryFacts) if f.name != "beneficiary_id"}
