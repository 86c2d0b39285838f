"""Training and orientation through GraphQL: modules, sessions, attendance making people
trained, referrals under consent, placements directed towards employment and follow-ups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import enrolment, graphql, until
from tests.support import graphql_data as data

pytestmark = pytest.mark.e2e

ASSOCIATION = "asso-saige-en-ligne"
OTHER_ASSOCIATION = "asso-lac-connecte"
MODULE = "mod-premiers-pas"

ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
IMPACT = "{ impact { trained directedToEmployment } }"
MODULES = "{ modules { id title competences level } }"
PROGRESS = """
query P($id: ID!) {
  beneficiaryProgress(id: $id) { beneficiaryId sessionsPresent minutesPresent trained } }"""
SCHEDULE = """
mutation S($input: ScheduleSessionInput!) {
  scheduleSession(input: $input) { id associationId districtId kind durationMinutes
                                   module { id } } }"""
ATTEND = """
mutation A($input: RecordAttendanceInput!) {
  recordAttendance(input: $input) { id sessionId beneficiaryId status minutes } }"""
SESSION = "query S($id: ID!) { session(id: $id) { id attendance { beneficiaryId status } } }"
CONSENT = """
mutation C($id: ID!) { setConsent(id: $id, purpose: SHARE_WITH_PARTNERS, given: true) { id } }"""
REFER = """
mutation R($input: ReferBeneficiaryInput!) {
  referBeneficiary(input: $input) { id beneficiaryId partnerKind status } }"""
PLACE = """
mutation P($input: RecordPlacementInput!) {
  recordPlacement(input: $input) { id beneficiaryId kind outcomeClass directedToEmployment
                                   startsOn } }"""
DUE = "query D($on: Date) { followUpsDue(on: $on) { placementId beneficiaryId months dueOn } }"
FOLLOW_UP = """
mutation F($id: ID!) {
  recordFollowUp(placementId: $id, months: 3, stillInPost: true) { placementId months } }"""


@pytest.fixture(scope="module")
def association_client(platform: Platform, settings: Settings) -> Iterator[httpx.Client]:
    """GraphQL as the staff of another association than the one the people are enrolled in."""
    token = issue_token(settings, Role.ASSOCIATION, association_id=OTHER_ASSOCIATION)
    with httpx.Client(
        base_url=platform.settings.gateway_url, headers={"authorization": f"Bearer {token}"}
    ) as client:
        yield client


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body.get("errors"), body
    first: dict[str, Any] = body["errors"][0]
    return first


def fields_of(refusal: dict[str, Any]) -> set[str]:
    return {f["field"] for f in refusal["extensions"].get("fields", [])}


def enrol(client: httpx.Client, **overrides: Any) -> str:
    person_id: str = data(graphql(client, ENROL, input=enrolment(**overrides)))["enrolBeneficiary"][
        "id"
    ]
    return person_id


def known_to_training(client: httpx.Client, person_id: str) -> None:
    """Training learns enrolments from Kafka: wait until it has this one."""
    progress = until(
        lambda: data(graphql(client, PROGRESS, id=person_id))["beneficiaryProgress"],
        lambda found: found is not None,
    )
    assert progress is not None, f"training never learnt of {person_id}"


def impact(client: httpx.Client) -> dict[str, int]:
    figures: dict[str, int] = data(graphql(client, IMPACT))["impact"]
    return figures


def schedule(client: httpx.Client, starts_at: dt.datetime, **overrides: Any) -> str:
    session = data(
        graphql(
            client,
            SCHEDULE,
            input={
                "associationId": ASSOCIATION,
                "moduleId": MODULE,
                "startsAt": starts_at.isoformat(),
                "durationMinutes": 180,
                "kind": "COLLECTIVE",
                **overrides,
            },
        )
    )["scheduleSession"]
    assert session["associationId"] == overrides.get("associationId", ASSOCIATION)
    if session["associationId"] == ASSOCIATION:
        assert session["districtId"] == "qpv-saige"  # the association's only district
    assert session["module"] == {"id": MODULE}
    session_id: str = session["id"]
    return session_id


def attend(client: httpx.Client, session_id: str, person_id: str) -> httpx.Response:
    return graphql(
        client,
        ATTEND,
        input={"sessionId": session_id, "beneficiaryId": person_id, "status": "PRESENT"},
    )


def unknown_to_orientation(response: httpx.Response) -> bool:
    """Orientation has not yet learnt of the person from registration's events."""
    errors = response.json().get("errors") or []
    return bool(errors) and "known to orientation" in errors[0]["message"]


def when_known_to_orientation(call: Any) -> httpx.Response:
    response: httpx.Response = until(call, lambda answer: not unknown_to_orientation(answer))
    return response


def months_later(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1)


def test_modules_list_the_catalogue_with_competences_and_level(gateway: httpx.Client) -> None:
    modules = {m["id"]: m for m in data(graphql(gateway, MODULES))["modules"]}

    assert MODULE in modules
    assert modules[MODULE]["competences"] == ["5.1", "5.2"]
    assert modules[MODULE]["level"] == "beginner"
    assert all(m["title"] and m["competences"] and m["level"] for m in modules.values())


def test_four_sessions_attended_make_a_person_trained_once(gateway: httpx.Client) -> None:
    person_id = enrol(gateway)
    known_to_training(gateway, person_id)
    before = impact(gateway)["trained"]
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=7)
    sessions = [schedule(gateway, start + dt.timedelta(days=day)) for day in range(4)]

    records = [data(attend(gateway, s, person_id))["recordAttendance"] for s in sessions]

    assert [(r["status"], r["minutes"]) for r in records] == [("PRESENT", 180)] * 4
    figures = until(lambda: impact(gateway), lambda f: f["trained"] >= before + 1)
    assert figures["trained"] == before + 1
    progress = data(graphql(gateway, PROGRESS, id=person_id))["beneficiaryProgress"]
    assert progress == {
        "beneficiaryId": person_id,
        "sessionsPresent": 4,
        "minutesPresent": 720,
        "trained": True,
    }

    again = attend(gateway, sessions[0], person_id).json()
    if again.get("errors"):
        assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    else:
        assert again["data"]["recordAttendance"]["id"] == records[0]["id"]
    roll_call = data(graphql(gateway, SESSION, id=sessions[0]))["session"]["attendance"]
    assert roll_call == [{"beneficiaryId": person_id, "status": "PRESENT"}]
    progress = data(graphql(gateway, PROGRESS, id=person_id))["beneficiaryProgress"]
    assert progress["sessionsPresent"] == 4
    assert impact(gateway)["trained"] == before + 1


def test_attendance_for_an_unknown_beneficiary_names_beneficiary_id(
    gateway: httpx.Client,
) -> None:
    session_id = schedule(gateway, dt.datetime.now(dt.UTC) - dt.timedelta(hours=5))

    refusal = error(attend(gateway, session_id, str(uuid4())))

    assert refusal["extensions"]["code"] == "BAD_USER_INPUT"
    assert fields_of(refusal) == {"beneficiaryId"}


def test_a_session_names_its_district_when_the_association_serves_several(
    gateway: httpx.Client,
) -> None:
    starts_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    session_input = {
        "associationId": "asso-rive-droite-clic",
        "moduleId": MODULE,
        "startsAt": starts_at,
        "durationMinutes": 120,
        "kind": "COLLECTIVE",
    }

    refusal = error(graphql(gateway, SCHEDULE, input=session_input))
    chosen = data(graphql(gateway, SCHEDULE, input={**session_input, "districtId": "qpv-benauge"}))

    assert refusal["extensions"]["code"] == "BAD_USER_INPUT"
    assert fields_of(refusal) == {"districtId"}
    assert "qpv-benauge" in refusal["message"]
    assert "qpv-palmer-saraillere" in refusal["message"]
    assert chosen["scheduleSession"]["districtId"] == "qpv-benauge"


def test_an_association_cannot_record_attendance_at_another_associations_session(
    gateway: httpx.Client, association_client: httpx.Client
) -> None:
    person_id = enrol(gateway)
    known_to_training(gateway, person_id)
    session_id = schedule(gateway, dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))

    refusal = error(attend(association_client, session_id, person_id))

    assert refusal["extensions"]["code"] in ("FORBIDDEN", "BAD_USER_INPUT")
    if refusal["extensions"]["code"] == "BAD_USER_INPUT":
        assert fields_of(refusal) == {"sessionId"}
    roll_call = data(graphql(gateway, SESSION, id=session_id))["session"]["attendance"]
    assert roll_call == []


def test_a_referral_needs_consent_to_share_with_partners(gateway: httpx.Client) -> None:
    consent = {"programmeFollowUp": True, "shareWithPartners": False, "contactForSurveys": False}
    person_id = enrol(gateway, consent=consent)
    referral = {"beneficiaryId": person_id, "partnerKind": "FRANCE_TRAVAIL"}

    refusal = error(when_known_to_orientation(lambda: graphql(gateway, REFER, input=referral)))

    assert refusal["extensions"]["code"] == "BAD_USER_INPUT"
    assert "share_with_partners" in refusal["message"]
    assert fields_of(refusal) == {"beneficiaryId"}

    data(graphql(gateway, CONSENT, id=person_id))
    made = until(
        lambda: graphql(gateway, REFER, input=referral).json(),
        lambda body: "data" in body and body["data"] is not None and not body.get("errors"),
    )
    assert made.get("errors") is None, made
    assert made["data"]["referBeneficiary"]["status"] == "open"
    assert made["data"]["referBeneficiary"]["partnerKind"] == "FRANCE_TRAVAIL"


def test_placements_count_towards_employment_except_other(gateway: httpx.Client) -> None:
    employed, other = enrol(gateway), enrol(gateway)
    before = impact(gateway)["directedToEmployment"]
    today = dt.date.today()
    starts_on = (today - dt.timedelta(days=100)).replace(day=10)

    def place(person_id: str, kind: str) -> dict[str, Any]:
        body = {"beneficiaryId": person_id, "kind": kind, "startsOn": starts_on.isoformat()}
        placed = when_known_to_orientation(lambda: graphql(gateway, PLACE, input=body))
        return data(placed)["recordPlacement"]

    cdi = place(employed, "CDI")

    assert cdi["outcomeClass"] == "DURABLE_EMPLOYMENT"
    assert cdi["directedToEmployment"] is True
    figures = until(lambda: impact(gateway), lambda f: f["directedToEmployment"] >= before + 1)
    assert figures["directedToEmployment"] == before + 1

    no_job = place(other, "OTHER")

    assert no_job["directedToEmployment"] is False
    # Give reporting time to (wrongly) count it before checking it did not.
    figures = until(
        lambda: impact(gateway), lambda f: f["directedToEmployment"] != before + 1, timeout_s=2
    )
    assert figures["directedToEmployment"] == before + 1

    due_on = months_later(starts_on, 3)
    due = data(graphql(gateway, DUE, on=due_on.isoformat()))["followUpsDue"]
    assert {
        "placementId": cdi["id"],
        "beneficiaryId": employed,
        "months": 3,
        "dueOn": due_on.isoformat(),
    } in due
    assert all(d["placementId"] != no_job["id"] for d in due)

    recorded = data(graphql(gateway, FOLLOW_UP, id=cdi["id"]))["recordFollowUp"]
    assert recorded == {"placementId": cdi["id"], "months": 3}
    assert error(graphql(gateway, FOLLOW_UP, id=cdi["id"]))["extensions"]["code"] == "CONFLICT"
    due = data(graphql(gateway, DUE, on=due_on.isoformat()))["followUpsDue"]
    assert all(d["placementId"] != cdi["id"] for d in due)


def test_recurring_sessions_roll_call_headcount_and_assessment(gateway: httpx.Client) -> None:
    person_id = enrol(gateway)
    known_to_training(gateway, person_id)
    first_day = dt.date.today() - dt.timedelta(days=21)
    series = data(
        graphql(
            gateway,
            """mutation R($input: ScheduleRecurringSessionsInput!) {
                 scheduleRecurringSessions(input: $input) { id startsAt districtId } }""",
            input={
                "associationId": ASSOCIATION,
                "moduleId": MODULE,
                "weekdays": ["MONDAY", "THURSDAY"],
                "from": first_day.isoformat(),
                "until": (first_day + dt.timedelta(days=13)).isoformat(),
                "at": "14:00",
                "durationMinutes": 90,
                "kind": "COLLECTIVE",
            },
        )
    )["scheduleRecurringSessions"]
    assert len(series) == 4
    session_id = series[0]["id"]

    roll_call = data(
        graphql(
            gateway,
            """mutation C($id: ID!, $records: [RollCallRecordInput!]!) {
                 recordRollCall(sessionId: $id, records: $records) {
                   recorded { beneficiaryId status minutes } unchanged } }""",
            id=session_id,
            records=[{"beneficiaryId": person_id, "status": "PRESENT", "minutes": 60}],
        )
    )["recordRollCall"]
    headcount = data(
        graphql(
            gateway,
            """mutation H($id: ID!) {
                 recordAnonymousAttendance(sessionId: $id, count: 3) { anonymousCount } }""",
            id=session_id,
        )
    )["recordAnonymousAttendance"]
    assessed = data(
        graphql(
            gateway,
            """mutation A($input: RecordAssessmentInput!) {
                 recordAssessment(input: $input) { competence stage level autonomy } }""",
            input={
                "beneficiaryId": person_id,
                "competence": "5.1",
                "stage": "INITIAL",
                "level": 1,
                "autonomy": "ASSISTED",
            },
        )
    )["recordAssessment"]
    listed = data(
        graphql(
            gateway,
            "query L($a: ID, $from: DateTime) { sessions(associationId: $a, from: $from) { id } }",
            a=ASSOCIATION,
            **{"from": f"{first_day.isoformat()}T00:00:00+00:00"},
        )
    )["sessions"]
    progress = data(
        graphql(
            gateway,
            """query P($id: ID!) { beneficiaryProgress(id: $id) {
                 minutesPresent assessments { competence initial { level } final { level } } } }""",
            id=person_id,
        )
    )["beneficiaryProgress"]

    assert roll_call == {
        "recorded": [{"beneficiaryId": person_id, "status": "PRESENT", "minutes": 60}],
        "unchanged": 0,
    }
    assert headcount == {"anonymousCount": 3}
    assert assessed == {"competence": "5.1", "stage": "INITIAL", "level": 1, "autonomy": "ASSISTED"}
    assert {s["id"] for s in series} <= {s["id"] for s in listed}
    assert progress == {
        "minutesPresent": 60,
        "assessments": [{"competence": "5.1", "initial": {"level": 1}, "final": None}],
    }


def test_workshops_interests_and_referral_answers(gateway: httpx.Client) -> None:
    person_id = enrol(gateway)
    reference = data(graphql(gateway, "{ jobFamilies { code title romeCodes } refusalReasons }"))
    family = reference["jobFamilies"][0]["code"]
    reason = reference["refusalReasons"][0]

    interests = data(
        when_known_to_orientation(
            lambda: graphql(
                gateway,
                """mutation I($id: ID!, $families: [String!]!) {
                     setInterests(beneficiaryId: $id, jobFamilies: $families) { jobFamilies } }""",
                id=person_id,
                families=[family],
            )
        )
    )["setInterests"]
    workshop = data(
        graphql(
            gateway,
            """mutation W($input: RecordWorkshopInput!) {
                 recordWorkshop(input: $input) { id participants womenFocused jobFamilies } }""",
            input={
                "associationId": ASSOCIATION,
                "heldAt": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat(),
                "participants": [person_id],
                "jobFamilies": [family],
                "womenFocused": True,
            },
        )
    )["recordWorkshop"]
    made = data(
        graphql(gateway, REFER, input={"beneficiaryId": person_id, "partnerKind": "MISSION_LOCALE"})
    )["referBeneficiary"]
    resolve = """mutation S($id: ID!, $reason: String) {
                   resolveReferral(id: $id, outcome: REFUSED, refusalReason: $reason) {
                     status refusalReason resolvedAt } }"""
    unexplained = error(graphql(gateway, resolve, id=made["id"], reason=None))
    resolved = data(graphql(gateway, resolve, id=made["id"], reason=reason))["resolveReferral"]

    assert interests == {"jobFamilies": [family]}
    assert workshop["participants"] == [person_id]
    assert workshop["womenFocused"] is True
    assert fields_of(unexplained) == {"refusalReason"}
    assert resolved["status"] == "refused"
    assert resolved["refusalReason"] == reason
    assert resolved["resolvedAt"]
