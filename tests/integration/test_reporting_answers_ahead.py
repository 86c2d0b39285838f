"""A committed change has its answers composed as it is announced, for the (scope, audience)
asked lately and touched by it: the reader's request then takes that answer instead of composing
its own. Scopes the change did not touch, and answers nobody asked for lately, are left alone."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from kit.mongo import Document
from services.reporting import domain
from services.reporting.handlers import Freshness, ProjectionHandler
from services.reporting.impact_answers import ImpactAnswers
from services.reporting.live import ImpactFeed
from services.reporting.store import Versions
from tests.integration.conftest import enrolment
from tests.support import ManualClock

pytestmark = pytest.mark.integration


async def test_an_announced_change_has_the_answers_asked_lately_composed_ahead(
    mongo: AsyncMongoClient[Document],
) -> None:
    versions = Versions(mongo[f"test_reporting_{uuid4().hex[:8]}"])
    store = await versions.active_store()
    await store.ensure_indexes()
    clock = ManualClock(1000.0)
    feed, freshness = ImpactFeed(), Freshness()
    answers = ImpactAnswers(feed, freshness, clock=clock, prepare_for_s=60.0)
    handler = ProjectionHandler(mongo, versions, feed, freshness, answers.prepare)

    before = json.loads(await answers.answer(store, domain.ALL, True))
    assert before["enrolled"] == 0
    await answers.answer(store, "association:elsewhere", False)  # a scope the change misses
    clock.now += 30.0
    await answers.answer(store, "association:asso-ahead", True)
    clock.now += 45.0  # the programme-wide answer was asked 75 s ago, this one 45 s ago
    assert answers.computed.started == 3

    events = [enrolment("asso-ahead").to_event("dn/registration") for _ in range(2)]
    await handler(events)
    await answers.prepared()
    assert answers.computed.started == 4, "only the touched scope asked lately is composed"

    local = json.loads(await answers.answer(store, "association:asso-ahead", True))
    assert answers.computed.started == 4, "the reader took the answer composed ahead"
    assert local["enrolled"] == 2
    everyone = json.loads(await answers.answer(store, domain.ALL, True))
    assert answers.computed.started == 5, "asked too long ago: composed when asked again"
    assert everyone["enrolled"] == 2

    await handler([enrolment("asso-ahead").to_event("dn/registration")])
    await answers.prepared()
    assert answers.computed.started == 7, "both asked within the last minute now"
    again = json.loads(await answers.answer(store, domain.ALL, True))
    assert answers.computed.started == 7
    assert again["enrolled"] == 3
