"""Orientation service process: wiring and entry point (python -m services.orientation.app)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta

from fastapi import FastAPI

from kit.service import Runtime, run, service_app
from kit.settings import Settings
from services.orientation import commands, follow_ups
from services.orientation.api import router
from services.orientation.commands import Orientation
from services.orientation.handlers import (
    BENEFICIARIES_GROUP_ID,
    BENEFICIARIES_TOPICS,
    INTAKE_GROUP_ID,
    INTAKE_TOPICS,
    BeneficiaryHandler,
    IntakeRules,
)
from services.orientation.store import OrientationStore, load_reference

NAME = "orientation"


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = commands.now,
    calendar: Callable[[], date] = commands.today,
    follow_up_check: timedelta = follow_ups.CHECK_EVERY,
) -> FastAPI:
    """The service app; ``clock``, ``calendar`` and ``follow_up_check`` are for tests."""
    app: FastAPI

    async def setup(runtime: Runtime) -> None:
        store = OrientationStore(runtime.db, runtime.source)
        await store.ensure_indexes()
        orientation = Orientation(
            store, runtime.transact, await load_reference(), clock=clock, calendar=calendar
        )
        app.state.orientation = orientation
        intake = await runtime.consume_intake(
            *INTAKE_TOPICS, group_id=INTAKE_GROUP_ID, rules=IntakeRules(orientation, runtime.audit)
        )
        beneficiaries = BeneficiaryHandler(
            store, runtime.idempotent("beneficiaries"), intake.parking
        )
        runtime.consume_batches(
            *BENEFICIARIES_TOPICS, group_id=BENEFICIARIES_GROUP_ID, handle=beneficiaries.many
        )
        runtime.tasks.append(
            asyncio.create_task(
                follow_ups.run_periodically(orientation, every=follow_up_check),
                name="orientation-follow-ups",
            )
        )

    app = service_app(NAME, settings, router=router, setup=setup)
    return app


if __name__ == "__main__":
    run(NAME, build)
