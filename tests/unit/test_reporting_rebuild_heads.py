"""What a rebuild expects from the services' logs (their ``GET /log``), and what it says when the
broker holds less."""

from __future__ import annotations

import json

import httpx
import pytest
from aiokafka import TopicPartition

from contracts.topics import ORIENTATION_EVENTS, REGISTRATION_EVENTS, TRAINING_EVENTS
from kit.settings import Settings
from services.reporting.rebuild import LogHead, LogsUnanswered, ReplayShort, published_heads

SETTINGS = Settings(
    registration_url="http://registration:8101",
    training_url="http://training:8102",
    orientation_url="http://orientation:8103",
    reporting_url="http://reporting:8104",
)


def log_answer(service: str, topic: str | None, partitions: dict[str, int]) -> dict[str, object]:
    return {
        "service": service,
        "log_id": f"{service}-log",
        "topic": topic,
        "events": sum(partitions.values()),
        "unsent": 0,
        "partitions": partitions,
        "reseed": {"events": 0, "seconds": 0.0, "pending": 0, "running": False},
        "subscribers": [],
    }


ANSWERS = {
    "registration": log_answer("registration", REGISTRATION_EVENTS, {"0": 1400, "2": 700}),
    "training": log_answer("training", TRAINING_EVENTS, {"1": 1200}),
    "orientation": log_answer("orientation", None, {}),  # nothing published yet
}


def answering(down: tuple[str, ...] = ()) -> httpx.AsyncClient:
    """The services' ``GET /log``; reporting's is not needed, so it is down throughout."""

    def reply(request: httpx.Request) -> httpx.Response:
        service = request.url.host
        if service in (*down, "reporting"):
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.path == "/log"
        return httpx.Response(200, content=json.dumps(ANSWERS[service]))

    return httpx.AsyncClient(transport=httpx.MockTransport(reply))


async def test_the_heads_are_each_service_log_last_position_per_partition_of_its_topic() -> None:
    async with answering() as client:
        heads = await published_heads(SETTINGS, client)
    assert heads == {
        TopicPartition(REGISTRATION_EVENTS, 0): LogHead("registration", "registration-log", 1400),
        TopicPartition(REGISTRATION_EVENTS, 2): LogHead("registration", "registration-log", 700),
        TopicPartition(TRAINING_EVENTS, 1): LogHead("training", "training-log", 1200),
    }
    assert not [p for p in heads if p.topic == ORIENTATION_EVENTS]


async def test_a_service_that_does_not_answer_stops_the_rebuild_before_it_starts() -> None:
    async with answering(down=("training",)) as client:
        with pytest.raises(LogsUnanswered) as refused:
            await published_heads(SETTINGS, client)
    assert str(refused.value) == (
        "training did not say how far its log goes (http://training:8102/log does not answer)"
    )


def test_a_short_replay_says_how_much_the_broker_holds_and_which_version_serves() -> None:
    short = ReplayShort(
        {"training": (0, 1200), "orientation": (433, 433), "registration": (1, 2100)},
        stopped=[],
        serving=1,
    )
    assert str(short) == (
        "the broker holds 434 of the 3,733 events the services' logs have published "
        "(training: 0 of 1,200, orientation: 433 of 433, registration: 1 of 2,100); "
        "version 1 keeps serving. Wait until `dn status` shows no re-publishing and run it again."
    )
