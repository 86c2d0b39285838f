"""The gateway's limits: partner intake rate per token (429 with Retry-After), the token
bucket itself, and the request body size limit."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.ingest import IntakePublisher, ingest_router
from gateway.limits import BodySizeLimit, TokenBucket
from gateway.services import Services
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.support import ManualClock


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)

    assert [bucket.take("p") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("p") == 0.5
    assert bucket.take("q") == 0.0, "each sender has its own bucket"
    clock.now = 0.5
    assert bucket.take("p") == 0.0


def test_ingestion_beyond_the_rate_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, jwt_secret="s" * 48)
    app = FastAPI()
    publisher, services = IntakePublisher("unused:9092"), Services(settings)
    app.include_router(ingest_router(settings, publisher, services, TokenBucket(1.0, 2)))
    partner = issue_token(settings, Role.PARTNER, association_id="asso-a", subject="crm")
    other = issue_token(settings, Role.PARTNER, association_id="asso-b", subject="crm-b")
    headers = {"authorization": f"Bearer {partner}", "content-type": "application/json"}
    with TestClient(app) as client:
        answers = [
            client.post("/ingest/registration", content=b"{}", headers=headers) for _ in range(3)
        ]
        elsewhere = client.post(
            "/ingest/registration",
            content=b"{}",
            headers={**headers, "authorization": f"Bearer {other}"},
        )

    assert [a.status_code for a in answers] == [400, 400, 429]  # {} is not a CloudEvent
    assert answers[2].headers["retry-after"] == "1"
    assert "too many events" in answers[2].json()["error"]
    assert elsewhere.status_code == 400, "another token has its own bucket"


def test_graphql_body_over_the_limit_is_refused_with_413() -> None:
    app = FastAPI()

    @app.post("/graphql")
    async def graphql() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(BodySizeLimit, limits={"/graphql": 100})
    with TestClient(app) as client:
        assert client.post("/graphql", content=b"x" * 100).status_code == 200
        refused = client.post("/graphql", content=b"x" * 101)
        streamed = client.post("/graphql", content=iter([b"x" * 60, b"x" * 60]))

    assert refused.status_code == 413
    assert "at most 100 bytes" in refused.json()["error"]
    assert streamed.status_code == 413
