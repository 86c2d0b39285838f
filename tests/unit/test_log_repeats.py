"""While the broker is down, aiokafka's line per reconnect attempt is kept to one per message per
window, the next saying how many were left out; other loggers are untouched."""

from __future__ import annotations

import logging

from kit.logs import RepeatLimiter


def record(name: str, message: str, at: float, *args: object) -> logging.LogRecord:
    entry = logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)
    entry.created = at
    return entry


def test_repeated_broker_errors_are_summarised_once_per_window() -> None:
    limiter = RepeatLimiter("aiokafka", window_s=10)
    unable = "Unable connect to node with id %s: %s"
    kept = [
        r
        for r in (record("aiokafka", unable, 100 + n / 20, 111, "refused") for n in range(400))
        if limiter.filter(r)
    ]

    assert [r.created for r in kept] == [100.0, 110.0]
    assert kept[0].getMessage() == "Unable connect to node with id 111: refused"
    assert kept[1].getMessage() == (
        "Unable connect to node with id 111: refused [199 more like this in 10 s]"
    )


def test_other_messages_and_loggers_pass_untouched() -> None:
    limiter = RepeatLimiter("aiokafka", window_s=10)
    assert limiter.filter(record("aiokafka", "Unable connect to node with id %s", 1, 111))
    assert limiter.filter(record("aiokafka.consumer.fetcher", "Failed fetch messages", 1))
    assert all(limiter.filter(record("kit.outbox", "outbox relay waits", 1)) for _ in range(5))
