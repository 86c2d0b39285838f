"""Every service's HTTP latency is measured per route template, never per raw path (an id in a
label would be a time series per person)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from kit.service import instrument_http_app


def samples(route: str) -> float:
    value = REGISTRY.get_sample_value(
        "dn_http_request_seconds_count", {"method": "GET", "route": route, "status": "200"}
    )
    return value or 0.0


async def test_requests_are_timed_by_route_template_and_health_is_left_out() -> None:
    app = FastAPI()

    @app.get("/beneficiaries/{beneficiary_id}")
    async def one(beneficiary_id: str) -> dict[str, str]:
        return {"id": beneficiary_id}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    instrument_http_app(app)
    before = samples("/beneficiaries/{beneficiary_id}")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        for person in ("4b1c", "9f2e"):
            assert (await client.get(f"/beneficiaries/{person}")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200

    assert samples("/beneficiaries/{beneficiary_id}") == before + 2
    assert samples("/beneficiaries/4b1c") == 0
    assert samples("/healthz") == 0
