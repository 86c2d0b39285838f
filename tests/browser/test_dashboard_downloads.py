"""The dashboard's downloads in headless Chromium: "Télécharger le rapport (PDF)" saves the
report of the scope shown, and its text holds the figures the page shows (a funder's with the
small counts as <5); a breakdown saves as CSV; association staff are offered their own
association's files only; a share link offers its public PDF without a token. The buttons
fit a phone's width. Screenshots go to tests/browser/artifacts/."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Download, Page, expect
from pypdf import PdfReader

from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.browser.conftest import PHONE
from tests.browser.test_dashboard import LOADED
from tests.e2e.conftest import graphql
from tests.e2e.test_reporting_exports import PEOPLE_HERE, Place, place

pytestmark = pytest.mark.browser
__all__ = ["place"]  # three people in a district and association of this module's own

CREATE = 'mutation { createShareLink(label: "Downloads") { id dashboardPath } }'


def open_dashboard(page: Page, url: str, token: str, scope: str = "") -> None:
    page.goto(f"{url}#token={token}")
    page.wait_for_selector(LOADED, timeout=15_000)
    if scope:
        page.get_by_test_id("scope").select_option(scope)


def saved(page: Page, button: str) -> Download:
    """Click a download button and wait for the file the page saves."""
    with page.expect_download(timeout=20_000) as started:
        page.get_by_test_id(button).click()
    return started.value


def pdf_text(download: Download) -> str:
    reader = PdfReader(download.path())
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text.replace("\u00a0", " ")


def after(text: str, name: str) -> str:
    """The figure on the line after ``name`` (pypdf puts each table cell on a line of its
    own): a district's enrolled count, a funnel stage's count."""
    lines = [line.strip() for line in text.splitlines()]
    return lines[lines.index(name) + 1]


SEPARATOR = "[,\u00a0\u202f ]"  # thousands: English ",", French a (narrow) no-break space


def count(figure: str) -> str:
    """A count as the PDF writes it ("5,521" in English, "5 521" in French) as the page's raw
    value ("5521"), so that numbers are compared, not their formatting; "<5" (a small count
    hidden from funders) and any other text unchanged."""
    if re.fullmatch(rf"\d{{1,3}}(?:{SEPARATOR}\d{{3}})*", figure):
        return re.sub(r"\D", "", figure)
    return figure


def written(value: str) -> str:
    """A pattern for the page's raw count ``value`` as the PDF writes it, in either language."""
    if not value.isdigit():
        return re.escape(value)
    groups = [value[max(0, end - 3) : end] for end in range(len(value), 0, -3)]
    return SEPARATOR.join(reversed(groups))


def shown(page: Page, testid: str) -> str:
    """The figure the page shows (its raw value; "" or "null" when hidden)."""
    value = page.get_by_test_id(testid).get_attribute("data-value")
    return value or ""


def fits_a_phone(page: Page, testid: str) -> None:
    box = page.get_by_test_id(testid).bounding_box()
    assert box is not None, f"{testid} is not shown"
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= 40, f"{testid}: a finger-sized target"


def test_the_pdf_of_the_scope_shown_holds_the_figures_on_the_page(
    page: Page, dashboard_url: str, coordinator_token: str, place: Place, artifacts: Path
) -> None:
    open_dashboard(page, dashboard_url, coordinator_token, f"district:{place.district_id}")
    expect(page.get_by_test_id("figure-enrolled")).to_have_attribute("data-value", str(PEOPLE_HERE))
    expect(page.get_by_test_id("download-pdf")).to_have_text("Télécharger le rapport (PDF)")

    report = saved(page, "download-pdf")
    text = pdf_text(report)

    assert re.fullmatch(rf"impact-district-{place.district_id}-report-[\d-]+\.pdf",
                        report.suggested_filename)  # fmt: skip
    assert "Rapport d'impact" in text
    assert f"Périmètre : Quartier : {place.district_name}" in text
    assert "Période : du 05/01/2026 au " in text
    assert "Chiffres extraits le " in text
    assert count(after(text, "Inscrits")) == shown(page, "figure-enrolled")
    trained, target = shown(page, "figure-trained"), shown(page, "target-trained")
    assert re.search(rf"{written(trained)} / {written(target)} — ", text)  # actual / target
    enrolled_here = shown(page, f"district-{place.district_id}-enrolled")
    assert count(after(text, place.district_name)) == enrolled_here

    page.get_by_test_id("download-breakdown").select_option("gender")
    table = saved(page, "download-csv")
    rows = list(csv.reader(io.StringIO(Path(table.path()).read_text(encoding="utf-8"))))
    assert table.suggested_filename.endswith(".csv")
    assert rows[0][0] == "Genre"
    assert rows[-1][:2] == ["Total", str(PEOPLE_HERE)]
    page.screenshot(path=artifacts / "dashboard-downloads.png")

    page.set_viewport_size(PHONE)  # every button within a phone's width, none overflowing
    for button in ("download-pdf", "download-breakdown", "download-csv", "download-xlsx"):
        fits_a_phone(page, button)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_test_id("downloads").screenshot(path=artifacts / "dashboard-downloads-phone.png")


def test_a_funder_s_pdf_shows_the_small_counts_hidden_on_the_page_as_below_five(
    page: Page, dashboard_url: str, settings: Settings, place: Place
) -> None:
    open_dashboard(page, dashboard_url, issue_token(settings, Role.FUNDER, subject="t-funder"))
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("download-pdf")).to_have_text("Download the report (PDF)")
    district = f"district-{place.district_id}-enrolled"
    expect(page.get_by_test_id(district)).to_be_attached()

    text = pdf_text(saved(page, "download-pdf"))

    assert shown(page, district) in ("", "null"), "3 people: hidden on the page"
    assert after(text, place.district_name) == "<5"
    assert 'Anonymised figures: counts from 1 to 4 are shown as "<5".' in text
    assert "Scope: Whole programme" in text
    enrolled = shown(page, "figure-enrolled")  # hidden too while the programme has 1 to 4
    assert count(after(text, "Enrolled")) == (enrolled if enrolled not in ("", "null") else "<5")


def test_association_staff_are_offered_their_own_association_s_files_only(
    page: Page, dashboard_url: str, settings: Settings, place: Place
) -> None:
    token = issue_token(settings, Role.ASSOCIATION, association_id=place.association_id)
    open_dashboard(page, dashboard_url, token)

    expect(page.get_by_test_id("download-note")).to_contain_text("votre association seulement")
    expect(page.get_by_test_id("download-pdf")).to_be_hidden()
    page.get_by_test_id("scope").select_option(f"association:{place.association_id}")
    expect(page.get_by_test_id("download-pdf")).to_be_visible()
    expect(page.get_by_test_id("download-note")).to_be_hidden()
    rows = list(csv.reader(io.StringIO(Path(saved(page, "download-csv").path()).read_text())))
    assert rows[-1][:2] == ["Total", str(PEOPLE_HERE)]


def test_a_share_link_offers_its_public_pdf_and_the_buttons_fit_a_phone(
    browser: Browser, dashboard_url: str, gateway: httpx.Client, place: Place, artifacts: Path
) -> None:
    made: dict[str, Any] = graphql(gateway, CREATE).json()["data"]["createShareLink"]
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="fr-FR").new_page()
    try:
        phone.goto(dashboard_url.rstrip("/") + made["dashboardPath"])
        phone.wait_for_selector(LOADED, timeout=15_000)

        expect(phone.get_by_test_id("download-pdf")).to_be_visible()
        expect(phone.get_by_test_id("download-csv")).to_be_hidden()
        fits_a_phone(phone, "download-pdf")
        text = pdf_text(saved(phone, "download-pdf"))
        assert "Périmètre : Ensemble du programme" in text
        assert after(text, place.district_name) == "<5"
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot(path=artifacts / "dashboard-share-link-downloads-phone.png")
    finally:
        phone.context.close()
