"""Live change notices: reporting's in-process feed (sequence, merging, slow listeners, the
event-stream text) and the gateway's fan-out to subscriptions."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway.inputs import ImpactFilter
from gateway.live import RESYNC, ChangeNotice, ChangeWatcher, ImpactChanges
from gateway.subscriptions import scope_of
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
        feed.publish(None, T0)  # type: ignore[arg-type]
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
        (ImpactFilter(district_id="qpv-saige"), "district:qpv-saige"),  # type: ignore[arg-type]
        (ImpactFilter(association_id="asso-1"), "association:asso-1"),  # type: ignore[arg-type]
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
