"""A share link's public figures (``GET /public/{id}``): the GraphQL Impact shape the dashboard
reads, anonymised, with no type or field that could carry a person."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from graphql import FieldNode, GraphQLObjectType, OperationDefinitionNode, SelectionSetNode, parse

from contracts.api.registration import DistrictView
from gateway.app import DASHBOARD
from gateway.public import PUBLIC_IMPACT, PUBLIC_SCHEMA, public_figures, wants_page
from gateway.services import Services
from gateway.share_links import ShareLink
from kit.settings import Settings
from services.reporting.anonymised import anonymise
from tests.unit.test_anonymised_impact import answer

PERSONAL = {"id", "firstName", "lastName", "birthYear", "phone", "email", "beneficiaryId",
            "beneficiary", "beneficiaries", "employer", "notes", "address"}  # fmt: skip


def district(district_id: str, name: str) -> DistrictView:
    """A district as registration answers it (contracts.api.registration)."""
    return DistrictView(
        id=district_id, name=name, commune="Bordeaux", insee_code="33063", qpv_code="QN03301M"
    )


DISTRICTS = [district("a", "Saige"), district("b", "Aubiers")]


def reporting_answer() -> dict[str, Any]:
    """Reporting's exact ``GET /impact`` answer (tests/unit/test_anonymised_impact.py's, with
    what the contract, contracts.api.reporting.ImpactAnswer, adds around the figures)."""
    exact = answer()
    return {
        **exact,
        "scope": "all",
        "version": 1,
        "women_share_goal": 0.4,
        "freshness": {
            "last_event_time": "2026-03-02T08:59:58+00:00",
            "lag_seconds": 0.05,
            "samples": 12,
            "p50_seconds": 0.04,
            "p99_seconds": 0.09,
        },
        "targets": {"trained": 500, "directed_to_employment": 50, "associations_upskilled": 5},
        "progress": [{**row, "on_track": False} for row in exact["progress"]],
        "updated_at": "2026-03-02T09:00:00+00:00",
    }


def paths(selection: SelectionSetNode | None, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for node in selection.selections if selection else ():
        assert isinstance(node, FieldNode)
        path = f"{prefix}.{node.name.value}" if prefix else node.name.value
        found |= {path} | paths(node.selection_set, path)
    return found


def selected(query: str) -> set[str]:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return paths(operation.selection_set)


def services(reporting: Callable[[httpx.Request], httpx.Response]) -> Services:
    def answer_for(request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/districts", "/associations"):
            districts = [district.model_dump() for district in DISTRICTS]
            return httpx.Response(200, json=districts if "districts" in request.url.path else [])
        return reporting(request)

    settings = Settings(jwt_secret="x" * 48)
    return Services(settings, transport=httpx.MockTransport(answer_for))


def test_no_type_reachable_from_the_public_figures_can_carry_a_person() -> None:
    schema = PUBLIC_SCHEMA._schema
    types = {t.name for t in schema.type_map.values() if isinstance(t, GraphQLObjectType)}
    fields = {
        field for t in schema.type_map.values() if isinstance(t, GraphQLObjectType)
        for field in t.fields
    }  # fmt: skip

    assert not {"Beneficiary", "Attendance", "Placement", "Session"} & types
    assert not PERSONAL & fields


def test_the_public_figures_hold_everything_the_dashboard_renders() -> None:
    page = DASHBOARD.read_text(encoding="utf-8")
    fields = re.search(r"const IMPACT_FIELDS = `(.*?)`;", page, flags=re.S)
    assert fields, "dashboard.html no longer names its IMPACT_FIELDS"

    missing = selected("{ impact { " + fields.group(1) + " } }") - selected(PUBLIC_IMPACT)

    assert not missing, f"the dashboard reads fields the public figures lack: {missing}"


async def test_a_link_s_figures_come_in_the_graphql_shape_with_small_counts_hidden() -> None:
    asked: list[str] = []

    def reporting(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode())
        return httpx.Response(200, json=anonymise(reporting_answer()))

    status, figures = await public_figures(services(reporting), "link/../x")

    assert status == 200
    assert asked == ["/share-links/link%2F..%2Fx/impact"]
    assert figures["anonymised"] is True
    assert (figures["enrolled"], figures["trained"]) == (23, 8)
    small = next(d for d in figures["byDistrict"] if d["districtId"] == "b")
    assert small == {"districtId": "b", "name": "Aubiers", "enrolled": None, "attended": None,
                     "trained": None, "directedToEmployment": 0, "attendanceRate": None,
                     "peopleReached": None, "anonymousAttendees": None,
                     "suppressed": small["suppressed"]}  # fmt: skip
    assert {"field": "enrolled", "shown": "<5"} in small["suppressed"]
    assert {"field": "peopleReached", "shown": "s"} in small["suppressed"]
    assert (figures["peopleReached"], figures["anonymousAttendees"]) == (37, 14)
    assert figures["funnel"][1] == {"stage": "placed", "count": None,
                                    "suppressed": [{"field": "count", "shown": "<5"}]}  # fmt: skip


async def test_exact_figures_are_never_served_on_the_public_path() -> None:
    status, body = await public_figures(
        services(lambda _: httpx.Response(200, json=reporting_answer())), "link"
    )

    assert status == 503
    assert "enrolled" not in body


async def test_an_unknown_or_revoked_link_is_404_and_a_silent_reporting_503() -> None:
    def refuse(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    gone = services(lambda _: httpx.Response(404, json={"error": "no such share link"}))

    assert (await public_figures(gone, "link"))[0] == 404
    assert (await public_figures(gone, ""))[0] == 404
    assert (await public_figures(services(refuse), "link"))[0] == 503
    assert (await public_figures(services(lambda _: httpx.Response(500)), "link"))[0] == 503


def test_a_browser_is_sent_to_the_dashboard_and_scripts_get_json() -> None:
    assert wants_page("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    assert not wants_page("*/*")
    assert not wants_page("application/json")
    link = ShareLink.of({"id": "abc_-1", "label": "Board", "created_by": "c",
                         "created_at": "2026-03-02T09:00:00+00:00", "revoked_at": None,
                         "active": True})  # fmt: skip
    assert (link.path, link.dashboard_path) == ("/public/abc_-1", "/?share=abc_-1")
