"""Traces from span records, without I/O: parsing a span line, finding a trace by id prefix,
building its tree in start order, and ranking traces by duration."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MIN_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")
_WINDOW = re.compile(r"(\d+)\s*([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Span:
    """One finished span, as the span file holds it (see kit.telemetry.span_record)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # The (trace id, span id) of the spans this one links to: a batch's span links the
    # requests it carried besides the one whose trace it is in.
    links: tuple[tuple[str, str], ...] = field(default=(), compare=False, hash=False)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


def parse_span(line: str) -> Span | None:
    """The span a file line holds, or None for a broken line (half-written, not a span)."""
    try:
        record = json.loads(line)
        parent = record.get("parent_id")
        attributes = record.get("attributes") or {}
        span = Span(
            trace_id=str(record["trace_id"]).lower(),
            span_id=str(record["span_id"]).lower(),
            parent_id=str(parent).lower() if parent else None,
            name=str(record["name"]),
            service=str(record.get("service") or "?"),
            kind=str(record.get("kind") or "?"),
            start_ns=int(record["start_ns"]),
            end_ns=int(record["end_ns"]),
            status=str(record.get("status") or "UNSET"),
            attributes=attributes if isinstance(attributes, dict) else {},
            links=tuple(
                (str(link["trace_id"]).lower(), str(link["span_id"]).lower())
                for link in record.get("links") or ()
            ),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return span


def trace_id_prefix(text: str) -> str:
    """A trace id or its prefix, lower-cased; ValueError with what is accepted otherwise."""
    prefix = text.strip().lower()
    if len(prefix) < MIN_PREFIX or len(prefix) > 32 or not _HEX.fullmatch(prefix):
        raise ValueError(
            f"{text!r} is not a trace id: give the 32 hex digits of the x-trace-id header, "
            f"or at least the first {MIN_PREFIX}"
        )
    return prefix


def window_seconds(text: str) -> int:
    """``90s``, ``30m``, ``1h``, ``2d`` → seconds; ValueError with what is accepted otherwise."""
    match = _WINDOW.fullmatch(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise ValueError(f"--since {text!r}: give a duration such as 30m, 1h or 2d")
    return int(match[1]) * _SECONDS[match[2]]


# -- one trace ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """The spans of the traces whose id starts with a prefix, grouped by trace id, and the
    spans of other traces linking to one of them (batches that carried those requests)."""

    by_trace: dict[str, list[Span]]
    linked: list[Span] = field(default_factory=list)

    @property
    def trace_ids(self) -> list[str]:
        return sorted(self.by_trace)


def match_prefix(spans: Iterable[Span], prefix: str) -> Match:
    """Collect the spans of every trace whose id starts with ``prefix`` (one pass)."""
    by_trace: dict[str, list[Span]] = {}
    linked: list[Span] = []
    for span in spans:
        if span.trace_id.startswith(prefix):
            by_trace.setdefault(span.trace_id, []).append(span)
        elif any(trace_id.startswith(prefix) for trace_id, _ in span.links):
            linked.append(span)
    return Match(by_trace, linked)


def linked_to(match: Match, trace_id: str) -> list[Span]:
    """The spans of other traces linking to ``trace_id``, in start order."""
    found = [span for span in match.linked if any(t == trace_id for t, _ in span.links)]
    return sorted(found, key=_start_order)


@dataclass(frozen=True)
class SpanNode:
    span: Span
    children: tuple[SpanNode, ...]
    # The span names a parent no span file holds (not flushed yet, or another system's).
    orphan: bool = False


@dataclass(frozen=True)
class TraceTree:
    trace_id: str
    roots: tuple[SpanNode, ...]
    start_ns: int
    end_ns: int
    span_count: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def services(self) -> list[str]:
        return sorted({node.span.service for node, _ in walk(self.roots)})


def _start_order(span: Span) -> tuple[int, int, str]:
    return (span.start_ns, -span.end_ns, span.span_id)


def build_tree(spans: Iterable[Span]) -> TraceTree:
    """The spans of one trace as a tree, children in start order. Spans whose parent is not
    among them (orphans) hang under the earliest root, marked; with no root at all they are the
    top level. A span id seen twice counts once."""
    unique: dict[str, Span] = {}
    for span in spans:
        unique.setdefault(span.span_id, span)
    if not unique:
        raise ValueError("a trace needs at least one span")
    children: dict[str, list[Span]] = {}
    roots: list[Span] = []
    orphans: list[Span] = []
    for span in unique.values():
        if span.parent_id is None:
            roots.append(span)
        elif span.parent_id in unique:
            children.setdefault(span.parent_id, []).append(span)
        else:
            orphans.append(span)
    reached: set[str] = set()
    stack = [*roots, *orphans]
    while stack:
        span = stack.pop()
        reached.add(span.span_id)
        stack += children.get(span.span_id, [])
    # Spans in a parent cycle are reachable from nothing: shown as orphans, not lost.
    orphans += [span for span in unique.values() if span.span_id not in reached]
    placed: set[str] = set()

    def node(span: Span, orphan: bool, adopted: Iterable[Span] = ()) -> SpanNode:
        placed.add(span.span_id)
        below = [(child, False) for child in children.get(span.span_id, [])]
        below += [(child, True) for child in adopted]
        below.sort(key=lambda pair: _start_order(pair[0]))
        return SpanNode(
            span,
            tuple(node(child, mark) for child, mark in below if child.span_id not in placed),
            orphan,
        )

    roots.sort(key=_start_order)
    if roots:
        top = [node(roots[0], False, orphans), *(node(root, False) for root in roots[1:])]
    else:
        orphans.sort(key=_start_order)
        top = [node(span, True) for span in orphans if span.span_id not in placed]
    values = list(unique.values())
    return TraceTree(
        trace_id=values[0].trace_id,
        roots=tuple(top),
        start_ns=min(s.start_ns for s in values),
        end_ns=max(s.end_ns for s in values),
        span_count=len(values),
    )


def walk(nodes: Iterable[SpanNode], depth: int = 0) -> Iterator[tuple[SpanNode, int]]:
    """Every node with its depth, parents before children, in tree order."""
    for current in nodes:
        yield current, depth
        yield from walk(current.children, depth + 1)


def tree_json(tree: TraceTree) -> dict[str, Any]:
    def describe(current: SpanNode) -> dict[str, Any]:
        span = current.span
        return {
            "name": span.name,
            "service": span.service,
            "kind": span.kind,
            "span_id": span.span_id,
            "parent_id": span.parent_id,
            "status": span.status,
            "duration_ms": round(span.duration_ns / 1e6, 3),
            "offset_ms": round((span.start_ns - tree.start_ns) / 1e6, 3),
            "orphan": current.orphan,
            "attributes": span.attributes,
            "children": [describe(child) for child in current.children],
        }

    return {
        "trace_id": tree.trace_id,
        "start_ns": tree.start_ns,
        "duration_ms": round(tree.duration_ns / 1e6, 3),
        "span_count": tree.span_count,
        "services": tree.services,
        "spans": [describe(root) for root in tree.roots],
    }


# -- slowest traces ----------------------------------------------------------------------------


@dataclass
class TraceSummary:
    """What `dn trace --slowest` shows of a trace, accumulated span by span."""

    trace_id: str
    start_ns: int
    end_ns: int
    span_count: int = 0
    services: set[str] = field(default_factory=set)
    root_name: str | None = None
    root_start_ns: int | None = None

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def add(self, span: Span) -> None:
        self.span_count += 1
        self.start_ns = min(self.start_ns, span.start_ns)
        self.end_ns = max(self.end_ns, span.end_ns)
        self.services.add(span.service)
        if span.parent_id is None and (
            self.root_start_ns is None or span.start_ns < self.root_start_ns
        ):
            self.root_name, self.root_start_ns = span.name, span.start_ns

    def as_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "root": self.root_name,
            "services": sorted(self.services),
            "span_count": self.span_count,
            "duration_ms": round(self.duration_ns / 1e6, 3),
            "start_ns": self.start_ns,
        }


def summarise(spans: Iterable[Span]) -> dict[str, TraceSummary]:
    """One summary per trace id (memory grows with the number of traces, not of spans)."""
    summaries: dict[str, TraceSummary] = {}
    for span in spans:
        summary = summaries.get(span.trace_id)
        if summary is None:
            summary = summaries[span.trace_id] = TraceSummary(
                span.trace_id, span.start_ns, span.end_ns
            )
        summary.add(span)
    return summaries


def slowest(
    summaries: Iterable[TraceSummary], count: int, since_ns: int | None = None
) -> list[TraceSummary]:
    """The ``count`` longest traces that started at or after ``since_ns``, longest first
    (ties: the later one first, then by id, so the order is stable)."""
    recent = [s for s in summaries if since_ns is None or s.start_ns >= since_ns]
    recent.sort(key=lambda s: (-s.duration_ns, -s.start_ns, s.trace_id))
    return recent[:count]


def outline(roots: Iterable[SpanNode]) -> Iterator[tuple[str, SpanNode]]:
    """Every node with the tree guides drawn before its name (roots have none)."""

    def below(nodes: tuple[SpanNode, ...], lead: str) -> Iterator[tuple[str, SpanNode]]:
        for index, current in enumerate(nodes):
            last = index == len(nodes) - 1
            yield lead + ("└─ " if last else "├─ "), current
            yield from below(current.children, lead + ("   " if last else "│  "))

    for root in roots:
        yield "", root
        yield from below(root.children, "")
