"""A batch changing many people computes its counter changes in a worker thread
(services/reporting/projector.py OFF_LOOP_PEOPLE): the same figures, the event loop free."""

from __future__ import annotations

import threading
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from contracts import catalogue
from kit.mongo import Document
from services.reporting import projector
from services.reporting.handlers import ProjectionHandler
from services.reporting.store import Versions
from tests.integration.conftest import enrolment

pytestmark = pytest.mark.integration


async def test_a_large_batch_is_counted_off_the_event_loop_with_the_same_figures(
    mongo: AsyncMongoClient[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = Versions(mongo[f"test_reporting_{uuid4().hex[:8]}"])
    await (await versions.active_store()).ensure_indexes()
    handler = ProjectionHandler(mongo, versions)
    version = (await versions.current()).active
    computed_in: list[str] = []
    deltas = projector.WorkingSet.deltas

    def recording(working: projector.WorkingSet) -> object:
        computed_in.append(threading.current_thread().name)
        return deltas(working)

    monkeypatch.setattr(projector.WorkingSet, "deltas", recording)
    loop_thread = threading.current_thread().name

    small = [enrolment("assoc-small").to_event("dn/registration") for _ in range(3)]
    await handler.apply(version, [(e, catalogue.decode(e)) for e in small])
    people = projector.OFF_LOOP_PEOPLE + 36
    large = [enrolment("assoc-large").to_event("dn/registration") for _ in range(people)]
    await handler.apply(version, [(e, catalogue.decode(e)) for e in large])

    assert computed_in[0] == loop_thread  # a few people: in the loop, no thread hand-off
    assert computed_in[1] != loop_thread
    store = await versions.active_store()
    large_totals = [
        c for c in await store.counters_of("association:assoc-large") if not c["dimension"]
    ]
    small_totals = [
        c for c in await store.counters_of("association:assoc-small") if not c["dimension"]
    ]
    assert large_totals[0]["enrolled"] == people
    assert small_totals[0]["enrolled"] == 3
