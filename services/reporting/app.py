"""Reporting service process: wiring and entry point (python -m services.reporting.app)."""

from __future__ import annotations

from fastapi import FastAPI

from kit.service import Runtime, run, service_app
from kit.settings import Settings
from services.reporting.api import router
from services.reporting.handlers import GROUP_ID, TOPICS, ProjectionHandler
from services.reporting.live import ImpactFeed, close_on_exit_signal
from services.reporting.store import ReportingStore

NAME = "reporting"


def build(settings: Settings) -> FastAPI:
    app: FastAPI

    async def setup(runtime: Runtime) -> None:
        store = ReportingStore(runtime.db)
        await store.ensure_indexes()
        app.state.store = store
        feed = ImpactFeed()
        close_on_exit_signal(feed)  # an open change stream would otherwise hold the shutdown
        app.state.feed = feed
        handler = ProjectionHandler(store, runtime.idempotent("projection"), feed)
        runtime.consume(*TOPICS, group_id=GROUP_ID, handle=handler)

    app = service_app(NAME, settings, router=router, setup=setup)
    return app


if __name__ == "__main__":
    run(NAME, build)
