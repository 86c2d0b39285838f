"""The associations' app at /app/ in headless Chromium at phone size (390×844), against the
running platform: a roll-call taken on the phone lands in GraphQL; offline, a roll-call and an
enrolment wait on the device (through a reload) and land exactly once when the network
returns; three unexcused absences put the person under "À suivre"; another association's token
sees and changes none of it. Screenshots of each screen go to tests/browser/artifacts/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from kit.auth import Role, issue_token
from kit.platform import Platform
from kit.settings import Settings
from tests.e2e.conftest import enrolment, graphql
from tests.e2e.test_training_orientation_flows import (
    ASSOCIATION,
    OTHER_ASSOCIATION,
    known_to_training,
    schedule,
)
from tests.support import graphql_data as data

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
ROLL_CALL = """
query S($id: ID!) { session(id: $id) { id anonymousCount
  attendance { id beneficiaryId status minutes } } }"""
PEOPLE_NAMED = """
query P($filter: BeneficiaryFilter, $after: String) {
  beneficiaries(filter: $filter, first: 100, after: $after) {
    edges { node { id firstName lastName } } pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture(scope="module")
def association_token(settings: Settings) -> str:
    return issue_token(settings, Role.ASSOCIATION, association_id=ASSOCIATION)


@pytest.fixture(scope="module")
def other_association_token(settings: Settings) -> str:
    return issue_token(settings, Role.ASSOCIATION, association_id=OTHER_ASSOCIATION)


@pytest.fixture
def phone_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, locale="fr-FR", timezone_id="Europe/Paris",
        has_touch=True, is_mobile=True,
    )  # fmt: skip
    yield context
    context.close()


@pytest.fixture
def phone(phone_context: BrowserContext) -> Iterator[Page]:
    """A phone-sized tab; page errors and anything the content security policy blocked fail
    the test."""
    opened = phone_context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield opened
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="module")
def app_url(platform: Platform) -> str:
    return f"{platform.settings.gateway_url}/app/"


def enrol_person(gateway: httpx.Client, **overrides: Any) -> dict[str, str]:
    """A new person of the association on the training track; their id and names."""
    person = enrolment(
        firstName=f"Inès-{uuid4().hex[:6]}", lastName=f"Essai-{uuid4().hex[:6]}",
        tracks=["DIGITAL_INCLUSION"], **overrides,
    )  # fmt: skip
    person_id = data(graphql(gateway, ENROL, input=person))["enrolBeneficiary"]["id"]
    known_to_training(gateway, person_id)
    return {"id": person_id, "name": f"{person['firstName']} {person['lastName']}"}


def roll_call(gateway: httpx.Client, session_id: str) -> dict[str, Any]:
    session: dict[str, Any] = data(graphql(gateway, ROLL_CALL, id=session_id))["session"]
    return session


def open_app(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}#token={token}")
    expect(page.get_by_test_id("association-name")).to_have_text("Saige en Ligne")
    page.wait_for_function("document.documentElement.dataset.offlineReady === 'true'")


def open_roll_call(page: Page, session_id: str) -> None:
    page.locator(f'[data-testid=session][data-session-id="{session_id}"]').click()
    expect(page.get_by_role("button", name="Valider l'appel")).to_be_visible()


def line(page: Page, person: dict[str, str]) -> Any:
    return page.get_by_role("group", name=person["name"])


def statuses(gateway: httpx.Client, session_id: str) -> dict[str, tuple[str, int]]:
    return {
        a["beneficiaryId"]: (a["status"], a["minutes"])
        for a in roll_call(gateway, session_id)["attendance"]
    }


def test_a_roll_call_taken_on_a_phone_is_recorded_in_graphql(
    phone: Page, app_url: str, association_token: str, gateway: httpx.Client, artifacts: Path
) -> None:
    people = [enrol_person(gateway) for _ in range(3)]
    session_id = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))

    open_app(phone, app_url, association_token)
    assert "token" not in phone.url
    phone.screenshot(path=artifacts / "app-today.png", full_page=True)
    open_roll_call(phone, session_id)
    for person, word in zip(people, ("Présent", "Absent", "Excusé"), strict=True):
        line(phone, person).get_by_role("button", name=word, exact=True).click()
        expect(line(phone, person).get_by_role("button", name=word, exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
    minutes = line(phone, people[0]).get_by_test_id("minutes")
    expect(minutes).to_have_value("180")  # the session's duration
    minutes.fill("150")
    phone.get_by_label("Personnes venues sans inscription").fill("2")
    phone.screenshot(path=artifacts / "app-roll-call.png", full_page=True)
    phone.get_by_role("button", name="Valider l'appel").click()

    expect(phone.get_by_text("Appel enregistré : 3 ligne(s) ajoutée(s).")).to_be_visible()
    assert statuses(gateway, session_id) == {
        people[0]["id"]: ("PRESENT", 150),
        people[1]["id"]: ("UNEXCUSED_ABSENCE", 0),
        people[2]["id"]: ("EXCUSED_ABSENCE", 0),
    }
    assert roll_call(gateway, session_id)["anonymousCount"] == 2
    assert phone.evaluate("localStorage.getItem('dn-app-queue')") is None  # nothing kept

    phone.reload()  # a recorded roll-call opens as recorded
    expect(phone.get_by_test_id("association-name")).to_have_text("Saige en Ligne")
    open_roll_call(phone, session_id)
    present = line(phone, people[0]).get_by_role("button", name="Présent", exact=True)
    expect(present).to_have_attribute("aria-pressed", "true")
    expect(present).to_be_disabled()
    expect(phone.get_by_label("Personnes venues sans inscription")).to_have_value("2")


def test_a_roll_call_and_an_enrolment_made_offline_land_exactly_once(
    phone: Page, phone_context: BrowserContext, app_url: str, association_token: str,
    gateway: httpx.Client, artifacts: Path,
) -> None:  # fmt: skip
    people = [enrol_person(gateway) for _ in range(2)]
    session_id = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))
    open_app(phone, app_url, association_token)

    phone_context.set_offline(True)
    open_roll_call(phone, session_id)
    line(phone, people[0]).get_by_role("button", name="Présent", exact=True).click()
    line(phone, people[1]).get_by_role("button", name="Excusé", exact=True).click()
    phone.get_by_role("button", name="Valider l'appel").click()
    expect(phone.get_by_text("Pas de réseau : l'appel est gardé")).to_be_visible()

    newcomer = {"first": f"Maëlle-{uuid4().hex[:6]}", "last": f"Horsligne-{uuid4().hex[:6]}"}
    phone.get_by_role("navigation").get_by_role("button", name="Inscrire").click()
    phone.get_by_label("Prénom").fill(newcomer["first"])
    phone.get_by_label("Nom", exact=True).fill(newcomer["last"])
    phone.get_by_label("Année de naissance").fill("1994")
    phone.get_by_label("Suivi (nécessaire pour s'inscrire)", exact=False).check()
    phone.locator("#enrol-form").get_by_role("button", name="Inscrire").click()
    expect(phone.get_by_text("l'inscription de")).to_be_visible()
    outbox = phone.get_by_test_id("outbox")
    expect(outbox).to_contain_text("2 envoi(s) en attente")

    phone.reload()  # still offline: the service worker opens the page, the queue survives
    expect(phone.get_by_test_id("outbox")).to_contain_text("2 envoi(s) en attente")
    expect(phone.get_by_test_id("outbox")).to_contain_text(newcomer["first"])
    expect(phone.get_by_test_id("network")).to_have_text("Hors ligne")
    phone.screenshot(path=artifacts / "app-offline-waiting.png", full_page=True)
    assert statuses(gateway, session_id) == {}

    phone_context.set_offline(False)
    expect(phone.get_by_test_id("outbox")).to_be_hidden(timeout=30_000)
    assert statuses(gateway, session_id) == {
        people[0]["id"]: ("PRESENT", 180),
        people[1]["id"]: ("EXCUSED_ABSENCE", 0),
    }
    enrolled = named(gateway, newcomer["first"])
    assert len(enrolled) == 1, enrolled  # exactly once
    assert phone.evaluate("localStorage.getItem('dn-app-queue')") is None  # cleared once sent


def named(gateway: httpx.Client, first_name: str) -> list[str]:
    """The ids of the association's people with this first name."""
    found: list[str] = []
    after = None
    while True:
        page = data(
            graphql(gateway, PEOPLE_NAMED, filter={"associationId": ASSOCIATION}, after=after)
        )["beneficiaries"]
        found += [e["node"]["id"] for e in page["edges"] if e["node"]["firstName"] == first_name]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def test_a_resent_roll_call_and_enrolment_change_nothing(gateway: httpx.Client) -> None:
    person = enrol_person(gateway)
    session_id = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))
    records = [{"beneficiaryId": person["id"], "status": "PRESENT"}]
    mutation = """mutation R($sessionId: ID!, $records: [RollCallRecordInput!]!) {
      recordRollCall(sessionId: $sessionId, records: $records) { recorded { id } unchanged } }"""

    first = data(graphql(gateway, mutation, sessionId=session_id, records=records))
    again = data(graphql(gateway, mutation, sessionId=session_id, records=records))

    assert len(first["recordRollCall"]["recorded"]) == 1
    assert again["recordRollCall"] == {"recorded": [], "unchanged": 1}
    assert len(roll_call(gateway, session_id)["attendance"]) == 1

    request_id = str(uuid4())
    newcomer = enrolment(requestId=request_id)
    created = data(graphql(gateway, ENROL, input=newcomer))["enrolBeneficiary"]["id"]
    resent = data(graphql(gateway, ENROL, input=newcomer))["enrolBeneficiary"]["id"]
    assert resent == created
    assert named(gateway, newcomer["firstName"]) == [created]
    # Without the request id, the same person again is the duplicate it is.
    refused = graphql(gateway, ENROL, input={**newcomer, "requestId": None}).json()
    assert refused["errors"][0]["extensions"] == {"code": "CONFLICT", "existingId": created}
