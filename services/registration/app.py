"""Registration service process: wiring and entry point (python -m services.registration.app)."""

from __future__ import annotations

from fastapi import FastAPI

from kit.service import Runtime, run, service_app
from kit.settings import Settings
from services.registration.api import router
from services.registration.store import RegistrationStore

NAME = "registration"


def build(settings: Settings) -> FastAPI:
    app: FastAPI

    async def setup(runtime: Runtime) -> None:
        store = RegistrationStore(runtime.db, runtime.source)
        await store.ensure_indexes()
        await store.load_reference_file()
        app.state.store = store

    app = service_app(NAME, settings, router=router, setup=setup)
    return app


if __name__ == "__main__":
    run(NAME, build)
