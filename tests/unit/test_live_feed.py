"""Live change notices: reporting's in-process feed (sequence, merging, slow listeners, the
event-stream text) and the gateway's fan-out to subscriptions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from graphql import ExecutionResult
from prometheus_client import REGISTRY

from contracts.impact_changes import NAMES
from gateway import subscriptions
from gateway.live import RESYNC, ChangeNotice, ChangeWatcher, ImpactChanges
from gateway.pushes import Follower, ImpactFeeds
from gateway.reporting import ImpactFilter
from gateway.schema import schema
from gateway.services import AccessDenied
from gateway.subscriptions import scope_of
from kit.auth import Principal, Role
from kit.settings import Settings
from services.reporting.live import ImpactFeed, server_sent_events
from tests.support import eventually

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_each_publish_takes_the_next_sequence_number() -> None:
    feed = ImpactFeed()
    with feed.listening() as listener:
        feed.publish(["all"], T0)
        first = listener.take()
        feed.publish(["all"], T0)
        second = listener.take()
    assert first is not None
    assert second is not None
    assert (first.sequence, second.sequence) == (1, 2)
    assert feed.sequence == 2


def test_a_burst_reaches_a_busy_listener_as_one_notice_with_every_scope() -> None:
    feed = ImpactFeed()
    with feed.listening() as listener:
        feed.publish(["all", "district:qpv-saige"], T0 + timedelta(seconds=2), "00-a-01")
        feed.publish(["all", "district:qpv-aubiers"], T0, "00-b-01")
        feed.publish(["all", "track:digital_careers"], T0 + timedelta(seconds=1), None)
        notice = listener.take()
        assert listener.take() is None  # taken: nothing pending any more
    assert notice is not None
    assert notice.sequence == 3  # the latest change merged
    assert notice.scopes == {
        "all",
        "district:qpv-saige",
        "district:qpv-aubiers",
        "track:digital_careers",
    }
    assert notice.event_time == T0  # the oldest: the delay is measured from it
    assert notice.traceparent == "00-b-01"  # the latest change that had a trace


def test_a_listener_that_never_reads_neither_blocks_publish_nor_grows_a_queue() -> None:
    feed = ImpactFeed()
    with feed.listening() as slow, feed.listening() as fast:
        started = time.perf_counter()
        for number in range(20_000):
            feed.publish(["all", f"association:asso-{number % 5}"], T0)
            if number == 9_999:
                assert fast.take() is not None
        elapsed = time.perf_counter() - started
        notice = slow.take()
        later = fast.take()
    assert elapsed < 2.0
    assert notice is not None
    assert later is not None
    assert notice.sequence == later.sequence == 20_000
    assert len(notice.scopes) == 6  # "all" and five associations, however many changes


def test_listeners_see_changes_in_sequence_order() -> None:
    feed = ImpactFeed()
    seen: list[int] = []
    with feed.listening() as listener:
        for _ in range(5):
            feed.publish(["all"], T0)
            feed.publish(["all"], T0)
            notice = listener.take()
            assert notice is not None
            seen.append(notice.sequence)
    assert seen == sorted(seen) == [2, 4, 6, 8, 10]


def test_publish_never_raises_and_ignores_an_empty_change() -> None:
    feed = ImpactFeed()
    with feed.listening() as listener:
        feed.publish([], T0)
        feed.publish(None, T0)
        assert listener.take() is None
    assert feed.sequence == 0


def test_a_listener_stops_hearing_once_its_block_ends() -> None:
    feed = ImpactFeed()
    with feed.listening() as listener:
        pass
    feed.publish(["all"], T0)
    assert listener.take() is None


async def test_a_waiting_listener_wakes_at_the_next_publish() -> None:
    feed = ImpactFeed()
    with feed.listening() as listener:
        waiting = asyncio.create_task(listener.next(timeout_s=5))
        await asyncio.sleep(0)
        feed.publish(["district:qpv-saige"], None)
        notice = await asyncio.wait_for(waiting, 1)
    assert notice is not None
    assert notice.scopes == {"district:qpv-saige"}
    assert notice.event_time is None


async def test_a_waiting_listener_cancelled_as_a_change_comes_stops() -> None:
    """A stream whose client left is cancelled; a change arriving in the same turn must not
    swallow that cancel (asyncio.wait_for did on Python 3.11)."""
    feed = ImpactFeed()
    with feed.listening() as listener:
        waiting = asyncio.create_task(listener.next(timeout_s=5))
        await asyncio.sleep(0)
        feed.publish(["all"], None)
        waiting.cancel()
        await asyncio.wait([waiting], timeout=1)
    assert waiting.cancelled()


async def test_the_event_stream_sends_changed_events_heartbeats_and_the_push_delay() -> None:
    feed = ImpactFeed()
    stream = server_sent_events(feed, heartbeat_s=0.05)
    greeting = await anext(stream)
    assert greeting.startswith("retry: 1000\n")
    assert await anext(stream) == ": heartbeat\n\n"
    count_before = pushes_observed()
    event_time = datetime.now(UTC) - timedelta(milliseconds=40)
    feed.publish(["all", "association:asso-saige-en-ligne"], event_time, "00-t-01")
    text = await anext(stream)
    lines = text.strip().split("\n")
    assert lines[0] == "id: 1"
    assert lines[1] == "event: changed"
    payload = json.loads(lines[2].removeprefix("data: "))
    assert payload["sequence"] == 1
    assert payload["scopes"] == ["all", "association:asso-saige-en-ligne"]
    assert payload["event_time"] == event_time.isoformat()
    assert payload["traceparent"] == "00-t-01"
    pushed_at = datetime.fromisoformat(payload["pushed_at"])
    assert pushed_at >= event_time
    assert pushes_observed() == count_before + 1
    feed.close()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


def pushes_observed() -> float:
    return REGISTRY.get_sample_value("dn_impact_push_seconds_count") or 0.0


# -- gateway ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impact_filter", "scope"),
    [
        (None, "all"),
        (ImpactFilter(), "all"),
        (ImpactFilter(district_id="qpv-saige"), "district:qpv-saige"),
        (ImpactFilter(association_id="asso-1"), "association:asso-1"),
    ],
)
def test_a_filter_reads_the_scope_reporting_names(
    impact_filter: ImpactFilter | None, scope: str
) -> None:
    assert scope_of(impact_filter) == scope


def test_a_notice_touches_its_scopes_everything_for_all_and_anything_after_a_resync() -> None:
    notice = ChangeNotice(frozenset({"all", "district:qpv-saige"}), None)
    assert notice.touches("district:qpv-saige")
    assert notice.touches("all")
    assert not notice.touches("district:qpv-aubiers")
    assert ChangeNotice(frozenset({RESYNC}), None).touches("district:qpv-aubiers")
    # A district or association renamed: every answer names them.
    assert ChangeNotice(frozenset({NAMES}), None).touches("district:qpv-aubiers")


def test_names_are_read_again_when_registration_saved_one_or_the_stream_reconnected() -> None:
    cleared: list[str] = []
    changes = ImpactChanges(Settings(jwt_secret="x" * 48), on_names=lambda: cleared.append("x"))
    changes.broadcast(["all", "district:d1"])
    assert cleared == []
    changes.broadcast(["all", NAMES])
    assert cleared == ["x"]
    changes.broadcast([RESYNC])  # a names notice may have been missed while it was down
    assert cleared == ["x", "x"]


async def test_a_watcher_merges_what_it_has_not_taken() -> None:
    watcher = ChangeWatcher()
    watcher.notify(["district:a"], "00-1-01")
    watcher.notify(["district:b"], None)
    notice = await asyncio.wait_for(watcher.next(), 1)
    assert notice.scopes == {"district:a", "district:b"}
    assert notice.traceparent == "00-1-01"
    waiting = asyncio.create_task(watcher.next())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    watcher.notify(["all"])
    assert (await asyncio.wait_for(waiting, 1)).scopes == {"all"}


async def heard(changes: ImpactChanges) -> int:
    return changes.sequence


async def test_the_gateway_fans_the_reporting_stream_out_after_a_resync() -> None:
    body = (
        ": listening from sequence 6\n\n"
        'id: 7\nevent: changed\ndata: {"sequence": 7, "scopes": ["all", "district:d1"], '
        '"event_time": null, "pushed_at": "2026-03-02T09:00:00+00:00", "traceparent": "00-t-01"}'
        "\n\n: heartbeat\n\n"
    )
    asked: list[httpx.Request] = []

    def reporting(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    changes = ImpactChanges(Settings(jwt_secret="x" * 48), transport=httpx.MockTransport(reporting))
    try:
        with changes.watching() as first, changes.watching() as second:
            await eventually(lambda: heard(changes), lambda sequence: sequence == 7, 2.0)
            for watcher in (first, second):
                notice = watcher.take()
                assert notice.scopes == {RESYNC, "all", "district:d1"}
                assert notice.traceparent == "00-t-01"
    finally:
        await changes.close()
    assert asked[0].url.path == "/impact/changes"
    assert asked[0].headers["authorization"].startswith("Bearer ")


class FakeImpact(SimpleNamespace):
    """What the subscription yields; only ``enrolled`` is asked for."""


def live_context(
    changes: ImpactChanges, compose: Any, feeds: ImpactFeeds | None = None
) -> SimpleNamespace:
    """A subscriber's context; the feeds (gateway/pushes.py) compose with ``compose``."""
    state = SimpleNamespace(
        impact_feeds=feeds if feeds is not None else ImpactFeeds(changes, compose)
    )
    context = SimpleNamespace(
        request=SimpleNamespace(app=SimpleNamespace(state=state)),
        principal=Principal("dashboard", Role.FUNDER),  # root fields are checked by role
    )
    context.renewed = lambda: context
    return context


@pytest.fixture
async def unreachable_reporting() -> AsyncIterator[ImpactChanges]:
    """A change stream that never connects: the test tells the watchers itself."""

    def refuse(_: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    changes = ImpactChanges(Settings(jwt_secret="x" * 48), transport=httpx.MockTransport(refuse))
    yield changes
    await changes.close()


class Answers:
    """The ``enrolled`` of each answer a subscription pushes, read in the background."""

    def __init__(self, subscription: AsyncGenerator[Any, None]) -> None:
        self.received: list[int] = []
        self._reader = asyncio.create_task(self._read(subscription))

    async def _read(self, subscription: AsyncGenerator[Any, None]) -> None:
        async for result in subscription:
            assert result.errors is None, result.errors
            self.received.append(result.data["impactUpdated"]["enrolled"])

    async def stop(self) -> list[int]:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        return self.received


async def tell_for(seconds: float, changes: ImpactChanges, scopes: list[str]) -> None:
    """Tell every watcher of a change to ``scopes`` every 10 ms for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        changes.broadcast(scopes)
        await asyncio.sleep(0.01)


async def test_a_burst_is_composed_back_to_back_once_for_every_subscriber_of_a_scope(
    monkeypatch: pytest.MonkeyPatch, unreachable_reporting: ImpactChanges
) -> None:
    """Changes every 10 ms for a second, composing taking 50 ms: no fixed interval (an answer
    follows a change at once), the changes heard while composing merged into the next answer,
    and three subscriptions of one scope and audience sharing every composition."""
    composed = 0

    async def compose(_: object, __: object) -> FakeImpact:
        nonlocal composed
        composed += 1
        await asyncio.sleep(0.05)
        return FakeImpact(enrolled=composed)

    monkeypatch.setattr(subscriptions, "compose_impact", compose)
    feeds = ImpactFeeds(unreachable_reporting, compose)
    readers = []
    for _ in range(3):
        subscription = await schema.subscribe(
            "subscription { impactUpdated { enrolled } }",
            context_value=live_context(unreachable_reporting, compose, feeds),
        )
        assert not isinstance(subscription, ExecutionResult), subscription
        first = await anext(subscription)
        assert first.data is not None
        readers.append(Answers(subscription))
    assert len(feeds) == 1, "one feed for one scope and audience"
    firsts = composed  # each subscription composes its own first answer

    await tell_for(1.0, unreachable_reporting, ["all"])
    await asyncio.sleep(0.2)  # the answer composed after the last change
    received = [await reader.stop() for reader in readers]

    shared = composed - firsts
    assert 10 <= shared <= 25, shared  # ~1 s / 50 ms, not one per change (100) nor per subscriber
    for answers in received:
        assert answers, "every subscriber is pushed the figures"
        assert answers == sorted(answers)
        assert answers[-1] == composed, "the last answer holds the last change"
    await asyncio.sleep(0)
    assert len(feeds) == 0, "the feed stops with its last subscriber"


async def test_changes_elsewhere_and_unchanged_figures_are_not_pushed(
    monkeypatch: pytest.MonkeyPatch, unreachable_reporting: ImpactChanges
) -> None:
    composed: list[object] = []

    async def compose(_: object, impact_filter: object) -> FakeImpact:
        composed.append(impact_filter)
        return FakeImpact(enrolled=7)  # the same figures every time

    monkeypatch.setattr(subscriptions, "compose_impact", compose)
    subscription = await schema.subscribe(
        'subscription { impactUpdated(filter: { districtId: "qpv-saige" }) { enrolled } }',
        context_value=live_context(unreachable_reporting, compose),
    )
    assert not isinstance(subscription, ExecutionResult), subscription
    await anext(subscription)
    answers = Answers(subscription)
    await tell_for(0.3, unreachable_reporting, ["all", "district:qpv-aubiers-lac"])
    assert len(composed) == 1  # only the first answer: nothing touched qpv-saige
    unreachable_reporting.broadcast(["district:qpv-saige"])
    await asyncio.sleep(0.1)
    assert await answers.stop() == []
    assert len(composed) == 2  # composed again, but the same figures are not pushed


async def test_a_feed_composes_with_a_follower_whose_token_still_holds(
    unreachable_reporting: ImpactChanges,
) -> None:
    asked_as: list[str] = []

    async def compose(context: Any, _: object) -> FakeImpact:
        asked_as.append(context.name)
        if context.name == "expired":
            raise AccessDenied("the token has expired", 401)
        return FakeImpact(enrolled=len(asked_as))

    feeds = ImpactFeeds(unreachable_reporting, compose)
    expired, valid = (
        live_context(unreachable_reporting, compose),
        live_context(unreachable_reporting, compose),
    )
    expired.name, valid.name = "expired", "valid"
    with (
        feeds.following(expired, "all", None) as first,
        feeds.following(valid, "all", None) as second,
    ):
        unreachable_reporting.broadcast(["all"])
        answer = await asyncio.wait_for(second.next(), 2)
        assert asked_as == ["expired", "valid"]
        assert await asyncio.wait_for(first.next(), 2) is answer  # its own check ends it
    assert len(feeds) == 0


def test_a_follower_is_offered_only_what_was_composed_after_it_joined() -> None:
    follower = Follower(since=3)
    older, newer = FakeImpact(enrolled=1), FakeImpact(enrolled=2)

    follower.offer(older, round_started=2)  # composed before it joined: its own is newer
    assert follower._answer is None
    follower.offer(newer, round_started=3)
    assert follower._answer is newer


async def test_a_failing_composition_is_logged_and_the_next_change_answered(
    unreachable_reporting: ImpactChanges, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def compose(_: object, __: object) -> FakeImpact:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in composing")
        return FakeImpact(enrolled=calls)

    feeds = ImpactFeeds(unreachable_reporting, compose)
    with feeds.following(live_context(unreachable_reporting, compose), "all", None) as follower:
        unreachable_reporting.broadcast(["all"])
        await asyncio.sleep(0.05)
        unreachable_reporting.broadcast(["all"])
        answer = await asyncio.wait_for(follower.next(), 2)
    assert answer.enrolled == 2
    assert "impactUpdated answer for all failed" in caplog.text
