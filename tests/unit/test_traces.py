"""Trace trees and rankings from generated span records (dn.traces)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace

from dn.traces import (
    Span,
    SpanNode,
    build_tree,
    linked_to,
    match_prefix,
    outline,
    parse_span,
    slowest,
    summarise,
    trace_id_prefix,
    walk,
    window_seconds,
)
from kit.telemetry import span_record
from tests.support import recording_spans

TRACE = "ab" * 16
MS = 1_000_000


def span(
    span_id: str,
    parent_id: str | None,
    start_ms: int,
    end_ms: int,
    *,
    trace_id: str = TRACE,
    service: str = "dn-gateway",
    name: str | None = None,
) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name or span_id,
        service=service,
        kind="INTERNAL",
        start_ns=1_700_000_000_000 * MS + start_ms * MS,
        end_ns=1_700_000_000_000 * MS + end_ms * MS,
        status="UNSET",
    )


def names(roots: tuple[SpanNode, ...]) -> list[tuple[str, int, bool]]:
    return [(node.span.span_id, depth, node.orphan) for node, depth in walk(roots)]


def test_children_are_listed_in_start_order_under_their_parent() -> None:
    spans = [
        span("late", "root", 50, 60),
        span("root", None, 0, 100),
        span("early", "root", 10, 40),
        span("inner", "early", 12, 20),
    ]

    tree = build_tree(spans)

    assert names(tree.roots) == [
        ("root", 0, False),
        ("early", 1, False),
        ("inner", 2, False),
        ("late", 1, False),
    ]
    assert tree.duration_ns == 100 * MS
    assert tree.span_count == 4


def test_spans_whose_parent_is_missing_hang_under_the_root_marked() -> None:
    spans = [
        span("root", None, 0, 100),
        span("child", "root", 30, 40),
        span("stray", "not-flushed", 20, 25),
        span("stray-child", "stray", 21, 22),
    ]

    tree = build_tree(spans)

    assert names(tree.roots) == [
        ("root", 0, False),
        ("stray", 1, True),
        ("stray-child", 2, False),
        ("child", 1, False),
    ]


def test_without_a_root_the_orphans_are_the_top_level() -> None:
    tree = build_tree([span("b", "gone", 5, 9), span("a", "gone", 1, 3)])

    assert names(tree.roots) == [("a", 0, True), ("b", 0, True)]


def test_spans_in_a_parent_cycle_are_shown_once_not_lost() -> None:
    spans = [span("root", None, 0, 10), span("x", "y", 1, 2), span("y", "x", 3, 4)]

    shown = [node.span.span_id for node, _ in walk(build_tree(spans).roots)]

    assert sorted(shown) == ["root", "x", "y"]


def test_a_span_written_twice_counts_once() -> None:
    tree = build_tree([span("root", None, 0, 10), span("root", None, 0, 10)])

    assert tree.span_count == 1
    assert len(tree.roots) == 1


@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(-1, 30), st.integers(0, 1000)),
        min_size=1,
        max_size=40,
        unique_by=lambda entry: entry[0],
    )
)
def test_every_span_appears_exactly_once_whatever_the_parents(
    entries: list[tuple[int, int, int]],
) -> None:
    # Parent -1: a root; a parent number not among the spans: an orphan; cycles may occur.
    spans = [
        span(f"s{number}", None if parent < 0 else f"s{parent}", start, start + 5)
        for number, parent, start in entries
    ]

    tree = build_tree(spans)

    shown = [node.span.span_id for node, _ in walk(tree.roots)]
    assert sorted(shown) == sorted(s.span_id for s in spans)
    for node, _ in walk(tree.roots):
        starts = [child.span.start_ns for child in node.children]
        assert starts == sorted(starts)


def test_outline_draws_tree_guides() -> None:
    spans = [
        span("root", None, 0, 100),
        span("a", "root", 1, 10),
        span("a1", "a", 2, 3),
        span("b", "root", 20, 30),
    ]

    drawn = [(guide, node.span.span_id) for guide, node in outline(build_tree(spans).roots)]

    assert drawn == [("", "root"), ("├─ ", "a"), ("│  └─ ", "a1"), ("└─ ", "b")]


def test_a_prefix_naming_two_traces_is_ambiguous() -> None:
    spans = [
        span("r1", None, 0, 1, trace_id="deadbeef" + "0" * 24),
        span("r2", None, 0, 1, trace_id="deadbeef" + "1" * 24),
        span("r3", None, 0, 1, trace_id="cafe" * 8),
    ]

    assert len(match_prefix(spans, "deadbeef").by_trace) == 2
    assert match_prefix(spans, "deadbeef1").trace_ids == ["deadbeef" + "1" * 24]
    assert match_prefix(spans, "0123abcd").by_trace == {}


@pytest.mark.parametrize("given_id", ["abc", "deadbee", "not-hex-at-all", "a" * 33])
def test_a_short_or_non_hex_trace_id_is_refused_with_what_is_accepted(given_id: str) -> None:
    with pytest.raises(ValueError, match="at least the first 8"):
        trace_id_prefix(given_id)


def test_a_trace_id_is_taken_in_any_case() -> None:
    assert trace_id_prefix(" DEADBEEF ") == "deadbeef"


def test_slowest_ranks_recent_traces_by_total_duration() -> None:
    spans = [
        # quick: one 10 ms span
        span("q", None, 1000, 1010, trace_id="1" * 32),
        # long: its child ends 300 ms after the root started, in another service
        span("l", None, 1000, 1050, trace_id="2" * 32, name="POST /graphql"),
        span("lc", "l", 1100, 1300, trace_id="2" * 32, service="dn-reporting"),
        # medium
        span("m", None, 2000, 2100, trace_id="3" * 32),
        # old: the longest, but started before the window
        span("o", None, 0, 900, trace_id="4" * 32),
    ]

    ranked = slowest(summarise(spans).values(), 2, since_ns=spans[0].start_ns)

    assert [s.trace_id for s in ranked] == ["2" * 32, "3" * 32]
    top = ranked[0]
    assert (top.root_name, top.span_count, top.duration_ns) == ("POST /graphql", 2, 300 * MS)
    assert sorted(top.services) == ["dn-gateway", "dn-reporting"]


def test_a_broken_line_is_no_span() -> None:
    good = {
        "trace_id": TRACE,
        "span_id": "1" * 16,
        "parent_id": None,
        "name": "POST /graphql",
        "kind": "SERVER",
        "service": "dn-gateway",
        "start_ns": 1,
        "end_ns": 2,
        "status": "UNSET",
        "attributes": {"http.route": "/graphql"},
    }
    line = json.dumps(good)

    parsed = parse_span(line)
    assert parsed is not None
    assert parsed.name == "POST /graphql"
    assert parse_span(line[: len(line) // 2]) is None  # half-written
    assert parse_span("[1, 2]") is None
    assert parse_span(json.dumps({**good, "start_ns": "soon"})) is None
    assert parse_span(json.dumps({k: v for k, v in good.items() if k != "span_id"})) is None


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800)]
)
def test_a_window_is_read_in_seconds_minutes_hours_or_days(text: str, seconds: int) -> None:
    assert window_seconds(text) == seconds


@pytest.mark.parametrize("text", ["1w", "h", "0h", "-1h", "soon"])
def test_an_unreadable_window_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="30m, 1h or 2d"):
        window_seconds(text)


def test_a_batch_span_linking_a_trace_is_found_with_it_and_read_from_its_line() -> None:
    """A batch's span in one request's trace may link the others' (OpenTelemetry links): `dn
    trace` of a linked request finds it, from the line the span file holds."""
    other = "cd" * 16
    with recording_spans() as (recorded, tracer):
        with tracer.start_as_current_span("linked request") as linked_request:
            pass
        link = trace.Link(linked_request.get_span_context())
        with tracer.start_as_current_span("dn.training process", links=[link]):
            pass
    [request_line, batch_line] = [
        json.dumps(span_record(s), default=str) for s in recorded.get_finished_spans()
    ]
    request, batch = parse_span(request_line), parse_span(batch_line)
    assert request is not None
    assert batch is not None
    assert batch.links == ((request.trace_id, request.span_id),)
    unrelated = span("u", None, 0, 1, trace_id=other)

    found = match_prefix([request, batch, unrelated], request.trace_id[:10])

    assert found.trace_ids == [request.trace_id]
    assert found.linked == [batch]
    assert linked_to(found, request.trace_id) == [batch]
    assert linked_to(match_prefix([request, unrelated], request.trace_id), request.trace_id) == []
