"""Reporting service process: wiring and entry point (python -m services.reporting.app)."""

from __future__ import annotations

from fastapi import FastAPI

from kit.service import Runtime, run, service_app
from kit.settings import Settings
from services.reporting.api import router
from services.reporting.handlers import TOPICS, Freshness, ProjectionHandler, projection_group
from services.reporting.impact_answers import ImpactAnswers
from services.reporting.live import ImpactFeed, close_on_exit_signal
from services.reporting.store import Versions

NAME = "reporting"


def build(settings: Settings) -> FastAPI:
    app: FastAPI

    async def setup(runtime: Runtime) -> None:
        versions = Versions(runtime.db)
        registry = await versions.current()
        await versions.store(registry.active).ensure_indexes()
        feed = ImpactFeed()
        freshness = Freshness()
        close_on_exit_signal(feed)
        app.state.versions = versions
        app.state.feed = feed
        app.state.freshness = freshness
        app.state.answers = answers = ImpactAnswers(feed, freshness)
        handler = ProjectionHandler(runtime.client, versions, feed, freshness, answers.prepare)
        group_id = projection_group(settings.database_prefix)
        runtime.consume_batches(*TOPICS, group_id=group_id, handle=handler, live=True)

    app = service_app(NAME, settings, router=router, setup=setup)
    return app


if __name__ == "__main__":
    run(NAME, build)
