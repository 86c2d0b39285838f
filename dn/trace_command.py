"""`dn trace`: streams the span files under DN_HOME/traces and prints one trace as a tree, or
the slowest recent traces."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dn.traces import (
    Span,
    build_tree,
    linked_to,
    match_prefix,
    outline,
    parse_span,
    slowest,
    summarise,
    trace_id_prefix,
    tree_json,
    window_seconds,
)

# A file last written this long before the window opens holds no span of a trace inside it
# (a trace lasting longer than this may be listed from its first span inside the window).
FILE_AGE_MARGIN_S = 600
AMBIGUOUS_SHOWN = 10


@dataclass
class SpanFiles:
    """The span files of one DN_HOME, read line by line; broken lines are counted, not fatal."""

    directory: Path
    broken_lines: int = 0
    files_read: int = 0

    def paths(self, modified_since: float | None = None) -> list[Path]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.jsonl")):
            try:
                if modified_since is None or path.stat().st_mtime >= modified_since:
                    found.append(path)
            except OSError:  # removed while we list
                continue
        return found

    def spans(self, modified_since: float | None = None) -> Iterator[Span]:
        for path in self.paths(modified_since):
            try:
                file = path.open(encoding="utf-8", errors="replace")
            except OSError:
                continue
            self.files_read += 1
            with file:
                for line in file:
                    if not line.strip():
                        continue
                    span = parse_span(line)
                    if span is None:
                        self.broken_lines += 1
                    else:
                        yield span


def show_trace(home: Path, given_id: str, as_json: bool, console: Console) -> int:
    """Print the trace ``given_id`` names; 0 when shown, 1 when unknown or ambiguous, 2 when
    ``given_id`` is not a trace id."""
    try:
        prefix = trace_id_prefix(given_id)
    except ValueError as error:
        return _error(console, str(error), 2)
    files = SpanFiles(home / "traces")
    found = match_prefix(files.spans(), prefix)
    if not found.by_trace:
        return _error(
            console,
            f"no trace {prefix} in the {files.files_read} span file(s) under {files.directory}; "
            "spans reach the files a moment after the request (DN_TRACE_FLUSH_MS), and only "
            "from processes running with this DN_HOME",
            1,
        )
    if len(found.by_trace) > 1:
        shown = found.trace_ids[:AMBIGUOUS_SHOWN]
        more = len(found.trace_ids) - len(shown)
        return _error(
            console,
            f"{prefix} is the start of {len(found.trace_ids)} trace ids; give more digits: "
            + ", ".join(shown)
            + (f" and {more} more" if more else ""),
            1,
        )
    tree = build_tree(next(iter(found.by_trace.values())))
    linked = linked_to(found, tree.trace_id)
    if as_json:
        answer = {
            **tree_json(tree),
            "linked": [_linked_json(span) for span in linked],
            "broken_lines": files.broken_lines,
        }
        print(json.dumps(answer, indent=2))
        return 0
    table = Table(
        title=f"trace {tree.trace_id}",
        caption=f"{tree.span_count} spans, {len(tree.services)} services, "
        f"{_ms(tree.duration_ns)} ms, started {_when(tree.start_ns)}"
        + _broken_note(files.broken_lines),
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("span", overflow="fold")
    table.add_column("service")
    table.add_column("ms", justify="right")
    table.add_column("at +ms", justify="right")
    table.add_column("status")
    for guide, node in outline(tree.roots):
        label = Text(guide, style="dim") + Text(node.span.name)
        if node.orphan:
            label += Text(f"  ⚠ orphan (parent {node.span.parent_id} not found)", style="yellow")
        table.add_row(
            label,
            Text(node.span.service),
            _ms(node.span.duration_ns),
            _ms(node.span.start_ns - tree.start_ns),
            Text(node.span.status, style="red" if node.span.status == "ERROR" else ""),
        )
    console.print(table)
    if linked:
        # Spans of other traces linking to this one (OpenTelemetry links: a batch traced in
        # one request's trace may link the others it carried).
        console.print("Carried on in batches traced elsewhere:")
        for span in linked:
            console.print(
                f"  {span.name} ({span.service}, {_ms(span.duration_ns)} ms, "
                f"{span.attributes.get('messaging.batch.message_count', '?')} events): "
                f"dn trace {span.trace_id}"
            )
    return 0


def _linked_json(span: Span) -> dict[str, Any]:
    return {
        "name": span.name,
        "service": span.service,
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "duration_ms": round(span.duration_ns / 1e6, 3),
        "events": span.attributes.get("messaging.batch.message_count"),
    }


def show_slowest(home: Path, count: int, since: str, as_json: bool, console: Console) -> int:
    """Print the ``count`` slowest traces started within ``since``; 0, or 2 for a bad window."""
    try:
        window = window_seconds(since)
    except ValueError as error:
        return _error(console, str(error), 2)
    if count < 1:
        return _error(console, "--slowest takes a positive number of traces", 2)
    now = time.time()
    files = SpanFiles(home / "traces")
    spans = files.spans(modified_since=now - window - FILE_AGE_MARGIN_S)
    ranked = slowest(summarise(spans).values(), count, since_ns=int((now - window) * 1e9))
    if as_json:
        report = {
            "since": since,
            "traces": [summary.as_json() for summary in ranked],
            "broken_lines": files.broken_lines,
        }
        print(json.dumps(report, indent=2))
        return 0
    if not ranked:
        console.print(
            f"no trace started in the last {since} in {files.directory}"
            if files.files_read
            else f"no recent span files under {files.directory}: is the platform running with "
            "this DN_HOME?"
        )
        return 0
    table = Table(
        title=f"slowest traces of the last {since}",
        caption=_broken_note(files.broken_lines).strip() or None,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("root span", overflow="fold")
    table.add_column("services", overflow="fold")
    table.add_column("spans", justify="right")
    table.add_column("ms", justify="right")
    table.add_column("started")
    table.add_column("trace id", no_wrap=True)
    for summary in ranked:
        table.add_row(
            Text(summary.root_name or "(root not found)"),
            Text(", ".join(sorted(summary.services))),
            str(summary.span_count),
            _ms(summary.duration_ns),
            _when(summary.start_ns),
            summary.trace_id,
        )
    console.print(table)
    return 0


def _ms(nanoseconds: int) -> str:
    return f"{nanoseconds / 1e6:.1f}"


def _when(epoch_ns: int) -> str:
    return datetime.fromtimestamp(epoch_ns / 1e9, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _broken_note(broken_lines: int) -> str:
    return f"; {broken_lines} unreadable line(s) skipped" if broken_lines else ""


def _error(console: Console, message: str, code: int) -> int:
    console.print("[red]error:[/red] ", Text(message), sep="")
    return code
