"""A service whose database is unreachable refuses with 503 and a message to act on (and when to
try again), never a 500 with a stack trace; the MongoDB outage test shows it on the platform."""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from kit.service import RETRY_AFTER_S, service_app
from kit.settings import Settings


async def test_an_unreachable_database_is_a_503_with_a_message_and_a_retry_delay() -> None:
    router = APIRouter()

    @router.get("/beneficiaries")
    async def beneficiaries() -> None:
        raise ServerSelectionTimeoutError("127.0.0.1:27027: [Errno 111] Connection refused")

    @router.post("/beneficiaries")
    async def enrol() -> None:
        raise AutoReconnect("connection closed")

    app = service_app("registration", Settings(), router=router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        answers = [await client.get("/beneficiaries"), await client.post("/beneficiaries")]

    for answer in answers:
        assert answer.status_code == 503
        assert answer.json() == {
            "error": "the registration service cannot reach its database; try again shortly"
        }
        assert answer.headers["retry-after"] == str(RETRY_AFTER_S)
