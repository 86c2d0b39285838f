"""Gateway process: GraphQL at /graphql (subscriptions over graphql-transport-ws), partner
intake at /ingest/{service}, health, and the dashboard page (python -m gateway.app)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from kit.service import instrument_http_app, run
from kit.settings import SERVICE_NAMES, Settings

from .call_count import ServiceCallHeader
from .context import Context
from .event_docs import event_docs_router
from .ingest import IntakePublisher, ingest_router
from .live import ImpactChanges
from .schema import schema
from .services import Services
from .subscriptions import SubscriptionsRouter

NAME = "gateway"
DASHBOARD = Path(__file__).with_name("dashboard.html")


def build(settings: Settings) -> FastAPI:
    services = Services(settings)
    intake = IntakePublisher(settings.resolved_kafka_bootstrap)
    impact_changes = ImpactChanges(settings)  # listens from the first subscription on

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await intake.start()
        try:
            yield
        finally:
            await impact_changes.close()
            await intake.stop()
            await services.close()

    async def context() -> Context:
        return Context(settings, services)

    app = FastAPI(title="Digital Neighbourhoods gateway", lifespan=lifespan)
    app.state.impact_changes = impact_changes
    graphql = SubscriptionsRouter(
        schema,
        context_getter=context,
        graphql_ide="graphiql" if settings.environment == "development" else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
    app.include_router(graphql, prefix="/graphql")
    app.include_router(ingest_router(settings, intake))
    app.include_router(event_docs_router())
    if settings.environment == "development":
        app.add_middleware(ServiceCallHeader)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        answers = await asyncio.gather(*map(services.healthy, SERVICE_NAMES))
        states = dict(zip(SERVICE_NAMES, answers, strict=True))
        healthy = all(states.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "services": states},
            status_code=200 if healthy else 503,
        )

    @app.get("/", response_class=HTMLResponse)
    async def dashboard() -> str:
        return DASHBOARD.read_text(encoding="utf-8")

    instrument_http_app(app)
    return app


if __name__ == "__main__":
    run(NAME, build)
