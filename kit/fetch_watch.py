"""Subscribers whose fetch position lies beyond their partition's end, moved back to its start.

Apache Kafka answers a fetch from beyond a partition's end with OFFSET_OUT_OF_RANGE, and the
consumer applies its reset policy (``earliest`` here). The embedded broker (Tansu 0.6) answers
with an empty record set and the partition's high-water mark instead: a consumer left there
waits, silently, until the partition grows past its position. A fetch position lands there
when the broker restarted empty under a running service: the consumer keeps the position it
had, or the new broker receives an offset commit of a batch that was in flight. Canonical
topics fill up again (the relays re-publish their logs, and ``kit.log_positions`` sends each
subscriber back to the start once it sees a batch); partner intake topics do not, so their
consumers would wait for as many new requests as the broker lost.

Every few seconds each subscriber's assigned partitions are compared with the high-water mark
of its last fetch answer; one past it is sent to the partition's start, as the reset policy
would on Kafka. What it had applied already is skipped by log position or ``ce_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition

from kit.metrics import FETCH_POSITIONS_REWOUND

log = logging.getLogger(__name__)

WATCH_EVERY_S = 2.0
POSITION_TIMEOUT_S = 1.0


async def rewind_past_the_end(consumer: Any) -> list[TopicPartition]:
    """Send each assigned partition whose fetch position lies beyond the high-water mark the
    broker last gave back to its start; the partitions moved."""
    moved = []
    for partition in sorted(consumer.assignment()):
        highwater = consumer.highwater(partition)
        if highwater is None:
            continue  # no fetch answer yet: nothing to compare with
        try:
            position = await asyncio.wait_for(consumer.position(partition), POSITION_TIMEOUT_S)
        except TimeoutError:
            continue  # being reset or reassigned: looked at next time
        except Exception as error:  # e.g. IllegalStateError after a rebalance took it away
            log.debug("%s: position unknown (%s)", partition, error)
            continue
        if position > highwater:
            log.warning(
                "%s[%d]: fetch position %d is beyond the partition's end %d (the broker "
                "restarted empty): reading it again from its start",
                partition.topic,
                partition.partition,
                position,
                highwater,
            )
            await consumer.seek_to_beginning(partition)
            FETCH_POSITIONS_REWOUND.labels(partition.topic).inc()
            moved.append(partition)
    return moved


async def watch_fetch_positions(subscribers: Iterable[Any], every_s: float = WATCH_EVERY_S) -> None:
    """Forever: :func:`rewind_past_the_end` for each started subscriber (FastStream's, whose
    ``consumer`` is its aiokafka consumer)."""
    while True:
        await asyncio.sleep(every_s)
        for subscriber in list(subscribers):
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue  # not started, or stopping
            try:
                await rewind_past_the_end(consumer)
            except Exception as error:
                log.warning("fetch positions not checked: %s", error)
