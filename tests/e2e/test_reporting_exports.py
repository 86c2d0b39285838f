"""Impact exports from the running platform: CSV per breakdown, XLSX, HTML and PDF reports,
exact for coordinators and an association's own staff (their association only), small counts
hidden for funders, and `dn reporting export`. The same files through the gateway:
test_gateway_exports.py."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from dn.platform import Platform, child_environment
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.conftest import TestInfra, free_port
from tests.e2e.conftest import enrolment, graphql, settled_enrolled, until

pytestmark = pytest.mark.e2e

ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
SAVE_DISTRICT = """
mutation D($id: ID!, $input: DistrictInput!) { saveDistrict(id: $id, input: $input) { id } }"""
SAVE_ASSOCIATION = """
mutation A($id: ID!, $input: AssociationInput!) {
  saveAssociation(id: $id, input: $input) { id } }"""
BY_DISTRICT = """
query I($filter: ImpactFilter) {
  impact(filter: $filter) { enrolled byDistrict { name enrolled } } }"""
PEOPLE_HERE = 3  # under 5: funders must not see it


@dataclass(frozen=True)
class Place:
    """A district and association of this module's own, with three people enrolled there."""

    district_id: str
    district_name: str
    association_id: str


@pytest.fixture(scope="module")
def place(gateway: httpx.Client) -> Place:
    marker = uuid4().hex[:6]
    here = Place(f"qpv-export-{marker}", f"Quartier export {marker}", f"asso-export-{marker}")
    district = {"name": here.district_name, "commune": "Bordeaux", "inseeCode": "33063",
                "qpvCode": f"QN{marker.upper()}"}  # fmt: skip
    association = {"name": f"Association export {marker}", "districts": [here.district_id]}
    for query, variables in (
        (SAVE_DISTRICT, {"id": here.district_id, "input": district}),
        (SAVE_ASSOCIATION, {"id": here.association_id, "input": association}),
    ):
        assert "errors" not in graphql(gateway, query, **variables).json()
    for gender in ("FEMALE", "FEMALE", "MALE"):
        person = enrolment(
            associationId=here.association_id, districtId=here.district_id, gender=gender
        )
        assert "errors" not in graphql(gateway, ENROL, input=person).json()
    counted = until(
        lambda: district_impact(gateway, here.district_id)["enrolled"],
        lambda enrolled: enrolled == PEOPLE_HERE,
    )
    assert counted == PEOPLE_HERE
    settled_enrolled(gateway)
    return here


@pytest.fixture(scope="module")
def reporting(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.settings.service_url("reporting"), timeout=60) as client:
        yield client


def district_impact(gateway: httpx.Client, district_id: str) -> dict[str, Any]:
    body = graphql(gateway, BY_DISTRICT, filter={"districtId": district_id}).json()
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["impact"]
    return found


def export(
    reporting: httpx.Client,
    settings: Settings,
    route: str,
    role: Role = Role.COORDINATOR,
    of_association: str | None = None,
    **params: str,
) -> httpx.Response:
    """GET an export as ``role`` (staff ``of_association``); ``params``: the query."""
    token = issue_token(settings, role, association_id=of_association, audience="reporting")
    return reporting.get(route, params=params, headers={"authorization": f"Bearer {token}"})


def table(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def row_of(lines: list[list[str]], name: str) -> list[str]:
    return next(line for line in lines if line[0] == name)


def test_coordinator_csv_has_the_exact_counts_graphql_shows_by_district(
    gateway: httpx.Client, reporting: httpx.Client, settings: Settings, place: Place
) -> None:
    response = export(reporting, settings, "/exports/district.csv", lang="en")
    by_district = graphql(gateway, BY_DISTRICT).json()["data"]["impact"]["byDistrict"]

    lines = table(response)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="impact-all-district-')
    assert disposition.endswith('.csv"')
    assert response.headers["x-dn-suppressed"] == "false"
    assert lines[0][:5] == ["District", "Enrolled", "Attended a session", "Trained",
                            "Directed towards employment"]  # fmt: skip
    # Districts where people enrolled (a district with sessions only has a row of zeros).
    exported = {line[0]: int(line[1]) for line in lines[1:-1] if line[0] != "Unknown"}
    exported = {name: enrolled for name, enrolled in exported.items() if enrolled}
    shown = {d["name"]: d["enrolled"] for d in by_district if d["enrolled"]}
    shown.pop("Unknown district", None)
    assert exported == shown
    assert row_of(lines, place.district_name)[1] == str(PEOPLE_HERE)
    assert lines[-1][0] == "Total"


def test_funders_see_counts_under_five_as_below_five(
    reporting: httpx.Client, settings: Settings, place: Place
) -> None:
    everywhere = export(reporting, settings, "/exports/district.csv", Role.FUNDER, lang="en")
    in_district = export(
        reporting, settings, "/exports/gender.csv", Role.FUNDER, district_id=place.district_id
    )

    assert everywhere.headers["x-dn-suppressed"] == "true"
    assert row_of(table(everywhere), place.district_name)[1] == "<5"
    by_gender = table(in_district)
    assert by_gender[0][0] == "Genre", "French unless asked otherwise"
    assert row_of(by_gender, "Femmes")[1] == "<5"
    assert row_of(by_gender, "Hommes")[1] == "<5"
    assert row_of(by_gender, "Total")[1] == "<5"
    assert str(PEOPLE_HERE) not in {line[1] for line in by_gender[1:]}


def test_association_staff_export_their_own_association_exactly_and_nothing_else(
    reporting: httpx.Client, settings: Settings, place: Place
) -> None:
    staff = (Role.ASSOCIATION, place.association_id)

    own = export(reporting, settings, "/exports/gender.csv", *staff,
                 association_id=place.association_id, lang="en")  # fmt: skip
    programme = export(reporting, settings, "/exports/district.csv", *staff, lang="en")

    assert own.headers["x-dn-suppressed"] == "false"
    assert row_of(table(own), "Total")[1] == str(PEOPLE_HERE)
    assert programme.status_code == 403
    assert f"association_id={place.association_id}" in programme.json()["error"]


def test_unknown_breakdowns_and_callers_are_refused_with_a_reason(
    reporting: httpx.Client, settings: Settings
) -> None:
    unknown = export(reporting, settings, "/exports/postcode.csv")
    anonymous = reporting.get("/exports/district.csv")
    partner = export(reporting, settings, "/exports/district.csv", Role.PARTNER, "asso-x")
    two_filters = export(
        reporting, settings, "/exports/district.csv", district_id="a", association_id="b"
    )

    assert unknown.status_code == 404
    assert "district, association, gender, age_band, track" in unknown.json()["error"]
    assert anonymous.status_code == 401
    assert partner.status_code == 403
    assert two_filters.status_code == 422
    assert "one of" in two_filters.json()["error"]


def test_the_workbook_opens_with_a_sheet_per_breakdown(
    reporting: httpx.Client, settings: Settings, place: Place
) -> None:
    response = export(reporting, settings, "/exports/impact.xlsx", lang="en")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[:3] == ["Summary", "By district", "By association"]
    assert {"By cohort (month of enrolment)", "People trained per week"} <= set(book.sheetnames)
    districts = {row[0]: row[1] for row in book["By district"].iter_rows(values_only=True)}
    assert districts[place.district_name] == PEOPLE_HERE
    one = export(reporting, settings, "/exports/track.xlsx", Role.FUNDER, lang="en")
    assert load_workbook(io.BytesIO(one.content)).sheetnames == ["Summary", "By track"]


def test_the_report_as_html_with_charts_and_as_pdf(
    reporting: httpx.Client, settings: Settings, place: Place
) -> None:
    html = export(reporting, settings, "/exports/report.html", Role.FUNDER, lang="en",
                  district_id=place.district_id)  # fmt: skip
    pdf = export(reporting, settings, "/exports/report.pdf", Role.FUNDER, lang="en",
                 district_id=place.district_id)  # fmt: skip

    assert html.status_code == 200, html.text
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert "<svg" in html.text
    assert "<h1>Impact report</h1>" in html.text
    assert f"District: {place.district_name}" in html.text
    assert "&lt;5" in html.text
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith(
        f'inline; filename="impact-district-{place.district_id}-report-'
    )
    assert pdf.content.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Impact report" in text
    assert place.district_name in text


def test_dn_reporting_export_writes_the_file_or_says_the_platform_is_down(
    platform: Platform, settings: Settings, infra: TestInfra, place: Place, tmp_path: Path
) -> None:
    env = child_environment(settings, infra.mongodb_url, infra.kafka_bootstrap)
    dn = str(Path(sys.executable).with_name("dn"))
    command = [dn, "reporting", "export", "--format", "csv", "--breakdown", "gender",
               "--district", place.district_id, "--as", "funder", "--lang", "en"]  # fmt: skip

    written = subprocess.run(
        [*command, "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
    )
    down = subprocess.run(
        [*command, "--out", str(tmp_path / "none.csv")],
        capture_output=True, text=True, timeout=120,
        env={**env, "DN_REPORTING_PORT": str(free_port())},
    )  # fmt: skip

    assert written.returncode == 0, written.stdout + written.stderr
    (file,) = tmp_path.glob("impact-district-*-gender-*.csv")
    assert "small counts shown as <5" in written.stdout
    assert file.read_text(encoding="utf-8").splitlines()[-1].startswith("Total,<5,")
    assert down.returncode == 2
    assert "does not answer" in down.stdout
    assert "make up" in down.stdout
    assert not (tmp_path / "none.csv").exists()
