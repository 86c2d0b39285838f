"""Subscribers' log positions: skip what was applied, apply the next, read again after a gap."""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition

from kit.log_positions import LOG_HEADER, POSITION_HEADER, LogPositions, log_mark
from kit.outbox import partition_of

TOPIC = "dn.registration.events"


def record(
    position: int | None, offset: int, log_id: str = "log-a", partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    headers: list[tuple[str, bytes]] = [("ce_id", f"event-{offset}".encode())]
    if position is not None:
        headers += [(LOG_HEADER, log_id.encode()), (POSITION_HEADER, str(position).encode())]
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=headers,
    )


class Consumer:
    """Records where the subscriber asked to read from (what aiokafka's consumer would do)."""

    def __init__(self) -> None:
        self.seeks: list[tuple[TopicPartition, int | str]] = []

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.seeks += [(p, "start") for p in partitions]


def offsets(records: list[ConsumerRecord[bytes, bytes]]) -> list[int]:
    return [r.offset for r in records]


async def test_records_in_order_are_all_admitted_and_the_position_moves() -> None:
    positions = LogPositions(None, "group")
    admitted = await positions.admit(Consumer(), [record(n, n - 1) for n in range(1, 6)])
    assert offsets(admitted) == [0, 1, 2, 3, 4]
    assert positions.last(TOPIC, 0) == ("log-a", 5)


async def test_positions_already_passed_are_skipped_as_after_a_re_seed() -> None:
    positions = LogPositions(None, "group")
    await positions.admit(Consumer(), [record(n, n - 1) for n in range(1, 4)])
    # The broker restarted empty and the relay published the whole log again, then one more.
    again = await positions.admit(Consumer(), [record(n, 100 + n) for n in range(1, 5)])
    assert offsets(again) == [104]
    assert positions.last(TOPIC, 0) == ("log-a", 4)


async def test_a_gap_reads_again_after_the_last_record_handled_then_from_the_start() -> None:
    positions = LogPositions(None, "group")
    consumer = Consumer()
    await positions.admit(consumer, [record(1, 10), record(2, 11)])

    admitted = await positions.admit(consumer, [record(5, 14), record(6, 15)])
    assert admitted == [], "nothing past a missing position is applied"
    assert consumer.seeks == [(TopicPartition(TOPIC, 0), 12)]

    still = await positions.admit(consumer, [record(5, 14)])
    assert still == []
    assert consumer.seeks[-1] == (TopicPartition(TOPIC, 0), "start")

    # From the start: the missing ones are there after all.
    healed = await positions.admit(
        consumer, [record(1, 10), record(2, 11), record(3, 12), record(4, 13), record(5, 14)]
    )
    assert offsets(healed) == [12, 13, 14]
    assert positions.last(TOPIC, 0) == ("log-a", 5)


async def test_past_a_gap_read_from_the_start_records_are_skipped_until_the_relay_fills_it() -> (
    None
):
    positions = LogPositions(None, "group")
    consumer = Consumer()
    await positions.admit(consumer, [record(1, 0), record(2, 1), record(3, 2)])
    # The broker restarted empty; a new event landed first, at offset 0.
    await positions.admit(consumer, [record(9, 0)])
    assert consumer.seeks == [(TopicPartition(TOPIC, 0), "start")]
    assert await positions.admit(consumer, [record(9, 0)]) == []
    assert len(consumer.seeks) == 1, "read from the start once, not in a loop"
    # The re-seed follows: positions 1..9.
    refilled = await positions.admit(consumer, [record(n, n) for n in range(1, 10)])
    assert [int(dict(r.headers)[POSITION_HEADER]) for r in refilled] == [4, 5, 6, 7, 8, 9]


async def test_a_new_log_starts_over_and_partner_records_pass_untouched() -> None:
    positions = LogPositions(None, "group")
    await positions.admit(Consumer(), [record(n, n) for n in range(1, 4)])
    fresh = await positions.admit(Consumer(), [record(1, 50, log_id="log-b"), record(None, 51)])
    assert offsets(fresh) == [50, 51]
    assert positions.last(TOPIC, 0) == ("log-b", 1)


async def test_partitions_are_followed_apart() -> None:
    positions = LogPositions(None, "group")
    admitted = await positions.admit(
        Consumer(),
        [record(1, 0, partition=0), record(1, 0, partition=1), record(2, 1, partition=1)],
    )
    assert len(admitted) == 3
    assert positions.last(TOPIC, 1) == ("log-a", 2)


def test_log_mark_reads_the_headers_and_refuses_a_garbled_position() -> None:
    assert log_mark([(LOG_HEADER, b"x"), (POSITION_HEADER, b"12")]) == ("x", 12)
    assert log_mark([(LOG_HEADER, b"x"), (POSITION_HEADER, b"twelve")]) is None
    assert log_mark([("ce_id", b"1")]) is None


def test_the_relay_places_a_key_where_kafkas_default_partitioner_would() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in (b"a", b"beneficiary-1", b"3b1f0c7e-0000-4000-8000-000000000000"):
        for partitions in (1, 3, 6, 12):
            assert partition_of(key, partitions) == DefaultPartitioner()(
                key, list(range(partitions)), list(range(partitions))
            )


class AssignedConsumer(Consumer):
    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, 0), TopicPartition("dn.intake.training", 2)}


async def test_after_the_broker_restarted_empty_every_partition_is_read_again_once() -> None:
    from kit.log_positions import BrokerResets

    resets = BrokerResets()
    positions = LogPositions(None, "group")
    consumer = AssignedConsumer()
    assert await positions.after_reset(consumer, resets) is False
    resets.reset()  # the relay of this process found the broker empty
    assert await positions.after_reset(consumer, resets) is True
    assert {seek for seek in consumer.seeks} == {
        (TopicPartition(TOPIC, 0), "start"),
        (TopicPartition("dn.intake.training", 2), "start"),
    }, "partner records too: they carry no position to show a gap"
    assert await positions.after_reset(consumer, resets) is False, "once per reset"
