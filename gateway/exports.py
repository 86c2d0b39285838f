"""The impact figures as files, through the gateway: reporting's exports (the report as PDF or
HTML, the breakdowns as CSV and XLSX) passed on as they are made, with the caller's identity.

- ``GET /exports/{name}`` (``report.pdf``, ``report.html``, ``impact.xlsx``,
  ``{breakdown}.csv``, ``{breakdown}.xlsx``), query ``association_id`` | ``district_id`` |
  ``track`` and ``lang=fr|en``: ``Authorization: Bearer <token>`` only, never a token in the
  address (it would land in logs and history; the dashboard fetches with the header and saves
  the file). Coordinators: any scope, exact. Association staff: their own association only,
  exact (any other scope: 403). Funders: any scope, small counts shown as ``<5``. No token
  or a bad one: 401; another role: 403; always a JSON ``{"error": …}`` saying why.
- ``GET /exports``: the breakdowns and files on offer.
- ``GET /public/{id}/report.pdf``: a share link's programme-wide report as funders see it,
  without a token (the link's id is its secret, as for ``GET /public/{id}``).
- GraphQL ``exports(filter, lang)``: the download paths for one scope, and whether this
  caller may download them (the dashboard's buttons).

Reporting checks the same rules again with the token the gateway signs for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from enum import Enum
from typing import Any
from urllib.parse import urlencode

import httpx
import strawberry
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from strawberry.types import Info

from contracts.api.reporting import ExportsOffered
from kit.auth import AuthError, Principal, Role, principal_from_header
from kit.settings import Settings

from .context import Context, context_of
from .reporting import ImpactFilter
from .services import Services, UserInputError
from .wire import path_segment

log = logging.getLogger(__name__)

SCOPE_PARAMS = ("association_id", "district_id", "track")
EXPORTERS = (Role.COORDINATOR, Role.ASSOCIATION, Role.FUNDER)
# What the gateway passes on of reporting's answer (the file's type, name, audience); its
# size too unless it came compressed (the bytes are passed on decoded).
PASSED_HEADERS = ("content-type", "content-disposition", "cache-control", "x-dn-suppressed")
UNAVAILABLE = "the reporting service is not answering; try again shortly"
GONE = "no such share link (unknown or revoked)"


# -- who may download what --------------------------------------------------------------------


def scope_of(params: dict[str, str]) -> str:
    """The scope a query names, as reporting spells it: ``all``, ``district:qpv-saige``…"""
    chosen = [
        f"{name.removesuffix('_id')}:{params[name]}" for name in SCOPE_PARAMS if params.get(name)
    ]
    return chosen[0] if len(chosen) == 1 else "all"


def role_refusal(who: Principal) -> str | None:
    """Why ``who``'s role may not download any export (None: it may)."""
    if who.role in EXPORTERS:
        return None
    allowed = ", ".join(role.value for role in EXPORTERS)
    return f"role {who.role.value!r} may not download exports (allowed: {allowed})"


def refusal(who: Principal, params: dict[str, str]) -> str | None:
    """Why ``who`` may not download the files of the scope ``params`` name (None: they may)."""
    if (why := role_refusal(who)) is not None:
        return why
    if who.role is Role.ASSOCIATION and (
        params.get("association_id") != who.association_id
        or any(params.get(name) for name in SCOPE_PARAMS if name != "association_id")
    ):
        return (
            "association staff download only their own association's figures: add "
            f"association_id={who.association_id}"
        )
    return None


def anonymised_for(who: Principal) -> bool:
    """Small counts hidden in this caller's files (funders); exact for the others allowed."""
    return who.role is Role.FUNDER


def error(status: int, message: str) -> JSONResponse:
    headers = {"www-authenticate": "Bearer"} if status == 401 else {}
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# -- passing reporting's answer on ------------------------------------------------------------


async def pass_on(opening: Awaitable[httpx.Response], not_found: str | None = None) -> Response:
    """Reporting's answer to the caller: a file is streamed as it comes, with its type and
    name; a refusal keeps its status and JSON reason (``not_found`` replaces a 404's); a
    failure or silence of reporting is a 503."""
    try:
        answer = await opening
    except httpx.TransportError:
        return error(503, UNAVAILABLE)
    if answer.status_code == 200:
        headers = {name: answer.headers[name] for name in PASSED_HEADERS if name in answer.headers}
        if "content-length" in answer.headers and "content-encoding" not in answer.headers:
            headers["content-length"] = answer.headers["content-length"]
        return StreamingResponse(
            answer.aiter_bytes(), headers=headers, background=BackgroundTask(answer.aclose)
        )
    try:
        body = await answer.aread()
    finally:
        await answer.aclose()
    if answer.status_code >= 500:
        log.warning("reporting answered an export with %s", answer.status_code)
        return error(503, UNAVAILABLE)
    if answer.status_code == 404 and not_found is not None:
        return error(404, not_found)
    try:
        reason = json.loads(body)
    except ValueError:
        reason = {"error": body.decode(errors="replace")}
    return JSONResponse(reason, status_code=answer.status_code)


def exports_router(settings: Settings, services: Services) -> APIRouter:
    router = APIRouter()

    def verified(request: Request) -> Principal | JSONResponse:
        try:
            return principal_from_header(settings, request.headers.get("authorization"))
        except AuthError as refused:
            return error(refused.status, str(refused))

    @router.get("/exports")
    async def list_exports(request: Request) -> Response:
        """The breakdowns and files on offer (bearer token)."""
        who = verified(request)
        if isinstance(who, JSONResponse):
            return who
        if (why := role_refusal(who)) is not None:
            return error(403, why)
        return await pass_on(services.open_stream("reporting", "/exports", on_behalf_of=who))

    @router.get("/exports/{name}", response_model=None)
    async def export(name: str, request: Request) -> Response:
        """One file of one scope's figures, as this caller may see them (module docstring)."""
        who = verified(request)
        if isinstance(who, JSONResponse):
            return who
        params = {
            key: value
            for key in (*SCOPE_PARAMS, "lang")
            if (value := request.query_params.get(key))
        }
        if (why := refusal(who, params)) is not None:
            return error(403, why)
        path = f"/exports/{path_segment(name)}"
        return await pass_on(
            services.open_stream("reporting", path, on_behalf_of=who, params=params)
        )

    @router.get("/public/{link_id}/report.pdf", response_model=None)
    async def public_report(link_id: str, request: Request) -> Response:
        """A share link's programme-wide report (PDF) as funders see it, without a token;
        404 once the link is revoked (or for an unknown id)."""
        if not link_id or len(link_id) > 100:
            return error(404, GONE)
        lang = request.query_params.get("lang", "fr")
        path = f"/share-links/{path_segment(link_id)}/report.pdf"
        opening = services.open_stream("reporting", path, on_behalf_of=None, params={"lang": lang})
        return await pass_on(opening, not_found=GONE)

    return router


# -- GraphQL: the download links of one scope -------------------------------------------------


@strawberry.enum(description="The language of an export")
class ExportLanguage(Enum):
    FR = "fr"
    EN = "en"


@strawberry.type(description="One breakdown's files: paths on the gateway, GET with a token")
class BreakdownExport:
    breakdown: str = strawberry.field(description="district, association, gender, age_band…")
    csv: str
    xlsx: str


@strawberry.type(
    description="Where to download one scope's figures through the gateway: paths to GET with "
    "the same bearer token (Authorization header; a browser fetches them and saves the file)"
)
class ExportLinks:
    scope: str = strawberry.field(description="all, association:<id>, district:<id>, track:<v>")
    allowed: bool = strawberry.field(description="Whether this caller may download them")
    refusal: str | None = strawberry.field(description="Why not, when not allowed")
    anonymised: bool = strawberry.field(description="Small counts shown as <5 in these files")
    report_pdf: str | None = strawberry.field(description="The impact report, A4 PDF")
    report_html: str | None = strawberry.field(description="The impact report, one HTML page")
    workbook: str | None = strawberry.field(
        description="XLSX: summary, every breakdown, weekly series"
    )
    breakdowns: list[BreakdownExport] = strawberry.field(
        description="Each breakdown as CSV and XLSX (empty when not allowed)"
    )


def links_of(
    who: Principal, params: dict[str, str], lang: str, breakdowns: list[str]
) -> ExportLinks:
    """The download paths of the scope ``params`` name, for ``who``."""
    why = refusal(who, params)
    query = "?" + urlencode({**params, "lang": lang})

    def path(name: str) -> str | None:
        return None if why else f"/exports/{name}{query}"

    return ExportLinks(
        scope=scope_of(params),
        allowed=why is None,
        refusal=why,
        anonymised=anonymised_for(who),
        report_pdf=path("report.pdf"),
        report_html=path("report.html"),
        workbook=path("impact.xlsx"),
        breakdowns=[]
        if why
        else [
            BreakdownExport(
                breakdown=name,
                csv=f"/exports/{name}.csv{query}",
                xlsx=f"/exports/{name}.xlsx{query}",
            )
            for name in breakdowns
        ],
    )


@strawberry.type
class ExportsQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Download links of the figures of one scope (the impact filter) as files: "
        "the report (PDF, HTML) and the breakdowns (CSV, XLSX)"
    )
    async def exports(
        self,
        info: Info[Context, Any],
        filter: ImpactFilter | None = None,
        lang: ExportLanguage = ExportLanguage.FR,
    ) -> ExportLinks:
        context = context_of(info)
        who = context.principal
        params = filter.params() if filter is not None else {}
        if len(params) > 1:
            message = "filter by one of associationId, districtId or track at a time"
            raise UserInputError(message, [{"field": "filter", "message": message}])
        offered = await context.fetched("reporting", "/exports", ExportsOffered)
        return links_of(who, params, lang.value, offered.breakdowns)
