"""Orientation service process: wiring and entry point (python -m services.orientation.app).

Runs with its own database, outbox relay and health endpoint; its domain lands with issue #4.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI

from kit.auth import Principal, Role
from kit.service import caller, run, service_app
from kit.settings import Settings

NAME = "orientation"

router = APIRouter()


@router.get("/beneficiaries/{beneficiary_id}/export")
async def export_beneficiary(
    beneficiary_id: str, who: Annotated[Principal, Depends(caller)]
) -> dict[str, Any]:
    """Everything orientation holds about the person (right of access): nothing yet, as the service
    records nobody until its domain lands with issue #4."""
    who.require(Role.COORDINATOR)
    return {"service": NAME, "records": []}


def build(settings: Settings) -> FastAPI:
    return service_app(NAME, settings, router=router)


if __name__ == "__main__":
    run(NAME, build)
