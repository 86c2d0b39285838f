"""Structured JSON logs carrying the current trace and span ids."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RepeatLimiter(logging.Filter):
    """Lets one record per message template and logger through per window, the next one saying
    how many were left out. While the broker is down aiokafka logs every reconnect attempt (some
    hundred lines a second per process); ops need to know it is down, not each attempt."""

    def __init__(self, prefix: str, window_s: float = 10.0) -> None:
        super().__init__()
        self.prefix = prefix
        self.window_s = window_s
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        key = (record.name, str(record.msg))
        opened, left_out = self._windows.get(key, (float("-inf"), 0))
        if record.created - opened < self.window_s:
            self._windows[key] = (opened, left_out + 1)
            return False
        self._windows[key] = (record.created, 0)
        if left_out:
            record.msg = f"{record.msg} [{left_out} more like this in {self.window_s:.0f} s]"
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RepeatLimiter("aiokafka"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-message lines from the consumer framework would drown everything else.
    logging.getLogger("faststream").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
