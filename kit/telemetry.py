"""OpenTelemetry bootstrap: tracer provider, span file under DN_HOME, OTLP when configured."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

_instrumented = False
_instrument_lock = threading.Lock()


class SpanFileExporter(SpanExporter):
    """Appends finished spans as JSON lines, so `dn trace` can print a trace locally."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [
            json.dumps(span_record(span), separators=(",", ":"), default=_attribute_text)
            for span in spans
        ]
        with self._lock:
            self._file.write("".join(line + "\n" for line in lines))
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def span_record(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        # A batch's span links the other requests it carried (kit.consumer.batch_span).
        "links": [
            {
                "trace_id": format(link.context.trace_id, "032x"),
                "span_id": format(link.context.span_id, "016x"),
            }
            for link in span.links
        ],
    }


def _attribute_text(value: object) -> str:
    """Span attributes may be bytes (a Kafka key); the file keeps them as text."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def setup_telemetry(service: str, home: Path, *, flush_ms: int = 500) -> TracerProvider:
    """Install the process-wide tracer provider for ``service`` and instrument libraries."""
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": f"dn-{service}", "service.namespace": "digital-neighbourhoods"}
        )
    )
    exporter = SpanFileExporter(home / "traces" / f"{service}-{os.getpid()}.jsonl")
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=flush_ms))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    instrument_libraries()
    return provider


def instrument_libraries() -> None:
    """Register MongoDB and HTTP-client instrumentation once per process."""
    global _instrumented
    with _instrument_lock:
        if _instrumented:
            return
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

        # Statements are not captured: a filter value could be personal data.
        PymongoInstrumentor().instrument(capture_statement=False)
        HTTPXClientInstrumentor().instrument()
        _instrumented = True


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
