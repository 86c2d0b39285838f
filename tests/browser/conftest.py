"""The browser tier: Debian's headless Chromium, driven by Playwright, against the session's
running platform (tests/conftest.py, shared with the e2e tier)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dn.platform import Platform
from tests.browser.chromium import LAUNCH_ARGS, ChromiumMissing, ensure
from tests.e2e.conftest import quiet_platform  # noqa: F401 — each module starts on settled figures

ARTIFACTS = Path(__file__).with_name("artifacts")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        executable = ensure()
    except ChromiumMissing as error:
        pytest.fail(str(error), pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), args=LAUNCH_ARGS, headless=True
        )
        yield launched
        launched.close()


def page_errors(page: Page) -> list[str]:
    """What the page raises and what its content security policy blocks, as it happens."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return errors


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (its own storage) at laptop size; page errors and anything the page's
    content security policy blocked fail the test."""
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    opened = context.new_page()
    errors = page_errors(opened)
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="session")
def dashboard_url(platform: Platform) -> str:
    return f"{platform.settings.gateway_url}/"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
