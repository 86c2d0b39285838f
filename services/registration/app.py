"""Registration service process: wiring and entry point (python -m services.registration.app)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from kit.service import Runtime, run, service_app
from kit.settings import Settings
from services.registration import retention
from services.registration.api import router
from services.registration.commands import Registration
from services.registration.handlers import (
    ACTIVITY_GROUP_ID,
    ACTIVITY_TOPICS,
    GROUP_ID,
    TOPICS,
    ActivityHandler,
    IntakeRules,
)
from services.registration.store import RegistrationStore
from services.registration.vault import Vault

NAME = "registration"


def build(settings: Settings) -> FastAPI:
    app: FastAPI
    vault = Vault.from_settings(settings)

    async def setup(runtime: Runtime) -> None:
        store = RegistrationStore(runtime.db, runtime.source, vault)
        await store.ensure_indexes()
        await store.load_reference_file()
        registration = Registration(store, runtime.transact)
        app.state.registration = registration
        await runtime.consume_intake(
            *TOPICS, group_id=GROUP_ID, rules=IntakeRules(registration, runtime.audit)
        )
        runtime.consume_batches(
            *ACTIVITY_TOPICS, group_id=ACTIVITY_GROUP_ID, handle=ActivityHandler(store)
        )
        runtime.tasks.append(
            asyncio.create_task(
                retention.run_as_configured(registration, runtime.audit, settings),
                name="registration-retention",
            )
        )

    app = service_app(NAME, settings, router=router, setup=setup)
    return app


if __name__ == "__main__":
    run(NAME, build)
