"""Share links on the running platform: ``GET /public/{id}`` answers, without a token, the same
figures as a funder's GraphQL ``impact`` (small counts hidden, no person in it), sends a
browser to the dashboard, and answers 404 once the link is revoked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dn.platform import Platform
from gateway.public import PUBLIC_IMPACT
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import enrolled, enrolment, graphql, settled_enrolled, until

pytestmark = pytest.mark.e2e
CREATE = 'mutation { createShareLink(label: "Funders\' board") { id path dashboardPath active } }'
REVOKE = "mutation R($id: ID!) { revokeShareLink(id: $id) { active } }"
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
PERSONAL_FIELDS = {"id", "firstName", "lastName", "birthYear", "phone", "email", "beneficiaryId",
                   "beneficiary", "employer", "address", "consent"}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def five_enrolled(gateway: httpx.Client) -> None:
    """At least 5 people in the programme, so its totals are shown exactly (run alone, this
    module starts on an empty platform)."""
    at_least_five_enrolled(gateway)


def at_least_five_enrolled(gateway: httpx.Client) -> None:
    missing = 5 - settled_enrolled(gateway)
    for _ in range(missing):
        made = graphql(gateway, ENROL, input=enrolment()).json()
        assert "errors" not in made, made
    if missing > 0:
        until(lambda: enrolled(gateway), lambda count: count >= 5)


@pytest.fixture(scope="module")
def public(platform: Platform) -> Iterator[httpx.Client]:
    """A client without any token, as a funder's script would be."""
    with httpx.Client(base_url=platform.settings.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def funder(platform: Platform, settings: Settings) -> Iterator[httpx.Client]:
    token = issue_token(settings, Role.FUNDER, subject="t-funder")
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=platform.settings.gateway_url, headers=headers) as client:
        yield client


def share_link(gateway: httpx.Client) -> dict[str, Any]:
    made = graphql(gateway, CREATE).json()
    assert "errors" not in made, made
    link: dict[str, Any] = made["data"]["createShareLink"]
    return link


def funders_impact(funder: httpx.Client) -> dict[str, Any]:
    body = graphql(funder, PUBLIC_IMPACT).json()
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["impact"]
    return answer


def without_freshness(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures without what moves by itself (delay percentiles of the latest events)."""
    return {name: value for name, value in figures.items() if name != "freshness"}


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys(item)}
    return set()


def test_a_share_link_answers_the_funders_anonymised_impact_without_a_token(
    public: httpx.Client, gateway: httpx.Client, funder: httpx.Client
) -> None:
    link = share_link(gateway)
    assert link["dashboardPath"] == f"/?share={link['id']}"

    answered = public.get(link["path"])

    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("application/json")
    assert answered.headers["cache-control"] == "no-store"
    figures = answered.json()
    assert figures["anonymised"] is True
    assert {"enrolled", "progress", "funnel", "byDistrict", "byGender", "weekly"} <= set(figures)
    agreed = until(
        lambda: (
            without_freshness(public.get(link["path"]).json()),
            without_freshness(funders_impact(funder)),
        ),
        lambda pair: pair[0] == pair[1],
    )
    assert agreed[0] == agreed[1], "the public figures differ from the funder's GraphQL impact"


def test_small_counts_are_hidden_and_no_person_appears_on_the_public_path(
    public: httpx.Client, gateway: httpx.Client
) -> None:
    link = share_link(gateway)
    person = enrolment(
        gender="NON_BINARY",
        birthYear=dt.date.today().year - 70,
        email=f"share-{uuid4().hex[:10]}@example.org",
    )
    before = public.get(link["path"]).json()["enrolled"]
    made = graphql(gateway, ENROL, input=person).json()
    assert "errors" not in made, made
    person_id = made["data"]["enrolBeneficiary"]["id"]
    until(lambda: public.get(link["path"]).json()["enrolled"], lambda n: n > before)
    exact = graphql(
        gateway, "{ impact { byGender { gender enrolled } byAgeBand { ageBand enrolled } } }"
    ).json()["data"]["impact"]

    answered = public.get(link["path"])

    figures = answered.json()
    shown = {("gender", g["gender"]): g for g in figures["byGender"]}
    shown |= {("age band", a["ageBand"]): a for a in figures["byAgeBand"]}
    counts = {("gender", g["gender"]): g["enrolled"] for g in exact["byGender"]}
    counts |= {("age band", a["ageBand"]): a["enrolled"] for a in exact["byAgeBand"]}
    small = [cell for cell, count in counts.items() if 0 < count < 5]
    assert small, "the new person's gender or age band should be a small cell"
    for cell in small:
        assert shown[cell]["enrolled"] is None, cell
        assert {"field": "enrolled", "shown": "<5"} in shown[cell]["suppressed"], cell
    assert not PERSONAL_FIELDS & keys(figures)
    for personal in (person_id, person["firstName"], person["lastName"], person["phone"],
                     person["email"]):  # fmt: skip
        assert personal not in answered.text


def test_a_browser_opening_a_link_is_sent_to_the_dashboard_and_a_revoked_link_is_404(
    public: httpx.Client, gateway: httpx.Client
) -> None:
    link = share_link(gateway)
    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

    opened = public.get(link["path"], headers=browser)

    assert opened.status_code == 303
    assert opened.headers["location"] == link["dashboardPath"]
    page = public.get(opened.headers["location"])
    assert page.status_code == 200
    assert "<html" in page.text
    revoked = graphql(gateway, REVOKE, id=link["id"]).json()
    assert revoked["data"]["revokeShareLink"]["active"] is False
    gone = public.get(link["path"])
    assert gone.status_code == 404
    assert gone.json() == {"error": "no such share link (unknown or revoked)"}
    assert public.get(link["path"], headers=browser).status_code == 303  # the page says it
    assert public.get("/public/not-a-link").status_code == 404
