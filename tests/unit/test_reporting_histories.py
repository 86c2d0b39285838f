"""Incremental projection == from-scratch computation, over generated programme histories
delivered in any order Kafka allows, with redeliveries, in batches of any size."""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain import (
    ALL,
    BeneficiaryFacts,
    Bucket,
    SessionFacts,
    apply,
    beneficiary_of,
    contributions,
    session_of,
    transition,
)
from services.reporting.projector import SessionSet, WorkingSet
from tests.histories import Delivery, from_scratch, ground_truth, histories

Counters = dict[tuple[Bucket, str], int]


def project_in_batches(stream: list[Delivery], sizes: list[int]) -> Counters:
    """The projector's own code over an in-memory store: batches of the given sizes, each
    skipping events already processed (by ce_id), as the real store does."""
    stored: dict[str, BeneficiaryFacts | None] = {}
    stored_sessions: dict[str, SessionFacts] = {}
    processed: set[str] = set()
    counters: Counter[tuple[Bucket, str]] = Counter()

    async def load(keys: list[str]) -> dict[str, BeneficiaryFacts | None]:
        return {key: stored[key] for key in keys if key in stored}

    async def load_sessions(keys: list[str]) -> dict[str, SessionFacts]:
        return {key: stored_sessions[key] for key in keys if key in stored_sessions}

    async def run() -> None:
        position, turn = 0, 0
        while position < len(stream):
            size = sizes[turn % len(sizes)] if sizes else 1
            batch, position, turn = stream[position : position + size], position + size, turn + 1
            working = WorkingSet(load)
            sessions = SessionSet(load_sessions)
            for delivery in batch:
                if str(delivery.ce.id) in processed:
                    continue
                processed.add(str(delivery.ce.id))
                key = beneficiary_of(delivery.event)
                if key is not None:
                    await working.apply(key, delivery.event)
                session_id = session_of(delivery.event)
                if session_id is not None:
                    await sessions.apply(session_id, delivery.event)
            counters.update(working.deltas())
            counters.update(sessions.deltas())
            # In memory an erased person's facts stay under their key: the link never expires.
            stored.update(dict(working.changed()))
            stored_sessions.update({facts.session_id: facts for facts in sessions.changed()})

    asyncio.run(run())
    return {key: count for key, count in counters.items() if count}


def totals(counters: Counters) -> Counter[str]:
    return +Counter(
        {
            indicator: n
            for ((scope, dim, _), indicator), n in counters.items()
            if scope == ALL and dim is None
        }
    )


@settings(max_examples=150, deadline=None)
@given(histories(), st.lists(st.integers(1, 7), max_size=5))
def test_incremental_projection_equals_the_from_scratch_computation(
    stream: list[Delivery], sizes: list[int]
) -> None:
    incremental = project_in_batches(stream, sizes)

    assert incremental == from_scratch(stream)
    # Every count is positive (a skill gain may be negative: a person can score lower).
    assert all(
        n > 0 for (_, name), n in incremental.items() if not name.startswith("skill_gain_sum")
    )


@settings(max_examples=150, deadline=None)
@given(histories())
def test_programme_totals_equal_figures_read_straight_off_the_events(
    stream: list[Delivery],
) -> None:
    figures = totals(project_in_batches(stream, [1]))
    truth = ground_truth(stream)

    for indicator, expected in truth.items():
        assert figures[indicator] == expected, indicator
    for indicator in ("enrolled", "trained", "directed_to_employment", "attended"):
        assert figures[indicator] == truth[indicator], indicator
    assert figures["anonymous_attendees"] == truth["anonymous_attendees"]


@settings(max_examples=100, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_counters_do_not_depend_on_the_order_topics_are_read_in(
    stream: list[Delivery], random: object
) -> None:
    # Another order Kafka allows: keep each (person, topic) order, interleave differently.
    queues: dict[tuple[str, str], list[Delivery]] = {}
    for delivery in stream:
        key = (str(beneficiary_of(delivery.event)), delivery.topic)
        queues.setdefault(key, []).append(delivery)
    turns = [(str(beneficiary_of(d.event)), d.topic) for d in stream]
    random.shuffle(turns)  # type: ignore[attr-defined]
    reordered = [queues[key].pop(0) for key in turns]

    assert project_in_batches(reordered, [3]) == project_in_batches(stream, [1])


@settings(max_examples=150, deadline=None)
@given(histories())
def test_each_transition_equals_the_difference_of_whole_contributions(
    stream: list[Delivery],
) -> None:
    """transition() spreads only what moved when a person stays in the same cells: at every
    step of a history it must equal new contribution minus old, computed whole."""
    facts: dict[str, BeneficiaryFacts] = {}
    for delivery in stream:
        key = beneficiary_of(delivery.event)
        if key is None:
            continue
        before = facts.get(key, BeneficiaryFacts(key))
        after = apply(before, delivery.event)
        whole = Counter(contributions(after))
        whole.subtract(contributions(before))
        assert transition(before, after) == {k: n for k, n in whole.items() if n}
        facts[key] = after
