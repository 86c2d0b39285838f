"""The gateway's exports (``GET /exports/{name}``), reporting answered by a stand-in: who may
download which scope, what is passed on of reporting's file and refusals, and the GraphQL
download links."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.exports import exports_router, links_of, refusal, scope_of
from gateway.services import Services
from kit.auth import Principal, Role, issue_token
from kit.settings import Settings

SETTINGS = Settings(jwt_secret="x" * 48)
COORDINATOR = Principal("c", Role.COORDINATOR)
FUNDER = Principal("f", Role.FUNDER)
STAFF = Principal("s", Role.ASSOCIATION, "asso-a")
PDF = b"%PDF-1.4 the report"
Reporting = Callable[[httpx.Request], httpx.Response]


def a_file(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        content=PDF,
        headers={
            "content-type": "application/pdf",
            "content-disposition": 'inline; filename="impact-all-report-2026-03-12.pdf"',
            "x-dn-suppressed": "true",
            "x-internal": "not for callers",
        },
    )


@pytest.fixture
def asked() -> list[httpx.Request]:
    return []


@pytest.fixture
def gateway(asked: list[httpx.Request]) -> Callable[[Reporting], TestClient]:
    def with_reporting(reporting: Reporting) -> TestClient:
        def answer(request: httpx.Request) -> httpx.Response:
            asked.append(request)
            return reporting(request)

        app = FastAPI()
        app.include_router(
            exports_router(SETTINGS, Services(SETTINGS, transport=httpx.MockTransport(answer)))
        )
        return TestClient(app)

    return with_reporting


def bearer(role: Role, association: str | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SETTINGS, role, association_id=association)}"}


def test_coordinators_and_funders_may_download_any_scope_association_staff_their_own() -> None:
    own = {"association_id": "asso-a"}

    assert refusal(COORDINATOR, {"district_id": "qpv-saige"}) is None
    assert refusal(FUNDER, {}) is None
    assert refusal(STAFF, own) is None
    for other in ({}, {"association_id": "asso-b"}, {"district_id": "qpv-saige"},
                  {"association_id": "asso-a", "track": "digital_careers"}):  # fmt: skip
        assert "association_id=asso-a" in (refusal(STAFF, other) or ""), other
    assert "may not download" in (refusal(Principal("p", Role.PARTNER, "asso-a"), own) or "")
    assert scope_of({"district_id": "qpv-saige"}) == "district:qpv-saige"
    assert scope_of({}) == "all"


def test_the_file_is_passed_on_with_its_type_and_name_for_the_caller_alone(
    gateway: Callable[[Reporting], TestClient], asked: list[httpx.Request]
) -> None:
    client = gateway(a_file)

    answer = client.get(
        "/exports/report.pdf",
        params={"district_id": "qpv-saige", "lang": "en", "token": "x", "other": "y"},
        headers=bearer(Role.FUNDER),
    )

    assert answer.status_code == 200
    assert answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith('inline; filename="impact-all-report')
    assert answer.headers["x-dn-suppressed"] == "true"
    assert "x-internal" not in answer.headers
    (request,) = asked
    assert request.url.path == "/exports/report.pdf"
    assert dict(request.url.params) == {"district_id": "qpv-saige", "lang": "en"}
    sent = request.headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(sent, options={"verify_signature": False})
    assert claims["aud"] == "dn:reporting"  # signed for reporting, on the funder's behalf
    assert claims["role"] == "funder"


def test_refusals_are_json_with_a_reason_and_reporting_is_not_asked(
    gateway: Callable[[Reporting], TestClient], asked: list[httpx.Request]
) -> None:
    client = gateway(a_file)

    nobody = client.get("/exports/report.pdf")
    bad = client.get("/exports/report.pdf", headers={"authorization": "Bearer nope"})
    partner = client.get("/exports/district.csv", headers=bearer(Role.PARTNER, "asso-a"))
    other = client.get(
        "/exports/district.csv",
        params={"association_id": "asso-b"},
        headers=bearer(Role.ASSOCIATION, "asso-a"),
    )

    for refused, status in ((nobody, 401), (bad, 401), (partner, 403), (other, 403)):
        assert refused.status_code == status
        assert refused.json()["error"]
    assert nobody.headers["www-authenticate"] == "Bearer"
    assert "association_id=asso-a" in other.json()["error"]
    assert asked == []


def test_reporting_s_refusals_pass_on_and_its_failures_are_a_503(
    gateway: Callable[[Reporting], TestClient],
) -> None:
    def refusing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/exports/postcode.csv":
            return httpx.Response(404, json={"error": "no breakdown 'postcode'"})
        return httpx.Response(500, text="Internal Server Error")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    headers = bearer(Role.COORDINATOR)

    unknown = gateway(refusing).get("/exports/postcode.csv", headers=headers)
    failing = gateway(refusing).get("/exports/report.pdf", headers=headers)
    silent = gateway(down).get("/exports/report.pdf", headers=headers)

    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no breakdown 'postcode'"}
    for answer in (failing, silent):
        assert answer.status_code == 503
        assert "not answering" in answer.json()["error"]


def test_a_share_link_s_pdf_is_asked_with_the_gateway_s_own_token_and_ends_with_it(
    gateway: Callable[[Reporting], TestClient], asked: list[httpx.Request]
) -> None:
    def links(request: httpx.Request) -> httpx.Response:
        if "/share-links/live/" in request.url.path:
            return a_file(request)
        return httpx.Response(404, json={"error": "no such share link, or it was revoked"})

    client = gateway(links)

    shared = client.get("/public/live/report.pdf", params={"lang": "en"})
    revoked = client.get("/public/gone/report.pdf")

    assert shared.status_code == 200
    assert shared.content == PDF
    assert asked[0].url.path == "/share-links/live/report.pdf"
    claims = jwt.decode(
        asked[0].headers["authorization"].removeprefix("Bearer "),
        options={"verify_signature": False},
    )
    assert claims["role"] == "service"
    assert revoked.status_code == 404
    assert revoked.json() == {"error": "no such share link (unknown or revoked)"}


def test_graphql_links_name_the_scope_and_language_or_say_why_not() -> None:
    allowed = links_of(FUNDER, {"district_id": "qpv-saige"}, "en", ["district", "gender"])
    refused = links_of(STAFF, {}, "fr", ["district"])

    assert allowed.allowed is True
    assert allowed.anonymised is True
    assert allowed.scope == "district:qpv-saige"
    assert allowed.report_pdf == "/exports/report.pdf?district_id=qpv-saige&lang=en"
    assert allowed.workbook == "/exports/impact.xlsx?district_id=qpv-saige&lang=en"
    assert [b.csv for b in allowed.breakdowns] == [
        "/exports/district.csv?district_id=qpv-saige&lang=en",
        "/exports/gender.csv?district_id=qpv-saige&lang=en",
    ]
    assert refused.allowed is False
    assert refused.report_pdf is None
    assert refused.breakdowns == []
    assert refused.refusal is not None
