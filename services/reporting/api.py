"""Reporting's HTTP API: the impact figures for one scope, what it holds about one person, and
the live stream of which scopes changed."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from contracts.errors import FieldError, InvalidInput
from kit.auth import Principal, Role
from kit.service import caller
from services.reporting import domain
from services.reporting.live import ImpactFeed, server_sent_events
from services.reporting.store import ReportingStore

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
TARGETS_FILE = Path(__file__).with_name("targets.json")


def load_targets() -> domain.Targets:
    path = Path(os.environ.get("DN_TARGETS_FILE") or TARGETS_FILE)
    data = json.loads(path.read_text(encoding="utf-8"))
    return domain.Targets(
        trained=int(data["trained"]),
        directed_to_employment=int(data["directed_to_employment"]),
        associations_upskilled=int(data["associations_upskilled"]),
    )


def store_of(request: Request) -> ReportingStore:
    store: ReportingStore = request.app.state.store
    return store


@router.get("/impact")
async def read_impact(
    who: Caller,
    store: Annotated[ReportingStore, Depends(store_of)],
    association_id: str | None = None,
    district_id: str | None = None,
    track: str | None = None,
) -> dict[str, Any]:
    who.require(Role.COORDINATOR, Role.ASSOCIATION, Role.FUNDER)
    scope = _scope(association_id, district_id, track)
    answer = domain.impact(scope, await store.counters_of(scope), load_targets())
    updated_at = await store.updated_at()
    return {**asdict(answer), "updated_at": updated_at.isoformat() if updated_at else None}


def _scope(association_id: str | None, district_id: str | None, track: str | None) -> str:
    chosen = [
        f"{name}:{value}"
        for name, value in (
            ("association", association_id),
            ("district", district_id),
            ("track", track),
        )
        if value
    ]
    if len(chosen) > 1:
        raise InvalidInput(
            FieldError("filter", "filter by one of associationId, districtId or track at a time")
        )
    return chosen[0] if chosen else domain.ALL


@router.get("/beneficiaries/{beneficiary_id}/export")
async def export_beneficiary(
    beneficiary_id: str, who: Caller, store: Annotated[ReportingStore, Depends(store_of)]
) -> dict[str, Any]:
    """Everything reporting holds about the person (right of access): the projection's facts,
    pseudonymous dimensions only; no record when reporting has not heard of them."""
    who.require(Role.COORDINATOR)
    document = await store.facts.find_one({"_id": beneficiary_id})
    if document is None:
        return {"service": "reporting", "records": []}
    facts = {"beneficiary_id": document.pop("_id"), **document}
    return {"service": "reporting", "records": [facts]}


@router.get("/impact/changes")
async def impact_changes(who: Caller, request: Request) -> StreamingResponse:
    """Server-Sent Events: ``event: changed`` with ``{"sequence", "scopes", "event_time",
    "pushed_at", "traceparent"}`` after each committed projection change (merged while the
    reader is busy), a comment line every 15 s. Scopes are ``all``, ``association:<id>``,
    ``district:<id>``, ``track:<value>``. For the gateway (its service identity has the ops
    role) and the roles that may read the figures."""
    who.require(Role.COORDINATOR, Role.ASSOCIATION, Role.FUNDER, Role.OPS)
    feed: ImpactFeed = request.app.state.feed
    return StreamingResponse(
        server_sent_events(feed),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
