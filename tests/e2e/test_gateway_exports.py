"""The figures as files through the gateway (``GET /exports/{name}``, the only published port):
a coordinator gets the report and the breakdowns exactly, a funder with small counts shown as
<5, association staff their own association only; no token is a 401, another scope a 403, each
with a JSON reason; GraphQL ``exports`` gives the download paths; a share link's public PDF
needs no token and stops with the link."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import graphql
from tests.e2e.test_reporting_exports import PEOPLE_HERE, Place, place, row_of

pytestmark = pytest.mark.e2e
__all__ = ["place"]  # the module's three people in a district and association of their own

EXPORTS = """query X($filter: ImpactFilter, $lang: ExportLanguage) {
  exports(filter: $filter, lang: $lang) {
    scope allowed refusal anonymised reportPdf workbook breakdowns { breakdown csv xlsx } } }"""
CREATE = 'mutation { createShareLink(label: "Exports") { id } }'
REVOKE = "mutation R($id: ID!) { revokeShareLink(id: $id) { active } }"


@pytest.fixture(scope="module")
def as_role(platform: Platform, settings: Settings) -> Iterator[Any]:
    """``as_role(role, association=None)``: a gateway client with that person's token."""
    clients: list[httpx.Client] = []

    def client(role: Role, association: str | None = None) -> httpx.Client:
        token = issue_token(settings, role, association_id=association, subject=f"t-{role}")
        opened = httpx.Client(
            base_url=platform.settings.gateway_url,
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        clients.append(opened)
        return opened

    yield client
    for opened in clients:
        opened.close()


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_row(text: str, name: str) -> list[str]:
    """The figures after ``name`` in a PDF's text (its first table row: pypdf gives each cell
    a line): enrolled, attended, trained, directed towards employment."""
    lines = [line.strip() for line in text.splitlines()]
    start = lines.index(name) + 1
    return lines[start : start + 4]


def table(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def test_a_coordinator_downloads_the_report_and_a_breakdown_exactly(
    gateway: httpx.Client, place: Place
) -> None:
    in_district = {"district_id": place.district_id, "lang": "en"}

    pdf = gateway.get("/exports/report.pdf", params=in_district, timeout=60)
    districts = gateway.get("/exports/district.csv", params={"lang": "en"}, timeout=60)

    text = pdf_text(pdf)
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith(f'inline; filename="impact-district-{place.district_id}-report-')
    assert pdf.headers["x-dn-suppressed"] == "false"
    assert int(pdf.headers["content-length"]) == len(pdf.content)
    assert f"Scope: District: {place.district_name}" in text
    assert pdf_row(text, "Total")[0] == str(PEOPLE_HERE)
    assert "Period: 2026-01-05 to " in text  # the programme's start, to the day taken
    assert "Figures taken on " in text
    assert districts.headers["content-type"] == "text/csv; charset=utf-8"
    assert districts.headers["content-disposition"].startswith(
        'attachment; filename="impact-all-district-'
    )
    assert row_of(table(districts), place.district_name)[1] == str(PEOPLE_HERE)


def test_a_funder_s_report_and_breakdown_show_small_counts_as_below_five(
    as_role: Any, place: Place
) -> None:
    funder = as_role(Role.FUNDER)

    pdf = funder.get("/exports/report.pdf", params={"lang": "en"})
    districts = funder.get("/exports/district.xlsx", params={"lang": "en"})
    genders = funder.get("/exports/gender.csv", params={"district_id": place.district_id})

    text = pdf_text(pdf)
    assert pdf.headers["x-dn-suppressed"] == "true"
    assert 'Anonymised figures: counts from 1 to 4 are shown as "<5".' in text
    enrolled, *_ = pdf_row(text, place.district_name)
    assert enrolled == "<5"
    assert districts.status_code == 200, districts.text
    assert districts.headers["content-disposition"].endswith('.xlsx"')
    by_gender = table(genders)
    assert row_of(by_gender, "Total")[1] == "<5"
    assert genders.headers["x-dn-suppressed"] == "true"


def test_association_staff_download_their_own_association_and_no_other_scope(
    as_role: Any, place: Place
) -> None:
    staff = as_role(Role.ASSOCIATION, place.association_id)

    own = staff.get("/exports/gender.csv", params={"association_id": place.association_id})
    other = staff.get("/exports/report.pdf", params={"association_id": "asso-saige-en-ligne"})
    district = staff.get("/exports/district.csv", params={"district_id": place.district_id})
    programme = staff.get("/exports/district.csv")

    assert own.headers["x-dn-suppressed"] == "false"
    assert row_of(table(own), "Total")[1] == str(PEOPLE_HERE)
    for refused in (other, district, programme):
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/json"
        assert f"association_id={place.association_id}" in refused.json()["error"]


def test_no_token_a_bad_token_or_another_role_is_refused_with_a_reason(
    platform: Platform, as_role: Any, gateway: httpx.Client
) -> None:
    with httpx.Client(base_url=platform.settings.gateway_url) as anonymous:
        nobody = anonymous.get("/exports/report.pdf")
        forged = anonymous.get(
            "/exports/report.pdf", headers={"authorization": "Bearer not-a-token"}
        )
        in_address = anonymous.get(
            "/exports/report.pdf", params={"token": "x", "access_token": "x"}
        )
    partner = as_role(Role.PARTNER, "asso-saige-en-ligne").get("/exports/district.csv")
    unknown = gateway.get("/exports/postcode.csv")

    for refused in (nobody, forged, in_address):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "token" in refused.json()["error"]
    assert "Authorization" in nobody.json()["error"]
    assert partner.status_code == 403
    assert "'partner' may not download exports" in partner.json()["error"]
    assert unknown.status_code == 404
    assert "the breakdowns: district, association" in unknown.json()["error"]


def test_graphql_gives_the_download_paths_of_a_scope_and_who_may_use_them(
    gateway: httpx.Client, as_role: Any, place: Place
) -> None:
    scope = {"districtId": place.district_id}
    staff = as_role(Role.ASSOCIATION, place.association_id)

    body = graphql(gateway, EXPORTS, filter=scope, lang="EN").json()
    refused = graphql(staff, EXPORTS, filter=scope).json()["data"]["exports"]
    funders = graphql(as_role(Role.FUNDER), EXPORTS).json()["data"]["exports"]

    assert "errors" not in body, body
    links = body["data"]["exports"]
    assert links["scope"] == f"district:{place.district_id}"
    assert links["allowed"] is True
    assert links["anonymised"] is False
    query = f"?district_id={place.district_id}&lang=en"
    assert links["reportPdf"] == f"/exports/report.pdf{query}"
    by_gender = next(b for b in links["breakdowns"] if b["breakdown"] == "gender")
    assert by_gender == {"breakdown": "gender", "csv": f"/exports/gender.csv{query}",
                         "xlsx": f"/exports/gender.xlsx{query}"}  # fmt: skip
    assert row_of(table(gateway.get(by_gender["csv"])), "Total")[1] == str(PEOPLE_HERE)
    assert refused["allowed"] is False
    assert refused["reportPdf"] is None
    assert refused["breakdowns"] == []
    assert "own association" in refused["refusal"]
    assert funders["allowed"] is True
    assert funders["anonymised"] is True


def test_a_share_link_s_public_report_needs_no_token_and_ends_with_the_link(
    platform: Platform, gateway: httpx.Client, place: Place
) -> None:
    link = graphql(gateway, CREATE).json()["data"]["createShareLink"]["id"]
    with httpx.Client(base_url=platform.settings.gateway_url, timeout=60) as anonymous:
        shared = anonymous.get(f"/public/{link}/report.pdf", params={"lang": "en"})
        assert (
            graphql(gateway, REVOKE, id=link).json()["data"]["revokeShareLink"]["active"] is False
        )
        revoked = anonymous.get(f"/public/{link}/report.pdf")
        unknown = anonymous.get("/public/no-such-link/report.pdf")

    text = pdf_text(shared)
    assert shared.headers["x-dn-suppressed"] == "true"
    assert "Scope: Whole programme" in text
    assert pdf_row(text, place.district_name)[0] == "<5"
    for gone in (revoked, unknown):
        assert gone.status_code == 404
        assert gone.json() == {"error": "no such share link (unknown or revoked)"}
