"""The associations' app at /app/ in headless Chromium at phone size (390×844), against the
running platform: a roll-call taken on the phone lands in GraphQL; offline, a roll-call and an
enrolment wait on the device (through a reload) and land exactly once when the network
returns; three unexcused absences put the person under "À suivre"; another association's token
sees and changes none of it. Screenshots of each screen go to tests/browser/artifacts/."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import axe_playwright_python
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from dn import cli
from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.browser.conftest import page_errors
from tests.e2e.conftest import enrolment, graphql
from tests.e2e.test_training_orientation_flows import (
    ASSOCIATION,
    OTHER_ASSOCIATION,
    PLACE,
    known_to_training,
    schedule,
    when_known_to_orientation,
)
from tests.support import graphql_data as data

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
QUIET_ASSOCIATION = "asso-passerelles-cenon"
QUIET_PLACE = {"associationId": QUIET_ASSOCIATION, "districtId": "qpv-palmer-saraillere"}
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
def quiet_association_token(settings: Settings) -> str:
    """Staff of the association no other test fills (the import test enrols a thousand people
    in the first one; its roll-call would list them all)."""
    return issue_token(settings, Role.ASSOCIATION, association_id=QUIET_ASSOCIATION)


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
    errors = page_errors(opened)
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


def open_app(
    page: Page, url: str, token: str, *, people: bool = True, name: str = "Saige en Ligne"
) -> None:
    page.goto(f"{url}#token={token}")
    expect(page.get_by_test_id("association-name")).to_have_text(name)
    # The service worker keeps the page (a locator, not wait_for_function: polling a string
    # would be an eval the page's content security policy refuses).
    expect(page.get_by_test_id("offline-ready")).to_be_visible()
    if people:
        # And the association's people are loaded (pages of them on the shared test platform),
        # as they are once the app has been open a moment: tests go offline right after.
        expect(page.locator("body")).to_have_attribute("data-people", "loaded", timeout=60_000)


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

    expect(
        phone.get_by_text("Appel enregistré : 3 ligne(s) ajoutée(s) ou corrigée(s).")
    ).to_be_visible()
    assert statuses(gateway, session_id) == {
        people[0]["id"]: ("PRESENT", 150),
        people[1]["id"]: ("UNEXCUSED_ABSENCE", 0),
        people[2]["id"]: ("EXCUSED_ABSENCE", 0),
    }
    assert roll_call(gateway, session_id)["anonymousCount"] == 2
    assert phone.evaluate("localStorage.getItem('dn-app-queue')") is None  # nothing kept

    recorded_ids = {
        a["beneficiaryId"]: a["id"] for a in roll_call(gateway, session_id)["attendance"]
    }

    phone.reload()  # a recorded roll-call opens as recorded, and can be corrected
    expect(phone.get_by_test_id("association-name")).to_have_text("Saige en Ligne")
    open_roll_call(phone, session_id)
    for person, word in zip(people, ("Présent", "Absent", "Excusé"), strict=True):
        pressed = line(phone, person).get_by_role("button", name=word, exact=True)
        expect(pressed).to_have_attribute("aria-pressed", "true")
    expect(line(phone, people[0]).get_by_test_id("minutes")).to_have_value("150")
    expect(phone.get_by_label("Personnes venues sans inscription")).to_have_value("2")
    line(phone, people[1]).get_by_role("button", name="Présent", exact=True).click()  # came late
    expect(line(phone, people[1])).to_contain_text("corrigé à l'envoi")
    phone.get_by_role("button", name="Valider l'appel").click()

    expect(
        phone.get_by_text("Appel enregistré : 1 ligne(s) ajoutée(s) ou corrigée(s).")
    ).to_be_visible()
    assert statuses(gateway, session_id) == {
        people[0]["id"]: ("PRESENT", 150),
        people[1]["id"]: ("PRESENT", 180),
        people[2]["id"]: ("EXCUSED_ABSENCE", 0),
    }
    corrected_ids = {
        a["beneficiaryId"]: a["id"] for a in roll_call(gateway, session_id)["attendance"]
    }
    assert corrected_ids == recorded_ids  # corrected in place: one record per session and person


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
    expect(phone.get_by_test_id("association-name")).to_have_text("Saige en Ligne")
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


ATTEND = """
mutation A($input: RecordAttendanceInput!) { recordAttendance(input: $input) { id } }"""
AT_RISK = """
query R($associationId: ID) {
  beneficiariesAtRisk(associationId: $associationId) { beneficiaryId sessionsMissed } }"""
PERSON = """
query B($id: ID!) { beneficiary(id: $id) { id firstName lastName birthYear phone email street
  postcode inseeCode qpvResident gender tracks employmentStatus
  consent { programmeFollowUp shareWithPartners contactForSurveys } } }"""
SESSIONS = """
query S($associationId: ID, $from: DateTime, $to: DateTime) {
  sessions(associationId: $associationId, from: $from, to: $to, limit: 200) {
    id moduleId startsAt durationMinutes kind } }"""
AXE = Path(axe_playwright_python.__file__).with_name("axe.min.js")
# axe-core's rule sets: WCAG 2.0-2.2 A and AA, and its best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def accessibility_problems(
    page: Page, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """axe-core's violations of these impacts on the page as it is now (injected through the
    browser's devtools protocol: the page's content security policy stays as served)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "(tags) => axe.run(document, { runOnly: { type: 'tag', values: tags } })", AXE_TAGS
    )
    return [
        {"rule": v["id"], "impact": v["impact"], "where": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def absent_three_times(
    gateway: httpx.Client, person: dict[str, str], association_id: str = ASSOCIATION
) -> None:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=10)
    for day in range(3):
        session_id = schedule(gateway, start + dt.timedelta(days=day), associationId=association_id)
        record = {"sessionId": session_id, "beneficiaryId": person["id"]}
        data(graphql(gateway, ATTEND, input={**record, "status": "UNEXCUSED_ABSENCE"}))


def test_three_unexcused_absences_put_the_person_under_follow_up(
    phone: Page, app_url: str, association_token: str, gateway: httpx.Client, artifacts: Path
) -> None:
    person = enrol_person(gateway)
    absent_three_times(gateway, person)
    hired = enrol_person(gateway)  # in a job for a little over three months: follow-up due
    starts_on = (dt.date.today() - dt.timedelta(days=100)).isoformat()
    body = {"beneficiaryId": hired["id"], "kind": "CDI", "startsOn": starts_on}
    data(when_known_to_orientation(lambda: graphql(gateway, PLACE, input=body)))
    at_risk = data(graphql(gateway, AT_RISK, associationId=ASSOCIATION))["beneficiariesAtRisk"]
    assert {"beneficiaryId": person["id"], "sessionsMissed": 3} in at_risk

    open_app(phone, app_url, association_token)
    phone.get_by_role("navigation").get_by_role("button", name="À suivre").click()
    flagged = phone.get_by_test_id("at-risk").filter(has_text=person["name"])
    expect(flagged).to_contain_text("3 séances manquées de suite")
    expect(flagged).to_contain_text("jamais venu·e")
    due = phone.get_by_test_id("follow-up").filter(has_text=hired["name"])
    expect(due).to_contain_text("suivi à 3 mois")
    phone.screenshot(path=artifacts / "app-follow-up.png", full_page=True)

    flagged.get_by_role("button").click()
    expect(phone.get_by_role("heading", name=person["name"])).to_be_visible()
    record = phone.get_by_test_id("person-record")
    expect(record).to_contain_text("Absences non excusées3")
    expect(record).to_contain_text("Premiers pas avec l'ordinateur et le smartphone · Absent")
    phone.screenshot(path=artifacts / "app-person.png", full_page=True)


def test_another_associations_token_neither_sees_nor_changes_them(
    phone: Page, app_url: str, other_association_token: str, gateway: httpx.Client,
    platform: Platform,
) -> None:  # fmt: skip
    person = enrol_person(gateway)
    absent_three_times(gateway, person)
    session_id = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))
    headers = {"authorization": f"Bearer {other_association_token}"}
    with httpx.Client(base_url=platform.settings.gateway_url, headers=headers) as other:
        at_risk = data(graphql(other, AT_RISK, associationId=ASSOCIATION))["beneficiariesAtRisk"]
        assert person["id"] not in {row["beneficiaryId"] for row in at_risk}
        assert data(graphql(other, PERSON, id=person["id"]))["beneficiary"] is None
        assert data(graphql(other, ROLL_CALL, id=session_id))["session"] is None
        records = [{"beneficiaryId": person["id"], "status": "PRESENT"}]
        refused = graphql(
            other,
            """mutation R($sessionId: ID!, $records: [RollCallRecordInput!]!) {
              recordRollCall(sessionId: $sessionId, records: $records) { unchanged } }""",
            sessionId=session_id,
            records=records,
        ).json()
        assert refused["errors"], refused
        enrolled_elsewhere = graphql(other, ENROL, input=enrolment()).json()
        assert enrolled_elsewhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert roll_call(gateway, session_id)["attendance"] == []

    phone.goto(f"{app_url}#token={other_association_token}")
    expect(phone.get_by_test_id("association-name")).to_have_text("Le Lac Connecté")
    expect(phone.get_by_test_id("today-list")).not_to_contain_text("Premiers pas")
    assert phone.locator(f'[data-session-id="{session_id}"]').count() == 0
    phone.get_by_role("navigation").get_by_role("button", name="À suivre").click()
    expect(phone.get_by_test_id("at-risk-list")).not_to_contain_text("Chargement")
    expect(phone.get_by_test_id("at-risk-list")).not_to_contain_text(person["name"])


def test_enrolment_says_what_is_wrong_field_by_field_and_offers_the_existing_person(
    phone: Page, app_url: str, association_token: str, gateway: httpx.Client, artifacts: Path
) -> None:
    existing = enrolment(tracks=["DIGITAL_INCLUSION"])
    existing_id = data(graphql(gateway, ENROL, input=existing))["enrolBeneficiary"]["id"]
    open_app(phone, app_url, association_token)
    phone.get_by_role("navigation").get_by_role("button", name="Inscrire").click()
    form = phone.locator("#enrol-form")
    phone.get_by_label("Prénom").fill(existing["firstName"])
    phone.get_by_label("Nom", exact=True).fill(existing["lastName"])
    phone.get_by_label("Année de naissance").fill(str(existing["birthYear"]))
    phone.get_by_label("Téléphone").fill(existing["phone"])
    phone.get_by_label("E-mail").fill("pas-une-adresse")
    phone.get_by_label("Code postal").fill("33")
    form.get_by_role("button", name="Inscrire").click()  # checked here first: works offline too
    expect(form).to_contain_text("Sans cet accord, l'inscription n'est pas possible.")

    phone.get_by_label("Suivi (nécessaire pour s'inscrire)", exact=False).check()
    form.get_by_role("button", name="Inscrire").click()  # the API's BAD_USER_INPUT, per field
    expect(phone.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("Une adresse comme nom@exemple.fr.")
    expect(phone.get_by_label("Code postal")).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("Cinq chiffres, par exemple 33000.")
    phone.screenshot(path=artifacts / "app-enrol-errors.png", full_page=True)

    phone.get_by_label("E-mail").fill("")
    phone.get_by_label("Code postal").fill("33600")
    form.get_by_role("button", name="Inscrire").click()
    duplicate = phone.get_by_test_id("duplicate")
    expect(duplicate).to_contain_text(f"{existing['firstName']} {existing['lastName']}")
    phone.screenshot(path=artifacts / "app-enrol-duplicate.png", full_page=True)
    duplicate.get_by_role("button", name="Ouvrir sa fiche plutôt").click()
    expect(
        phone.get_by_role("heading", name=f"{existing['firstName']} {existing['lastName']}")
    ).to_be_visible()

    phone.get_by_role("navigation").get_by_role("button", name="Inscrire").click()
    first, last = f"Nadia-{uuid4().hex[:6]}", f"Complet-{uuid4().hex[:6]}"
    phone.get_by_label("Prénom").fill(first)
    phone.get_by_label("Nom", exact=True).fill(last)
    phone.get_by_label("Femme").check()
    phone.get_by_label("Métiers du numérique", exact=False).check()
    phone.get_by_label("Habite dans le quartier prioritaire").uncheck()
    phone.get_by_label("Année de naissance").fill("1988")
    phone.get_by_label("Situation").select_option("EMPLOYED")
    phone.get_by_label("Téléphone").fill(f"07 {uuid4().int % 10**8:08d}")
    phone.get_by_label("E-mail").fill(f"{first.lower()}@exemple.fr")
    phone.get_by_label("Adresse").fill("12 rue des Lilas")
    phone.get_by_label("Code postal").fill("33600")
    phone.get_by_label("Code commune (INSEE)").fill("33318")
    phone.get_by_label("Suivi (nécessaire pour s'inscrire)", exact=False).check()
    phone.get_by_label("Enquêtes", exact=False).check()
    form.get_by_role("button", name="Inscrire").click()
    expect(phone.get_by_text(f"{first} {last} est inscrit·e.")).to_be_visible()

    (person_id,) = named(gateway, first)
    person = data(graphql(gateway, PERSON, id=person_id))["beneficiary"]
    assert person["street"] == "12 rue des Lilas"
    assert (person["postcode"], person["inseeCode"]) == ("33600", "33318")
    assert (person["birthYear"], person["gender"], person["qpvResident"]) == (1988, "FEMALE", False)
    assert sorted(person["tracks"]) == ["DIGITAL_CAREERS", "DIGITAL_INCLUSION"]
    assert person["employmentStatus"] == "EMPLOYED"
    assert person["consent"] == {
        "programmeFollowUp": True, "shareWithPartners": False, "contactForSurveys": True,
    }  # fmt: skip
    assert existing_id != person_id


def test_a_weekly_series_scheduled_on_the_phone_is_in_graphql(
    phone: Page, app_url: str, association_token: str, gateway: httpx.Client, artifacts: Path
) -> None:
    first_day = dt.date.today() + dt.timedelta(days=1)
    until_day = first_day + dt.timedelta(days=13)
    weekdays = {first_day.weekday(), (first_day.weekday() + 2) % 7}
    expected = sum(
        (first_day + dt.timedelta(days=n)).weekday() in weekdays
        for n in range((until_day - first_day).days + 1)
    )
    names = ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche"]
    open_app(phone, app_url, association_token)
    phone.get_by_role("navigation").get_by_role("button", name="Planifier").click()
    phone.get_by_label("Module").select_option("mod-visio")
    phone.get_by_label("Type de séance").select_option("COLLECTIVE")
    phone.get_by_label("Date").fill(first_day.isoformat())
    phone.get_by_label("Heure").fill("10:30")
    phone.get_by_label("Durée (minutes)").fill("95")
    phone.get_by_label("Chaque semaine").check()
    for day in sorted(weekdays):
        phone.get_by_label(names[day]).check()
    phone.get_by_label("Jusqu'au (inclus)").fill(until_day.isoformat())
    phone.screenshot(path=artifacts / "app-schedule.png", full_page=True)
    phone.locator("#schedule-form").get_by_role("button", name="Planifier").click()

    expect(phone.get_by_text(f"{expected} séance(s) planifiée(s).")).to_be_visible()
    sessions = data(
        graphql(
            gateway,
            SESSIONS,
            associationId=ASSOCIATION,
            **{"from": f"{first_day.isoformat()}T00:00:00+00:00"},
            to=f"{(until_day + dt.timedelta(days=1)).isoformat()}T00:00:00+00:00",
        )
    )["sessions"]
    series = [s for s in sessions if s["moduleId"] == "mod-visio" and s["durationMinutes"] == 95]
    assert len(series) == expected
    paris = ZoneInfo("Europe/Paris")
    for session in series:
        starts_at = dt.datetime.fromisoformat(session["startsAt"]).astimezone(paris)
        assert (starts_at.hour, starts_at.minute) == (10, 30)
        assert starts_at.weekday() in weekdays


def test_every_screen_has_no_serious_accessibility_violation_in_french_or_english(
    phone: Page, phone_context: BrowserContext, app_url: str, quiet_association_token: str,
    gateway: httpx.Client, artifacts: Path,
) -> None:  # fmt: skip
    # In an association of a few people, like the screens a trainer sees: axe-core takes
    # seconds per screen on a roll-call of the thousand people another test enrols.
    person = enrol_person(gateway, **QUIET_PLACE)
    absent_three_times(gateway, person, QUIET_ASSOCIATION)
    session_id = schedule(
        gateway, dt.datetime.now(dt.UTC).replace(microsecond=0), associationId=QUIET_ASSOCIATION
    )
    nav = phone.get_by_role("navigation")
    problems: dict[str, list[dict[str, Any]]] = {}
    every = ("minor", "moderate", "serious", "critical")
    found: dict[str, list[dict[str, Any]]] = {}  # every impact, kept as a test artefact

    def check(screen: str) -> None:
        found[screen] = accessibility_problems(phone, every)
        problems[screen] = [p for p in found[screen] if p["impact"] in ("serious", "critical")]

    phone.goto(app_url)  # no token yet
    expect(phone.get_by_test_id("token-panel")).to_be_visible()
    check("sign-in")
    phone.screenshot(path=artifacts / "app-sign-in.png", full_page=True)

    open_app(phone, app_url, quiet_association_token, name="Passerelles Numériques de Cenon")
    check("today")
    open_roll_call(phone, session_id)
    line(phone, person).get_by_role("button", name="Présent", exact=True).click()
    check("roll-call")
    nav.get_by_role("button", name="Inscrire").click()
    phone.locator("#enrol-form").get_by_role("button", name="Inscrire").click()  # errors shown
    expect(phone.get_by_label("Prénom")).to_have_attribute("aria-invalid", "true")
    check("enrol")
    phone.screenshot(path=artifacts / "app-enrol.png", full_page=True)
    nav.get_by_role("button", name="À suivre").click()
    flagged = phone.get_by_test_id("at-risk").filter(has_text=person["name"])
    expect(flagged).to_be_visible()
    check("follow-up")
    flagged.get_by_role("button").click()
    expect(phone.get_by_role("heading", name=person["name"])).to_be_visible()
    check("person")
    nav.get_by_role("button", name="Planifier").click()
    phone.get_by_label("Chaque semaine").check()
    check("schedule")

    phone_context.set_offline(True)
    nav.get_by_role("button", name="Aujourd'hui").click()
    open_roll_call(phone, session_id)
    line(phone, person).get_by_role("button", name="Présent", exact=True).click()
    phone.get_by_role("button", name="Valider l'appel").click()
    expect(phone.get_by_test_id("outbox")).to_contain_text("1 envoi(s) en attente")
    check("waiting")
    phone_context.set_offline(False)
    expect(phone.get_by_test_id("outbox")).to_be_hidden(timeout=30_000)
    assert statuses(gateway, session_id) == {person["id"]: ("PRESENT", 180)}

    phone.get_by_test_id("lang-toggle").click()
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("button", name="Follow up")).to_be_visible()
    nav.get_by_role("button", name="Today").click()
    open_roll_call_en = phone.locator(f'[data-testid=session][data-session-id="{session_id}"]')
    open_roll_call_en.click()
    expect(phone.get_by_role("button", name="Submit roll-call")).to_be_visible()
    for word in ("Present", "Absent", "Excused"):
        expect(line(phone, person).get_by_role("button", name=word, exact=True)).to_be_visible()
    check("roll-call-en")
    phone.screenshot(path=artifacts / "app-roll-call-en.png", full_page=True)

    (artifacts / "app-accessibility.json").write_text(json.dumps(found, indent=1) + "\n")
    assert {screen: seen for screen, seen in problems.items() if seen} == {}
    overflow = phone.evaluate("document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"], f"the page is {overflow} px wide on a phone"


def test_the_link_dn_up_prints_opens_the_app_as_the_first_association(
    phone: Page, platform: Platform
) -> None:
    with cli.console.capture() as captured:
        cli._print_urls(platform.settings, "mongodb://127.0.0.1", "127.0.0.1:9092", 1.0)
    found = re.search(r"app\s+(\S+/app/#token=\S+)", captured.get())
    assert found, captured.get()
    link = found.group(1)
    assert link.startswith(f"{platform.settings.gateway_url}/app/#token=")

    phone.goto(link)
    expect(phone.get_by_test_id("association-name")).to_have_text("Le Lac Connecté")
    assert "token" not in phone.url
    assert phone.evaluate("sessionStorage.getItem('dn-app-token')") == link.split("=", 1)[1]
    expect(phone.locator("html")).to_have_attribute("lang", "fr")
    expect(phone.get_by_role("heading", name="Aujourd'hui")).to_be_visible()


def test_a_roll_call_opened_before_the_people_arrive_shows_them_when_they_do(
    phone: Page, app_url: str, association_token: str, gateway: httpx.Client
) -> None:
    """A large association or a slow network: the list of people comes after the trainer has
    opened the session (in CI, the shared platform's association had grown past a few pages
    and four tests failed that way). The roll-call says it is loading, then shows them."""
    person = enrol_person(gateway)
    session_id = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))
    held: list[Route] = []

    def hold_the_people(route: Route) -> None:
        if "beneficiaries(filter" in (route.request.post_data or ""):
            held.append(route)
        else:
            route.continue_()

    phone.route("**/graphql", hold_the_people)
    open_app(phone, app_url, association_token, people=False)
    open_roll_call(phone, session_id)
    expect(phone.get_by_text("Chargement de la liste des personnes…")).to_be_visible()
    expect(line(phone, person)).to_have_count(0)
    assert held, "the page asked for the people"

    for route in held:
        route.continue_()
    phone.unroute("**/graphql")

    line(phone, person).get_by_role("button", name="Présent", exact=True).click()
    expect(phone.get_by_text("Chargement de la liste des personnes…")).to_have_count(0)
    phone.get_by_role("button", name="Valider l'appel").click()
    expect(
        phone.get_by_text("Appel enregistré : 1 ligne(s) ajoutée(s) ou corrigée(s).")
    ).to_be_visible()
    assert statuses(gateway, session_id)[person["id"]][0] == "PRESENT"


def test_a_refusal_that_comes_back_later_is_shown_next_to_its_roll_call(
    phone: Page, phone_context: BrowserContext, app_url: str, association_token: str,
    gateway: httpx.Client, artifacts: Path,
) -> None:  # fmt: skip
    person = enrol_person(gateway)
    session_id = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))
    open_app(phone, app_url, association_token)
    phone_context.set_offline(True)
    open_roll_call(phone, session_id)
    line(phone, person).get_by_role("button", name="Présent", exact=True).click()
    phone.get_by_role("button", name="Valider l'appel").click()
    expect(phone.get_by_test_id("outbox")).to_contain_text("1 envoi(s) en attente")
    # Meanwhile someone else records this person absent from another device.
    absent = {"sessionId": session_id, "beneficiaryId": person["id"], "status": "UNEXCUSED_ABSENCE"}
    data(graphql(gateway, ATTEND, input=absent))

    phone_context.set_offline(False)
    refusal = phone.get_by_test_id("outbox-item").filter(has_text="refusé")
    expect(refusal).to_contain_text("Appel : Premiers pas", timeout=30_000)
    expect(refusal).to_contain_text(
        f"{person['name']} : déjà enregistré·e « Absent » depuis un autre appareil"
    )
    phone.get_by_role("button", name="← Séances").click()
    expect(phone.locator(f'[data-session-id="{session_id}"]')).to_contain_text("envoi refusé")
    phone.screenshot(path=artifacts / "app-refused.png", full_page=True)
    assert statuses(gateway, session_id) == {person["id"]: ("UNEXCUSED_ABSENCE", 0)}

    refusal.get_by_role("button", name="Retirer").click()
    expect(phone.get_by_test_id("outbox")).to_be_hidden()
    assert phone.evaluate("localStorage.getItem('dn-app-queue')") is None


def test_a_coordinator_chooses_the_association(
    phone: Page, app_url: str, coordinator_token: str, gateway: httpx.Client
) -> None:
    session_id = schedule(gateway, dt.datetime.now(dt.UTC).replace(microsecond=0))
    phone.goto(f"{app_url}#token={coordinator_token}")
    chooser = phone.get_by_test_id("association-select")
    expect(chooser).to_be_visible()
    chooser.select_option(ASSOCIATION)

    expect(phone.get_by_test_id("association-name")).to_have_text("Saige en Ligne")
    expect(phone.locator(f'[data-session-id="{session_id}"]')).to_be_visible()
