"""Training service process: wiring and entry point (python -m services.training.app).

Runs with its own database, outbox relay and health endpoint; its domain lands with issue #4.
"""

from __future__ import annotations

from fastapi import FastAPI

from kit.service import run, service_app
from kit.settings import Settings

NAME = "training"


def build(settings: Settings) -> FastAPI:
    return service_app(NAME, settings)


if __name__ == "__main__":
    run(NAME, build)
