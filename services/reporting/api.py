"""Reporting's HTTP API: the impact figures for one scope, what it holds about one person, and
the live stream of which scopes changed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.api.reporting import ExportsOffered, ImpactAnswer, ShareLinkView
from contracts.errors import FieldError, InvalidInput, NotFound
from kit.audit import Action, Audit, RecordKind
from kit.audit import as_json as audit_as_json
from kit.auth import AuthError, Principal, Role
from kit.service import audit_of, caller, runtime_of
from services.reporting import domain, exports, impact_report, share_links
from services.reporting.impact_answers import (
    ImpactAnswers,
    anonymised,
    compute_impact,
    exact_answer,
)
from services.reporting.live import ImpactFeed, server_sent_events
from services.reporting.report import ImpactReport
from services.reporting.store import ReportingStore, Versions

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
READERS = (Role.COORDINATOR, Role.ASSOCIATION, Role.FUNDER)


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


@router.get("/impact", responses={200: {"model": ImpactAnswer}})
async def read_impact(
    who: Caller,
    request: Request,
    store: Annotated[ReportingStore, Depends(store_of)],
    scope: Annotated[str, Depends(scope_of)],
) -> Response:
    """The figures of one scope: totals, rates, targets with forecasts, funnel, every
    breakdown (attributes, weeks, months, cohorts), weekly history and freshness. Exact for
    coordinators and for association staff within their association; everyone else (funders,
    staff looking beyond their association) gets small counts hidden, as in the exports
    (:mod:`services.reporting.anonymised`)."""
    who.require(*READERS)
    answers: ImpactAnswers = request.app.state.answers
    answer = await answers.answer(store, scope, may_see_individuals(who, scope))
    return Response(answer, media_type="application/json")


@router.get("/beneficiaries/{beneficiary_id}/export")
async def export_beneficiary(
    beneficiary_id: str,
    who: Caller,
    store: Annotated[ReportingStore, Depends(store_of)],
    audit: Annotated[Audit, Depends(audit_of)],
) -> dict[str, Any]:
    """Everything reporting holds about the person (right of access): the projection's facts,
    pseudonymous dimensions only (no record when reporting has not heard of them), and who
    read them here."""
    who.require(Role.COORDINATOR)
    await audit(Action.EXPORT, RecordKind.ALL_RECORDS, [beneficiary_id])
    access_log = audit_as_json(await audit.log.entries(beneficiary_id, None))
    document = await store.facts.find_one({"_id": beneficiary_id})
    if document is not None and document.get("erased"):
        document = None
    if document is None:
        return {"service": "reporting", "records": [], "access_log": access_log}
    facts = {"beneficiary_id": document.pop("_id"), **document}
    return {"service": "reporting", "records": [facts], "access_log": access_log}


@router.get("/impact/changes")
async def impact_changes(who: Caller, request: Request) -> StreamingResponse:
    """Server-Sent Events: ``event: changed`` with ``{"sequence", "scopes", "event_time",
    "pushed_at", "traceparent"}`` after each committed projection change (merged while the
    reader is busy), a comment line every 15 s. Scopes are ``all``, ``association:<id>``,
    ``district:<id>``, ``track:<value>``. For the gateway (its service token, role ``service``)
    and the roles that may read the figures."""
    who.require(Role.COORDINATOR, Role.ASSOCIATION, Role.FUNDER, Role.SERVICE)
    feed: ImpactFeed = request.app.state.feed
    return StreamingResponse(
        server_sent_events(feed),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


# -- exports for coordinators, association staff and funders --------------------------------
#
# GET /exports           the breakdowns and files on offer (JSON)
# GET /exports/{name}    one file: report.pdf | report.html (the impact report with charts),
#                        impact.xlsx (summary, every breakdown, weekly series), {breakdown}.csv |
#                        {breakdown}.xlsx (one breakdown: district, association, gender, age_band,
#                        track, careers_gender, cohort, month)
# Query: association_id | district_id | track (the /impact scope filter), lang=fr|en.
# Coordinators get exact figures of any scope; association staff exact figures of their own
# association and nothing else (403); funders any scope with small cells suppressed ("<5"). The
# answer says which in X-DN-Suppressed. The gateway serves these at its own GET /exports/{name}.

EXPORT_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
ExportLang = Annotated[Literal["fr", "en"], Query(description="fr (default) or en")]
Renderer = Callable[[ImpactReport, exports.Lang], str | bytes]
EVERY_BREAKDOWN = tuple(impact_report.BREAKDOWNS)


@dataclass(frozen=True)
class ExportFile:
    """One file an export answers: its name's parts, the tables it holds, its renderer."""

    stem: str  # in the file name: impact-<scope>-<stem>-<date>.<extension>
    extension: str
    breakdowns: tuple[str, ...]
    render: Renderer


REPORTS = {
    "report.pdf": ExportFile("report", "pdf", EVERY_BREAKDOWN, exports.to_pdf),
    "report.html": ExportFile("report", "html", EVERY_BREAKDOWN, exports.to_html),
    "impact.xlsx": ExportFile("all", "xlsx", EVERY_BREAKDOWN, exports.to_xlsx),
}
ONE_BREAKDOWN: dict[str, Renderer] = {
    "csv": lambda report, lang: exports.to_csv(report.tables[0], lang),
    "xlsx": lambda report, lang: exports.to_xlsx(replace(report, series=()), lang),
}
EXPORT_NAMES = (*REPORTS, *(f"{{breakdown}}.{extension}" for extension in ONE_BREAKDOWN))


def export_file(name: str) -> ExportFile:
    """The file ``name`` asks for; 404 naming what exists otherwise."""
    if name in REPORTS:
        return REPORTS[name]
    stem, _, extension = name.rpartition(".")
    if extension not in ONE_BREAKDOWN:
        raise HTTPException(
            404, detail=f"no export {name!r}; the exports: {', '.join(EXPORT_NAMES)}"
        )
    if stem not in impact_report.BREAKDOWNS:
        known = ", ".join(impact_report.BREAKDOWNS)
        raise HTTPException(404, detail=f"no breakdown {stem!r}; the breakdowns: {known}")
    return ExportFile(stem, extension, (stem,), ONE_BREAKDOWN[extension])


def may_see_individuals(who: Principal, scope: str) -> bool:
    """Exact figures for coordinators, and for association staff within their association."""
    if who.role is Role.COORDINATOR:
        return True
    return who.role is Role.ASSOCIATION and scope == f"association:{who.association_id}"


def export_exactness(who: Principal, scope: str) -> bool:
    """Whether ``who`` gets the exact figures of ``scope`` in a file (else small counts
    hidden); association staff asking for anything but their own association are refused."""
    who.require(*READERS)
    own = f"association:{who.association_id}"
    if who.role is Role.ASSOCIATION and scope != own:
        raise AuthError(
            "association staff export only their own association's figures "
            f"(association_id={who.association_id}); this asked for {scope!r}",
            403,
        )
    return may_see_individuals(who, scope)


async def export_report(
    request: Request,
    store: ReportingStore,
    scope: str,
    lang: Literal["fr", "en"],
    breakdowns: tuple[str, ...],
    exact: bool,
) -> ImpactReport:
    """The report of ``scope``, exact or with small counts hidden."""
    answer = await compute_impact(store, scope)
    freshness = await store.freshness()
    names = await store.reference_names()
    local = export_zone()
    updated_at = freshness["updated_at"] if freshness else None
    report = impact_report.compose(
        answer,
        districts=names.districts,
        associations=names.associations,
        lang=lang,
        generated_at=datetime.now(UTC).astimezone(local),
        updated_at=_as_utc(updated_at).astimezone(local) if updated_at else None,
        breakdowns=breakdowns,
    )
    if not names.name_all((cell.dimension, cell.value) for cell in answer.cells):
        report = replace(report, notes=(*report.notes, exports.label("note_names_missing", lang)))
    return impact_report.for_audience(report, exact)


def export_zone() -> tzinfo:
    """Times in exports are Bordeaux's (UTC when the time zone database is missing)."""
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:
        return UTC


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # MongoDB gives naive UTC


async def export_answer(
    request: Request,
    store: ReportingStore,
    scope: str,
    file: ExportFile,
    lang: Literal["fr", "en"],
    exact: bool,
) -> Response:
    """The file with its media type and name (``impact-<scope>-<stem>-<date>.<ext>``)."""
    report = await export_report(request, store, scope, lang, file.breakdowns, exact)
    body = await asyncio.to_thread(file.render, report, lang)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", scope).strip("-")
    filename = f"impact-{slug}-{file.stem}-{report.generated_at:%Y-%m-%d}.{file.extension}"
    disposition = "inline" if file.extension in ("html", "pdf") else "attachment"
    return Response(
        body,
        media_type=EXPORT_MEDIA_TYPES[file.extension],
        headers={
            "content-disposition": f'{disposition}; filename="{filename}"',
            "cache-control": "no-store",
            "x-dn-suppressed": "true" if report.suppressed else "false",
        },
    )


@router.get("/exports")
async def list_exports(who: Caller) -> ExportsOffered:
    """What can be exported: the breakdowns, the formats, and the routes."""
    who.require(*READERS)
    return ExportsOffered(
        breakdowns=list(impact_report.BREAKDOWNS),
        formats=list(EXPORT_MEDIA_TYPES),
        routes=[f"/exports/{name}" for name in EXPORT_NAMES],
    )


@router.get("/exports/{name}")
async def export(
    name: str,
    who: Caller,
    request: Request,
    store: Annotated[ReportingStore, Depends(store_of)],
    scope: Annotated[str, Depends(scope_of)],
    lang: ExportLang = "fr",
) -> Response:
    """One file of the scope's figures: the report (``report.pdf``, ``report.html``: charts,
    targets, funnel, every breakdown), every breakdown as a workbook (``impact.xlsx``), or one
    breakdown as CSV or XLSX (``district.csv``, ``gender.xlsx``…)."""
    exact = export_exactness(who, scope)
    return await export_answer(request, store, scope, export_file(name), lang, exact)


# -- share links: revocable, read-only public figures -------------------------------------
#
# Coordinators create a link (a random id) to the programme-wide figures as funders see them;
# the gateway serves them without a token at GET /public/{id} until the link is revoked.


class ShareLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=200)


def share_links_of(request: Request) -> share_links.ShareLinks:
    return share_links.ShareLinks(runtime_of(request).db)


ShareLinksStore = Annotated[share_links.ShareLinks, Depends(share_links_of)]


@router.post("/share-links", status_code=201, response_model=ShareLinkView)
async def create_share_link(
    body: ShareLinkIn, who: Caller, links: ShareLinksStore
) -> dict[str, Any]:
    who.require(Role.COORDINATOR)
    return await links.create(body.label, who.subject)


@router.get("/share-links", response_model=list[ShareLinkView])
async def list_share_links(who: Caller, links: ShareLinksStore) -> list[dict[str, Any]]:
    who.require(Role.COORDINATOR)
    return await links.all()


@router.delete("/share-links/{link_id}", response_model=ShareLinkView)
async def revoke_share_link(link_id: str, who: Caller, links: ShareLinksStore) -> dict[str, Any]:
    who.require(Role.COORDINATOR)
    revoked = await links.revoke(link_id, who.subject)
    if revoked is None:
        raise NotFound(f"no share link {link_id}")
    return revoked


@router.get("/share-links/{link_id}/impact")
async def shared_impact(
    link_id: str,
    who: Caller,
    request: Request,
    links: ShareLinksStore,
    store: Annotated[ReportingStore, Depends(store_of)],
) -> ImpactAnswer:
    """The programme-wide figures as funders see them, for a link still active (the gateway's
    ``GET /public/{id}``, with its service token); 404 for an unknown or revoked link."""
    who.require(Role.COORDINATOR, Role.SERVICE)
    if not await links.active(link_id):
        raise NotFound("no such share link, or it was revoked")
    return anonymised(await exact_answer(store, domain.ALL, request.app.state.freshness))


@router.get("/share-links/{link_id}/report.pdf")
async def shared_report(
    link_id: str,
    who: Caller,
    request: Request,
    links: ShareLinksStore,
    store: Annotated[ReportingStore, Depends(store_of)],
    lang: ExportLang = "fr",
) -> Response:
    """The programme-wide impact report (PDF) as funders see it, small counts hidden, for a
    link still active (the gateway's ``GET /public/{id}/report.pdf``, with its service token);
    404 for an unknown or revoked link."""
    who.require(Role.COORDINATOR, Role.SERVICE)
    if not await links.active(link_id):
        raise NotFound("no such share link, or it was revoked")
    return await export_answer(request, store, domain.ALL, REPORTS["report.pdf"], lang, False)
