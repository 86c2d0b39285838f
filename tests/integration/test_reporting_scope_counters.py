"""Counters kept one document per scope: what a batch adds reads back cell by cell, whatever
the breakdown values hold; counters stored the old way (one document per cell) are folded in
at start without losing a count."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from kit.mongo import Document, in_transaction
from services.reporting.store import ReportingStore, counter_id, field_name, value_of_field

pytestmark = pytest.mark.integration


def counts(cell: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in cell.items() if k not in ("_id", "scope", "dimension", "value")}


def test_breakdown_values_become_field_names_and_back() -> None:
    for value in ("qpv-saige", "2026-W05", "a.b.c", "$x", "", "%", "%2E", "50%.5", "unknown"):
        name = field_name(value)
        assert name
        assert "." not in name
        assert not name.startswith("$")
        assert value_of_field(name) == value


async def test_batches_move_one_document_per_scope_and_read_back_cell_by_cell(
    mongo: AsyncMongoClient[Document],
) -> None:
    db = mongo[f"dn_test_counters_{uuid4().hex[:8]}"]
    store = ReportingStore(db, version=1)
    await store.ensure_indexes()
    first = {
        (("all", None, None), "enrolled"): 2,
        (("all", "district", "qpv.saige"), "enrolled"): 2,
        (("all", "week", "2026-W05"), "enrolled"): 1,
        (("association:a1", None, None), "enrolled"): 1,
    }
    second = {
        (("all", None, None), "enrolled"): -1,
        (("all", None, None), "sessions_present"): 3,
        (("all", "district", "qpv.saige"), "enrolled"): -1,
        (("all", "district", "$odd"), "enrolled"): 1,
    }
    for deltas in (first, second):
        await in_transaction(mongo, partial(store.move_counters, deltas=deltas))

    assert await db["v1_scope_counters"].count_documents({}) == 2  # all, association:a1
    cells = {(c["dimension"], c["value"]): counts(c) for c in await store.counters_of("all")}
    assert cells[(None, None)] == {"enrolled": 1, "sessions_present": 3}
    assert cells[("district", "qpv.saige")] == {"enrolled": 1}
    assert cells[("district", "$odd")] == {"enrolled": 1}
    assert cells[("week", "2026-W05")] == {"enrolled": 1}
    assert [c["enrolled"] for c in await store.counters_of("association:a1")] == [1]
    assert await store.counters_of("district:nowhere") == []


async def test_counters_stored_one_document_per_cell_are_folded_in_at_start(
    mongo: AsyncMongoClient[Document],
) -> None:
    db = mongo[f"dn_test_counters_{uuid4().hex[:8]}"]
    old = [
        ("all", None, None, {"enrolled": 7, "trained": 3}),
        ("all", "district", "qpv-saige", {"enrolled": 4}),
        ("all", "district", "qpv.benauge", {"enrolled": 3, "trained": 3}),
        ("all", "week", "2026-W05", {"enrolled": 7}),
        ("association:a1", None, None, {"enrolled": 7}),
    ]
    await db["v1_counters"].insert_many(
        [
            {"_id": counter_id(s, d, v), "scope": s, "dimension": d, "value": v, **indicators}
            for s, d, v, indicators in old
        ]
    )
    store = ReportingStore(db, version=1)

    await store.ensure_indexes()

    assert "v1_counters" not in await db.list_collection_names()
    found = await store.counters_of("all")
    assert {(c["dimension"], c["value"]): counts(c) for c in found} == {
        (d, v): indicators for s, d, v, indicators in old if s == "all"
    }
    assert [c["enrolled"] for c in await store.counters_of("association:a1")] == [7]
    # A second start finds nothing left to fold and changes nothing.
    assert await store.fold_cell_counters() == 0
    assert len(await store.counters_of("all")) == 4
