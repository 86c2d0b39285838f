"""The real end offset of Kafka partitions, for every reader that stops at an end or counts lag.

The embedded broker (Tansu 0.6) answers ``ListOffsets`` (latest), which ``end_offsets`` and
``seek_to_end`` use, with the first offset of a partition's newest record batch + 1: 1,000
records produced in batches, and it said 1. The high-water mark a Fetch answer carries is
right. So the listed end is taken as a lower bound, and one fetch from just below it reads the
high-water mark; on Apache Kafka both agree and the fetch only confirms it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

FETCH_TIMEOUT_S = 5.0
POLL_MS = 100


async def true_end_offsets(
    consumer: AIOKafkaConsumer,
    partitions: Iterable[TopicPartition],
    *,
    timeout_s: float = FETCH_TIMEOUT_S,
) -> dict[TopicPartition, int]:
    """The end of each partition (the offset the next record will get), as of this call.

    ``consumer`` must read without a consumer group: its assignment becomes ``partitions`` and
    its positions are left wherever the fetch took them, so seek before reading. Raises
    ``TimeoutError`` when the broker gives no fetch answer for a partition within ``timeout_s``.
    """
    wanted = list(dict.fromkeys(partitions))
    if not wanted:
        return {}
    ends = dict(await consumer.end_offsets(wanted))
    # A fresh assignment knows no high-water mark: any one seen below came from a fetch made
    # after the listed ends were read.
    consumer.assign(wanted)
    for partition in wanted:
        # One below the listed end, so a partition holding records answers with one at once
        # instead of waiting out fetch_max_wait_ms; an empty one answers after that wait.
        consumer.seek(partition, max(0, ends[partition] - 1))
    waiting = set(wanted)
    deadline = time.monotonic() + timeout_s
    while waiting:
        if time.monotonic() > deadline:
            names = ", ".join(f"{p.topic}[{p.partition}]" for p in sorted(waiting))
            raise TimeoutError(f"no fetch answer within {timeout_s:.0f} s for {names}")
        # The records are dropped: taking them lets the consumer fetch those partitions again.
        await consumer.getmany(*waiting, timeout_ms=POLL_MS)
        for partition in list(waiting):
            highwater = consumer.highwater(partition)
            if highwater is not None:
                ends[partition] = max(ends[partition], highwater)
                waiting.discard(partition)
    return ends
