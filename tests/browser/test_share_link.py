"""A share link opened in the dashboard (``/?share=<id>``) in headless Chromium, without any
token: read-only, the funder's anonymised figures, the public note, refreshed by itself, and a
plain message once the link is revoked or for a link that never existed. Screenshots are
written to tests/browser/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.browser.test_dashboard import LOADED, SHOWN, chart_figures
from tests.e2e.conftest import graphql, until
from tests.e2e.test_share_links import five_enrolled  # noqa: F401 — totals shown exactly
from tests.e2e.test_training_orientation_flows import enrol

pytestmark = pytest.mark.browser

CREATE = 'mutation { createShareLink(label: "Board") { id path dashboardPath } }'
REVOKE = "mutation R($id: ID!) { revokeShareLink(id: $id) { active } }"
IMPACT = """{ impact { enrolled anonymised peopleReached anonymousAttendees
  progress { indicator target actual }
  funnel { stage count }
  byDistrict { districtId enrolled trained peopleReached }
  byAssociation { associationId peopleReached }
  byGender { gender enrolled trained }
  weekly { cumulativeEnrolled cumulativeTrained } } }"""
TESTIDS = {"trained": "trained", "directed_to_employment": "directed",
           "associations_upskilled": "associations"}  # fmt: skip


@pytest.fixture(scope="module")
def funder(platform: Platform, settings: Settings) -> Iterator[httpx.Client]:
    token = issue_token(settings, Role.FUNDER, subject="t-funder")
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=platform.settings.gateway_url, headers=headers) as client:
        yield client


@pytest.fixture
def link(gateway: httpx.Client) -> dict[str, Any]:
    made = graphql(gateway, CREATE).json()
    assert "errors" not in made, made
    created: dict[str, Any] = made["data"]["createShareLink"]
    return created


def expected_figures(answer: dict[str, Any]) -> dict[str, float | None]:
    """What the page must show, by data-testid, for a funder's GraphQL impact (None: hidden)."""
    assert answer["anonymised"] is True
    figures: dict[str, float | None] = {
        "figure-enrolled": answer["enrolled"],
        "figure-people-reached": answer["peopleReached"],
        "reach-anonymous": answer["anonymousAttendees"],
    }
    for target in answer["progress"]:
        figures[f"figure-{TESTIDS[target['indicator']]}"] = target["actual"]
        figures[f"target-{TESTIDS[target['indicator']]}"] = target["target"]
    return figures | chart_figures(answer)


def shown_figures(page: Page) -> dict[str, float | None]:
    shown: dict[str, dict[str, str]] = page.evaluate(SHOWN)
    return {
        testid: None if node["value"] in ("", "null") else float(node["value"])
        for testid, node in shown.items()
    }


def differences(page: Page, funder: httpx.Client) -> dict[str, Any]:
    body = graphql(funder, IMPACT).json()
    assert "errors" not in body, body
    shown = shown_figures(page)  # a hidden count (None) may also be left out: the trend legend
    return {
        testid: (value, shown.get(testid, "absent"))
        for testid, value in expected_figures(body["data"]["impact"]).items()
        if shown.get(testid) != value
    }


def test_a_share_link_shows_the_funders_figures_read_only_then_says_when_it_is_revoked(
    page: Page, platform: Platform, link: dict[str, Any], gateway: httpx.Client,
    funder: httpx.Client, artifacts: Path,
) -> None:  # fmt: skip
    page.goto(platform.settings.gateway_url + link["dashboardPath"])
    page.wait_for_selector(LOADED, timeout=15_000)

    deadline = time.monotonic() + 40  # a late event shows at the next refresh (30 s)
    while (differ := differences(page, funder)) and time.monotonic() < deadline:
        time.sleep(1)
    assert not differ, f"page and the funder's GraphQL differ (GraphQL, page): {differ}"
    expect(page.get_by_test_id("public-note")).to_have_text(
        "Chiffres publics — petits effectifs masqués"
    )
    expect(page.get_by_test_id("live-status")).to_have_text(
        "Lien public · actualisé toutes les 30 s"
    )
    for control in ("token-panel", "scope", "error", "share-message"):
        expect(page.get_by_test_id(control)).to_be_hidden()
    expect(page.get_by_role("button", name="Changer de jeton")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('dn-dashboard-token')") is None
    page.screenshot(path=artifacts / "dashboard-share-link.png", full_page=True)

    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("public-note")).to_have_text("Public figures — small counts hidden")

    revoked = graphql(gateway, REVOKE, id=link["id"]).json()
    assert revoked["data"]["revokeShareLink"]["active"] is False
    page.evaluate("window.dispatchEvent(new Event('online'))")  # ask now, not in 30 s

    message = page.get_by_test_id("share-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("This share link is unknown or has been revoked")
    expect(page.get_by_test_id("figure-enrolled")).to_be_hidden()
    expect(page.get_by_test_id("live-status")).to_have_text("Link closed")
    page.screenshot(path=artifacts / "dashboard-share-link-revoked.png", full_page=True)
    page.reload()
    expect(message).to_contain_text("This share link is unknown or has been revoked")


def test_the_open_page_refreshes_the_public_figures_by_itself(
    page: Page, platform: Platform, link: dict[str, Any], gateway: httpx.Client
) -> None:
    public = f"{platform.settings.gateway_url}{link['path']}"
    page.clock.install()
    page.goto(platform.settings.gateway_url + link["dashboardPath"])
    page.wait_for_selector(LOADED, timeout=15_000)
    before = int(page.get_by_test_id("figure-enrolled").get_attribute("data-value") or -1)
    assert before >= 5, "the programme-wide total is exact from 5 people"

    enrol(gateway)
    after = until(lambda: httpx.get(public).json()["enrolled"], lambda n: n > before)
    assert after > before
    page.clock.fast_forward("00:31")  # the next refresh, without waiting 30 s

    expect(page.get_by_test_id("figure-enrolled")).to_have_attribute("data-value", str(after))


def test_a_link_that_never_existed_says_so_in_the_browser(page: Page, platform: Platform) -> None:
    page.goto(f"{platform.settings.gateway_url}/public/not-a-share-link")  # sent to the page

    assert page.url.endswith("/?share=not-a-share-link")
    message = page.get_by_test_id("share-message")
    expect(message).to_contain_text("Ce lien de partage n'existe pas ou a été révoqué")
    expect(message).to_contain_text("Demandez un nouveau lien")
    expect(page.get_by_test_id("token-panel")).to_be_hidden()
    expect(page.get_by_test_id("public-note")).to_be_visible()
