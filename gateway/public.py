"""What a share link opens without a token: ``GET /public/{id}``, the programme-wide figures in
the shape of a funder's GraphQL ``impact`` answer (small counts hidden; aggregates only, no
person), or, for a browser, the dashboard showing them (``/?share={id}``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import strawberry
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from contracts.api.reporting import ImpactAnswer

from .reporting import Impact, impact_of
from .services import ServiceAnswerInvalid, Services, ServiceUnavailable
from .share_links import dashboard_path
from .wire import path_segment

log = logging.getLogger(__name__)

# Everything the public figures show, named as in GraphQL (``...cell``: a breakdown cell's
# figures). Only aggregate types are reachable from Impact (tests/unit/test_public_figures.py
# checks it), and reporting hides the small counts.
CELL = "enrolled attended trained directedToEmployment attendanceRate suppressed { field shown }"
REACH = "peopleReached anonymousAttendees"
PUBLIC_IMPACT = """{ impact {
  enrolled trained directedToEmployment associationsUpskilled peopleReached anonymousAttendees
  womenShareCareers womenShareGoal
  targets { trained directedToEmployment associationsUpskilled }
  progress { indicator target baseline actual share weeklyPace forecastOn onTrack
             suppressed { field shown } }
  funnel { stage count suppressed { field shown } }
  attendanceRate noShowRate withdrawn atRisk
  directedByOutcome { outcomeClass people }
  skillGain { area averageLevelsGained competencesAssessed }
  byDistrict { districtId name ...cell ...reach }
  byAssociation { associationId name ...cell ...reach }
  byGender { gender ...cell }
  byAgeBand { ageBand ...cell }
  byTrack { track ...cell }
  cohorts { month ...cell }
  weekly { week enrolled trained directedToEmployment sessionsPresent attendingNew
           attendingReturning cumulativeEnrolled cumulativeTrained
           cumulativeDirectedToEmployment suppressed { field shown } }
  freshness { lastEventTime lagSeconds p50Seconds p99Seconds }
  updatedAt anonymised suppressed { field shown }
} }""".replace("...cell", CELL).replace("...reach", REACH)
GONE = {"error": "no such share link (unknown or revoked)"}
UNAVAILABLE = {"error": "the figures are not available; try again shortly"}


@strawberry.type(description="What a share link opens: the programme-wide figures, anonymised")
class PublicFigures:
    impact: Impact


PUBLIC_SCHEMA = strawberry.Schema(query=PublicFigures)


async def public_figures(services: Services, link_id: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON of ``GET /public/{id}``: the figures (200), 404 for an unknown or
    revoked link (no detail), 503 when reporting or registration does not answer (or answers
    outside its contract)."""
    if not link_id or len(link_id) > 100:
        return 404, GONE
    try:
        shared, districts, associations = await asyncio.gather(
            services.get_unattended("reporting", f"/share-links/{path_segment(link_id)}/impact"),
            services.reference.get("districts"),
            services.reference.get("associations"),
        )
    except (httpx.HTTPError, ServiceUnavailable, ServiceAnswerInvalid):
        return 503, UNAVAILABLE
    if shared.status_code == 404:
        return 404, GONE
    if shared.status_code != 200:
        return 503, UNAVAILABLE
    impact = impact_of(ImpactAnswer.model_validate(shared.json()), districts, associations)
    if not impact.anonymised:  # never exact small counts on a public path, whatever happens
        log.error("reporting answered share link figures that are not anonymised")
        return 503, UNAVAILABLE
    result = await PUBLIC_SCHEMA.execute(PUBLIC_IMPACT, root_value=PublicFigures(impact=impact))
    if result.errors or result.data is None:
        log.error("public figures could not be shaped: %s", result.errors)
        return 503, UNAVAILABLE
    figures: dict[str, Any] = result.data["impact"]
    return 200, figures


def wants_page(accept: str) -> bool:
    """A browser opening the link (it asks for text/html) gets the dashboard; scripts (curl,
    httpx, fetch with ``accept: application/json``) get the JSON."""
    return "text/html" in accept.lower()


def public_router(services: Services) -> APIRouter:
    router = APIRouter()

    @router.get("/public/{link_id}", response_model=None)
    async def public(link_id: str, request: Request) -> Response:
        """The programme figures a share link opens, as funders see them (small counts
        hidden), without a token; 404 once the link is revoked (or for an unknown id)."""
        headers = {"cache-control": "no-store", "vary": "accept", "referrer-policy": "no-referrer"}
        if wants_page(request.headers.get("accept", "")):
            return RedirectResponse(dashboard_path(link_id), status_code=303, headers=headers)
        status, body = await public_figures(services, link_id)
        return JSONResponse(body, status_code=status, headers=headers)

    return router
