"""The dashboard at / in headless Chromium: it opens from the link `dn up` prints, shows the
same figures as the GraphQL impact answer, follows a completed training live (no reload),
speaks English on request, re-subscribes with a filter, and says so when a token is refused.
Screenshots (laptop and phone widths) are written to tests/browser/artifacts/."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from dn import cli
from dn.platform import Platform
from tests.browser.conftest import PHONE
from tests.e2e.conftest import graphql, until
from tests.e2e.test_people_reached import headcount
from tests.e2e.test_training_orientation_flows import (
    ASSOCIATION,
    attend,
    enrol,
    known_to_training,
    schedule,
)

pytestmark = pytest.mark.browser

LOADED = '[data-testid="figure-trained"][data-value]'
IMPACT = """
query Impact($filter: ImpactFilter) { impact(filter: $filter) {
  enrolled trained directedToEmployment associationsUpskilled womenShareCareers
  targets { trained directedToEmployment associationsUpskilled }
  progress { indicator target baseline actual }
  funnel { stage count }
  peopleReached anonymousAttendees
  byDistrict { districtId enrolled trained peopleReached }
  byAssociation { associationId peopleReached }
  byGender { gender enrolled trained }
  weekly { cumulativeEnrolled cumulativeTrained } } }"""
# Every figure the page marks with a data-testid and its raw value, with the text it shows.
SHOWN = """() => Object.fromEntries([...document.querySelectorAll('[data-testid][data-value]')]
  .map((node) => [node.dataset.testid, { value: node.dataset.value, text: node.textContent }]))"""
LIVE_WITHIN_S = 20


def open_dashboard(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}#token={token}")
    page.wait_for_selector(LOADED, timeout=15_000)


def impact(gateway: httpx.Client, **impact_filter: str) -> dict[str, Any]:
    body = graphql(gateway, IMPACT, filter=impact_filter or None).json()
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["impact"]
    return answer


def expected_figures(answer: dict[str, Any]) -> dict[str, float | None]:
    """What the page must show for a GraphQL impact answer, by data-testid."""
    actual = {p["indicator"]: p["actual"] for p in answer["progress"]}
    target = {p["indicator"]: p["target"] for p in answer["progress"]}
    baseline = {p["indicator"]: p["baseline"] for p in answer["progress"]}
    assert actual["trained"] == answer["trained"] + baseline["trained"]
    assert target["trained"] == answer["targets"]["trained"]
    figures: dict[str, float | None] = {
        "figure-enrolled": answer["enrolled"],
        "figure-trained": actual["trained"],
        "target-trained": target["trained"],
        "figure-directed": actual["directed_to_employment"],
        "target-directed": target["directed_to_employment"],
        "figure-associations": actual["associations_upskilled"],
        "target-associations": target["associations_upskilled"],
        "figure-women-share": answer["womenShareCareers"],
        "figure-people-reached": answer["peopleReached"],
        "reach-enrolled": answer["enrolled"],
        "reach-anonymous": answer["anonymousAttendees"],
    }
    return figures | chart_figures(answer)


def chart_figures(answer: dict[str, Any]) -> dict[str, float | None]:
    """The funnel, district, gender and trend figures the page must show, by data-testid."""
    figures: dict[str, float | None] = {
        f"funnel-{stage['stage']}": stage["count"] for stage in answer["funnel"]
    }
    for district in answer["byDistrict"]:
        figures[f"district-{district['districtId']}-enrolled"] = district["enrolled"]
        figures[f"district-{district['districtId']}-trained"] = district["trained"]
    for gender in answer["byGender"]:
        if gender["enrolled"]:  # the donut shows the genders with people, hidden ones left out
            figures[f"gender-{gender['gender']}-enrolled"] = gender["enrolled"]
            figures[f"gender-{gender['gender']}-trained"] = gender["trained"]
    for kind, rows, key in (("district", answer["byDistrict"], "districtId"),
                            ("association", answer["byAssociation"], "associationId")):  # fmt: skip
        for reach in rows:
            if reach["peopleReached"] != 0:  # rows reaching no one are left out
                figures[f"reach-{kind}-{reach[key]}-reached"] = reach["peopleReached"]
    if answer["weekly"]:
        figures["trend-cumulative-enrolled"] = answer["weekly"][-1]["cumulativeEnrolled"]
        figures["trend-cumulative-trained"] = answer["weekly"][-1]["cumulativeTrained"]
    return figures


def shown_figures(page: Page) -> dict[str, float | None]:
    shown: dict[str, dict[str, str]] = page.evaluate(SHOWN)
    figures: dict[str, float | None] = {}
    for testid, node in shown.items():
        value = node["value"]
        figures[testid] = None if value == "" else float(value)
        if testid.startswith(("figure-", "funnel-", "district-")) and "share" not in testid:
            if "rate" in testid or testid == "figure-freshness":
                continue
            # the text says the same number, whatever the locale's digit grouping
            assert int(re.sub(r"\D", "", node["text"]) or -1) == figures[testid], (testid, node)
    return figures


def differences(page: Page, gateway: httpx.Client, **impact_filter: str) -> dict[str, Any]:
    expected = expected_figures(impact(gateway, **impact_filter))
    shown = shown_figures(page)
    return {
        testid: (value, shown.get(testid, "absent"))
        for testid, value in expected.items()
        if shown.get(testid, "absent") != value
    }


def agrees_with_graphql(page: Page, gateway: httpx.Client, **impact_filter: str) -> None:
    """The page and GraphQL agree (retried briefly: a late event may move both)."""
    deadline = time.monotonic() + 15
    while (differ := differences(page, gateway, **impact_filter)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not differ, f"page and GraphQL differ (GraphQL, page): {differ}"


def test_the_link_dn_up_prints_opens_the_dashboard_and_hides_its_token(
    page: Page, platform: Platform
) -> None:
    with cli.console.capture() as captured:
        cli._print_urls(platform.settings, "mongodb://127.0.0.1", "127.0.0.1:9092", 1.0)
    found = re.search(r"dashboard\s+(\S+#token=\S+)", captured.get())
    assert found, captured.get()
    link = found.group(1)
    assert link.startswith(f"{platform.settings.gateway_url}/#token=")

    page.goto(link)
    page.wait_for_selector(LOADED, timeout=15_000)

    assert "token" not in page.url  # removed from the address bar (and from history)
    assert page.evaluate("sessionStorage.getItem('dn-dashboard-token')") == link.split("=", 1)[1]
    expect(page.get_by_test_id("live-status")).to_have_text("En direct")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_test_id("token-panel")).to_be_hidden()


def test_the_figures_shown_equal_the_graphql_impact_answer(
    page: Page, browser: Any, dashboard_url: str, coordinator_token: str,
    gateway: httpx.Client, artifacts: Path,
) -> None:  # fmt: skip
    open_dashboard(page, dashboard_url, coordinator_token)

    agrees_with_graphql(page, gateway)
    assert page.get_by_test_id("updated-ago").inner_text().startswith("mis à jour il y a")
    page.screenshot(path=artifacts / "dashboard.png", full_page=True)

    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="fr-FR").new_page()
    try:
        open_dashboard(phone, dashboard_url, coordinator_token)
        agrees_with_graphql(phone, gateway)
        phone.wait_for_timeout(300)  # the trend chart redraws for the narrow width
        overflow = phone.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], f"the page is {overflow} px wide on a phone"
        phone.screenshot(path=artifacts / "dashboard-phone.png", full_page=True)
    finally:
        phone.context.close()


def test_attendance_completing_a_training_updates_trained_on_the_open_page(
    page: Page, dashboard_url: str, coordinator_token: str, gateway: httpx.Client,
    artifacts: Path,
) -> None:  # fmt: skip
    open_dashboard(page, dashboard_url, coordinator_token)
    agrees_with_graphql(page, gateway)
    before = int(page.get_by_test_id("figure-trained").get_attribute("data-value") or -1)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    person_id = enrol(gateway)
    known_to_training(gateway, person_id)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=7)
    sessions = [schedule(gateway, start + dt.timedelta(days=day)) for day in range(4)]
    for session_id in sessions[:3]:
        assert "errors" not in attend(gateway, session_id, person_id).json()
    expect(page.get_by_test_id("figure-trained")).to_have_attribute("data-value", str(before))

    assert "errors" not in attend(gateway, sessions[3], person_id).json()  # the 4th: trained
    recorded_at = time.monotonic()
    page.wait_for_function(
        "(expected) => document.querySelector('[data-testid=figure-trained]')"
        ".dataset.value === expected",
        arg=str(before + 1),
        timeout=LIVE_WITHIN_S * 1000,
    )
    delay_s = time.monotonic() - recorded_at

    assert page.evaluate("window.sameDocument") is True
    assert page.get_by_test_id("figure-trained").inner_text() == str(before + 1)
    expect(page.get_by_test_id("feed")).to_contain_text("+1 formé · Saige")
    expect(page.get_by_test_id("feed")).to_contain_text("+1 inscrit · Saige")
    agrees_with_graphql(page, gateway)
    page.screenshot(path=artifacts / "dashboard-live.png", full_page=True)
    (artifacts / "live-update.json").write_text(
        json.dumps({"attendance_to_dom_seconds": round(delay_s, 3)}) + "\n"
    )
    print(f"trained figure updated on the open page {delay_s:.2f} s after the attendance")


def test_people_reached_counts_anonymous_attendees_beside_the_headline_figures(
    page: Page, browser: Any, dashboard_url: str, coordinator_token: str,
    gateway: httpx.Client, artifacts: Path,
) -> None:  # fmt: skip
    before = impact(gateway)
    workshop = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))
    headcount(gateway, workshop, 7)  # a collective workshop: 7 people not enrolled
    after = until(
        lambda: impact(gateway),
        lambda found: found["anonymousAttendees"] >= before["anonymousAttendees"] + 7,
    )
    assert after["anonymousAttendees"] >= 7
    assert after["peopleReached"] == after["enrolled"] + after["anonymousAttendees"]

    open_dashboard(page, dashboard_url, coordinator_token)
    agrees_with_graphql(page, gateway)

    reached = int(page.get_by_test_id("figure-people-reached").get_attribute("data-value") or 0)
    enrolled = int(page.get_by_test_id("figure-enrolled").get_attribute("data-value") or 0)
    assert reached == impact(gateway)["peopleReached"]
    assert reached >= enrolled + 7 > 0
    expect(page.get_by_role("heading", name="Personnes touchées")).to_be_visible()
    association = page.get_by_test_id(f"reach-association-{ASSOCIATION}")
    expect(association).to_contain_text("Saige en Ligne")
    assert int(association.get_by_test_id(f"reach-association-{ASSOCIATION}-reached")
               .get_attribute("data-value") or 0) >= 7  # fmt: skip
    expect(page.get_by_test_id("reach-district-qpv-saige")).to_be_visible()
    page.get_by_test_id("reach").screenshot(path=artifacts / "dashboard-people-reached.png")

    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_role("heading", name="People reached")).to_be_visible()
    expect(page.get_by_test_id("reach-parts")).to_contain_text("anonymous attendees")

    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="fr-FR").new_page()
    try:
        open_dashboard(phone, dashboard_url, coordinator_token)
        agrees_with_graphql(phone, gateway)
        card = phone.get_by_test_id("reach")
        card.scroll_into_view_if_needed()
        expect(card).to_be_visible()
        box = card.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
        overflow = phone.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], f"the page is {overflow} px wide on a phone"
        card.screenshot(path=artifacts / "dashboard-people-reached-phone.png")
    finally:
        phone.context.close()


def test_the_english_toggle_shows_english_labels_and_is_remembered(
    page: Page, dashboard_url: str, coordinator_token: str
) -> None:
    open_dashboard(page, dashboard_url, coordinator_token)
    expect(page.get_by_role("heading", name="Personnes formées")).to_be_visible()

    page.get_by_test_id("lang-toggle").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    for label in ("People trained", "Directed towards employment", "By district", "By gender",
                  "Week by week", "What changed recently", "People's journey"):  # fmt: skip
        expect(page.get_by_role("heading", name=label)).to_be_visible()
    expect(page.get_by_test_id("live-status")).to_have_text("Live")
    expect(page.get_by_test_id("updated-ago")).to_contain_text("updated")
    expect(page.get_by_test_id("lang-toggle")).to_have_text("Français")

    page.reload()  # the token is in this tab's sessionStorage, the language in localStorage
    page.wait_for_selector(LOADED, timeout=15_000)
    expect(page.get_by_role("heading", name="People trained")).to_be_visible()
    expect(page.get_by_test_id("funnel")).to_contain_text("Enrolled")


def test_a_district_filter_resubscribes_with_that_districts_figures(
    page: Page, dashboard_url: str, coordinator_token: str, gateway: httpx.Client
) -> None:
    before = impact(gateway)["enrolled"]
    enrol(gateway, associationId="asso-lac-connecte", districtId="qpv-aubiers-lac")
    whole = until(lambda: impact(gateway)["enrolled"], lambda n: n > before)
    open_dashboard(page, dashboard_url, coordinator_token)
    expect(page.get_by_test_id("figure-enrolled")).to_have_attribute("data-value", str(whole))

    page.get_by_test_id("scope").select_option("district:qpv-saige")

    district = impact(gateway, districtId="qpv-saige")["enrolled"]
    assert district < whole
    expect(page.get_by_test_id("figure-enrolled")).to_have_attribute("data-value", str(district))
    agrees_with_graphql(page, gateway, districtId="qpv-saige")


def test_a_refused_token_is_said_plainly(page: Page, dashboard_url: str) -> None:
    page.goto(f"{dashboard_url}#token=not-a-token")

    expect(page.get_by_test_id("error")).to_contain_text("Le jeton a été refusé")
    expect(page.get_by_test_id("token-panel")).to_be_visible()
    expect(page.get_by_test_id("live-status")).to_have_text("Jeton refusé")
    assert page.evaluate("sessionStorage.getItem('dn-dashboard-token')") is None
