"""Reporting's HTTP API: the impact figures for one scope, what it holds about one person, and
the live stream of which scopes changed."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from contracts.errors import FieldError, InvalidInput
from kit.auth import Principal, Role
from kit.service import caller
from services.reporting import domain, figures
from services.reporting.figures import TargetsFile
from services.reporting.handlers import Freshness
from services.reporting.live import ImpactFeed, server_sent_events
from services.reporting.store import ReportingStore, Versions

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
TARGETS_FILE = Path(__file__).with_name("targets.json")
READERS = (Role.COORDINATOR, Role.ASSOCIATION, Role.FUNDER)


def load_targets(path: Path | None = None) -> TargetsFile:
    """The coordinators' targets file (DN_TARGETS_FILE or the shipped one), checked: a
    mistake in it is reported with the file and the key, never as a 500 with a traceback."""
    path = path or Path(os.environ.get("DN_TARGETS_FILE") or TARGETS_FILE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        targets = {str(k): float(v) for k, v in data["targets"].items()}
        baselines = {str(k): int(v) for k, v in data.get("baselines", {}).items()}
        programme = data.get("programme", {})
        starts_on = programme.get("starts_on")
        ends_on = programme.get("ends_on")
        return TargetsFile(
            targets=targets,
            baselines=baselines,
            starts_on=date.fromisoformat(starts_on) if starts_on else None,
            ends_on=date.fromisoformat(ends_on) if ends_on else None,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise TargetsFileError(f"targets file {path}: {type(error).__name__}: {error}") from error


class TargetsFileError(Exception):
    pass


def versions_of(request: Request) -> Versions:
    versions: Versions = request.app.state.versions
    return versions


async def store_of(versions: Annotated[Versions, Depends(versions_of)]) -> ReportingStore:
    return await versions.active_store()


def scope_of(
    association_id: str | None = None, district_id: str | None = None, track: str | None = None
) -> str:
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


async def compute_impact(store: ReportingStore, scope: str) -> figures.Impact:
    try:
        targets = load_targets()
    except TargetsFileError as error:
        # The coordinators' file is wrong: say which and where, figures cannot be compared.
        raise HTTPException(503, detail=str(error)) from error
    return figures.impact(scope, await store.counters_of(scope), targets, date.today())


@router.get("/impact")
async def read_impact(
    who: Caller,
    request: Request,
    store: Annotated[ReportingStore, Depends(store_of)],
    scope: Annotated[str, Depends(scope_of)],
) -> dict[str, Any]:
    """The figures of one scope: totals, rates, targets with forecasts, funnel, every
    breakdown (attributes, weeks, months, cohorts), weekly history and freshness."""
    who.require(*READERS)
    answer = await compute_impact(store, scope)
    freshness = await store.freshness()
    recent: Freshness = request.app.state.freshness
    return {
        **impact_json(answer),
        "version": store.version,
        "updated_at": freshness["updated_at"].isoformat() if freshness else None,
        "freshness": {
            "last_event_time": freshness["last_event_time"].isoformat() if freshness else None,
            "lag_seconds": freshness["lag_seconds"] if freshness else None,
            **recent.summary(),
        },
    }


def impact_json(answer: figures.Impact) -> dict[str, Any]:
    totals = answer.totals
    return {
        "scope": answer.scope,
        "enrolled": totals["enrolled"],
        "trained": totals["trained"],
        "directed_to_employment": totals["directed_to_employment"],
        "associations_upskilled": totals["associations_upskilled"],
        "women_share_careers": answer.women_share_careers,
        "targets": {
            name: int(answer.targets.targets[name])
            for name in figures.TARGETED
            if name in answer.targets.targets
        },
        "women_share_goal": answer.targets.targets.get("women_share_careers"),
        "totals": figures_json(totals),
        "progress": [
            {
                **asdict(p),
                "reached_on": p.reached_on.isoformat() if p.reached_on else None,
            }
            for p in answer.progress
        ],
        "funnel": [{"stage": stage, "count": count} for stage, count in answer.funnel],
        "breakdowns": [
            {
                "dimension": cell.dimension,
                "value": cell.value,
                "enrolled": cell.figures["enrolled"],
                **figures_json(cell.figures),
            }
            for cell in answer.cells
        ],
        "history": [
            {"week": point.week, "counts": point.counts, "cumulative": point.cumulative}
            for point in answer.history
        ],
    }


def figures_json(cell: figures.Figures) -> dict[str, Any]:
    return {
        "counts": dict(cell.counts),
        "attendance_rate": cell.attendance_rate,
        "no_show_rate": cell.no_show_rate,
        "skill_gain": {area: cell.skill_gain(area) for area in domain.PIX_AREAS},
        "directed_by_outcome": cell.directed_by_outcome(),
    }


@router.get("/beneficiaries/{beneficiary_id}/export")
async def export_beneficiary(
    beneficiary_id: str, who: Caller, store: Annotated[ReportingStore, Depends(store_of)]
) -> dict[str, Any]:
    """Everything reporting holds about the person (right of access): the projection's facts,
    pseudonymous dimensions only; no record when reporting has not heard of them."""
    who.require(Role.COORDINATOR)
    document = await store.facts.find_one({"_id": beneficiary_id})
    if document is not None and document.get("erased"):
        document = None
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
