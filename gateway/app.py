"""Gateway process: GraphQL at /graphql (subscriptions over graphql-transport-ws), partner
intake at /ingest/{service}, share links' public figures at /public/{id}, the figures as files
at /exports/{name}, health, the dashboard page and the associations' app at /app/ (python -m
gateway.app)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from kit.auth import AuthError, Role, principal_from_header
from kit.service import instrument_http_app, run
from kit.settings import SERVICE_NAMES, Settings

from .answers import SharedAnswers
from .association_app import association_app_router
from .call_count import ServiceCallHeader
from .context import Context
from .event_docs import event_docs_router
from .exports import exports_router
from .ingest import IntakePublisher, ingest_router
from .limits import BodySizeLimit
from .live import ImpactChanges
from .loaders import Loaders
from .page_policy import page_response
from .public import public_router
from .pushes import ImpactFeeds
from .reporting import compose_impact
from .schema import build_schema, schema
from .services import Services
from .subscriptions import SubscriptionsRouter

NAME = "gateway"
DASHBOARD = Path(__file__).with_name("dashboard.html")


def build(settings: Settings) -> FastAPI:
    services = Services(settings)
    intake = IntakePublisher(settings.resolved_kafka_bootstrap)
    # Listens from the first query or subscription on; names read again when they change.
    impact_changes = ImpactChanges(settings, on_names=services.reference.clear)
    impact_feeds = ImpactFeeds(impact_changes, compose_impact)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await intake.start()
        try:
            yield
        finally:
            await impact_feeds.close()
            await impact_changes.close()
            await intake.stop()
            await services.close()

    async def context() -> Context:
        return Context(settings, services, Loaders)

    app = FastAPI(title="Digital Neighbourhoods gateway", lifespan=lifespan)
    app.state.impact_changes = impact_changes
    app.state.impact_feeds = impact_feeds
    app.state.shared_answers = SharedAnswers()
    graphql = SubscriptionsRouter(
        build_schema(production=True) if settings.environment == "production" else schema,
        context_getter=context,
        graphql_ide="graphiql" if settings.environment == "development" else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
    app.include_router(graphql, prefix="/graphql")
    app.include_router(ingest_router(settings, intake, services))
    app.include_router(event_docs_router())
    app.include_router(public_router(services))
    app.include_router(exports_router(settings, services))
    app.include_router(association_app_router())
    if settings.environment == "development":
        app.add_middleware(ServiceCallHeader)
    # /ingest/{service} counts its own body (64 KiB, one event) while it arrives.
    app.add_middleware(BodySizeLimit, limits={"/graphql": settings.graphql_max_body_bytes})

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        answers = await asyncio.gather(*map(services.healthy, SERVICE_NAMES))
        states = dict(zip(SERVICE_NAMES, answers, strict=True))
        healthy = all(states.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "services": states},
            status_code=200 if healthy else 503,
        )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus metrics, for ops (and coordinators): bearer token required."""
        try:
            who = principal_from_header(settings, request.headers.get("authorization"))
            who.require(Role.OPS, Role.COORDINATOR)
        except AuthError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    async def dashboard() -> HTMLResponse:
        # One self-contained page (no build step, no external asset).
        return page_response(DASHBOARD)

    instrument_http_app(app)
    return app


if __name__ == "__main__":
    run(NAME, build)
