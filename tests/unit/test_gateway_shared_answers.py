"""`impact` answers shared among callers who would get the same one (gateway/answers.py)."""

from __future__ import annotations

import asyncio
import json

import pytest
from graphql import GraphQLError
from strawberry.http import process_result
from strawberry.types import ExecutionResult

from gateway.answers import SharedAnswers, answer_key
from gateway.schema import schema
from gateway.subscriptions import EncodedOnce, SubscriptionsRouter
from tests.support import ManualClock

IMPACT = "{ impact { enrolled } }"
COORDINATOR = ("coordinator", None)


def key(query: str, audience: tuple[str, str | None] = COORDINATOR, **variables: object) -> object:
    return answer_key(query, variables or None, None, audience, (1, 7), 3)


def test_only_queries_reading_impact_are_shared() -> None:
    assert key(IMPACT) is not None
    assert key("query Dashboard($f: ImpactFilter) { impact(filter: $f) { enrolled } }") is not None
    assert key("{ impact { enrolled } __typename }") is not None
    for not_shared in (
        "{ impact { enrolled } beneficiaries { totalCount } }",  # a person list beside it
        "{ ...F } fragment F on Query { impact { enrolled } }",  # a fragment could read anything
        'mutation { saveDistrict(id: "d", input: {name: "D"}) { id } }',
        "subscription { impactUpdated { enrolled } }",
        "{ impact { enrolled ",  # not even GraphQL: executed, to say so
    ):
        assert key(not_shared) is None, not_shared
    assert answer_key(None, None, None, COORDINATOR, (1, 7), 3) is None


def test_the_key_tells_audiences_variables_and_sequences_apart() -> None:
    assert key(IMPACT) == key(IMPACT)
    assert key(IMPACT) != key(IMPACT, ("funder", None))
    assert key(IMPACT, ("association", "a1")) != key(IMPACT, ("association", "a2"))
    assert key(IMPACT, f={"districtId": "d1"}) != key(IMPACT, f={"districtId": "d2"})
    assert answer_key(IMPACT, None, None, COORDINATOR, (1, 8), 3) != key(IMPACT)
    assert answer_key(IMPACT, None, None, COORDINATOR, (2, 7), 3) != key(IMPACT)
    assert answer_key(IMPACT, None, None, COORDINATOR, (1, 7), 4) != key(IMPACT)


class Execution:
    def __init__(self, errors: bool = False) -> None:
        self.runs = 0
        self.errors = errors
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> ExecutionResult:
        self.runs += 1
        await self.release.wait()
        errors = [GraphQLError("reporting is away")] if self.errors else None
        return ExecutionResult(data={"impact": {"enrolled": self.runs}}, errors=errors)


async def test_concurrent_and_later_askers_share_one_execution_until_the_figures_move() -> None:
    execution, clock = Execution(), ManualClock(10.0)
    answers = SharedAnswers(clock=clock)
    execution.release.clear()
    asking = [asyncio.ensure_future(answers.get("k", (1, 7), execution)) for _ in range(5)]
    await asyncio.sleep(0)
    execution.release.set()
    results = await asyncio.gather(*asking)
    assert execution.runs == 1
    assert {id(r) for r in results} == {id(results[0])}

    clock.now += 0.5
    assert (await answers.get("k", (1, 7), execution)).data == {"impact": {"enrolled": 1}}
    assert (await answers.get("k", (1, 8), execution)).data == {"impact": {"enrolled": 2}}
    assert len(answers) == 1, "the previous sequence's answers are gone"
    clock.now += 1.5
    assert (await answers.get("k", (1, 8), execution)).data == {"impact": {"enrolled": 3}}


async def test_an_answer_with_errors_or_a_failure_is_not_kept() -> None:
    answers, failing = SharedAnswers(clock=ManualClock(10.0)), Execution(errors=True)
    assert (await answers.get("k", 1, failing)).errors
    assert (await answers.get("k", 1, failing)).errors
    assert failing.runs == 2

    async def broken() -> ExecutionResult:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        await answers.get("other", 1, broken)
    assert len(answers) == 0


async def test_a_shared_answer_is_encoded_once_as_strawberry_would_have() -> None:
    router = SubscriptionsRouter(schema)
    result = ExecutionResult(data={"impact": {"enrolled": 3, "name": "Bègles"}}, errors=None)
    shared = EncodedOnce.of(result)

    response = await router.process_result(None, shared)
    assert response == process_result(result)
    assert await router.process_result(None, shared) is response  # the same each time
    body = router.encode_json(response)
    assert body == json.dumps(process_result(result), separators=(",", ":")).encode()
    assert router.encode_json(response) is body  # made once, not per request
    # Anything not shared is encoded as strawberry does.
    assert router.encode_json({"data": {"x": 1}}) == '{"data":{"x":1}}'
