"""The access log across services: reads and changes of a person's attendance, assessments and
placements in training and orientation show up in GraphQL ``auditLog`` for that person (who,
role, service, kind of record, route; never the content) and in the right-of-access export."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import enrolment, graphql, until
from tests.support import graphql_data as data

pytestmark = pytest.mark.e2e

ASSOCIATION = "asso-saige-en-ligne"
PARTNER_SOURCE = "partners/saige-en-ligne/lms"
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
PROGRESS = "query P($id: ID!) { beneficiaryProgress(id: $id) { beneficiaryId } }"
SCHEDULE = "mutation S($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id } }"
ATTEND = """
mutation A($input: RecordAttendanceInput!) { recordAttendance(input: $input) { id minutes } }"""
ATTENDANCE = "query R($id: ID!) { beneficiary(id: $id) { attendance { id status minutes } } }"
PLACE = """
mutation P($input: RecordPlacementInput!) { recordPlacement(input: $input) { id employer } }"""
AUDIT = """
query Audit($id: ID!) {
  auditLog(beneficiaryId: $id) { at service actor role action record beneficiaryId route } }"""
EXPORT = "query Export($id: ID!) { beneficiaryExport(id: $id) }"


@pytest.fixture(scope="module")
def staff(platform: Platform, settings: Settings) -> Iterator[httpx.Client]:
    """GraphQL as the staff of the association the person is enrolled in."""
    token = issue_token(settings, Role.ASSOCIATION, association_id=ASSOCIATION)
    with httpx.Client(
        base_url=platform.settings.gateway_url, headers={"authorization": f"Bearer {token}"}
    ) as client:
        yield client


def subject_of(client: httpx.Client) -> str:
    token = client.headers["authorization"].removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def entries_of(client: httpx.Client, person_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = data(graphql(client, AUDIT, id=person_id))["auditLog"]
    return entries


def placed_when_orientation_knows(staff: httpx.Client, person_id: str, employer: str) -> None:
    """Orientation learns of the person from registration's events: retry until it has."""
    placement = {"beneficiaryId": person_id, "kind": "CDI", "startsOn": dt.date.today().isoformat(),
                 "employer": employer, "digitalSector": True}  # fmt: skip
    answer = until(
        lambda: graphql(staff, PLACE, input=placement).json(),
        lambda body: not body.get("errors"),
    )
    assert not answer.get("errors"), answer


def assessment_from_a_partner(platform: Platform, token: str, person_id: str) -> None:
    event = {
        "specversion": "1.0",
        "id": str(uuid4()),
        "source": PARTNER_SOURCE,
        "type": "dn.intake.training.assessment_reported.v1",
        "datacontenttype": "application/json",
        "data": {"beneficiary_id": person_id, "competence": "1.1", "stage": "initial",
                 "level": 2, "autonomy": "assisted"},
    }  # fmt: skip
    response = httpx.post(
        f"{platform.settings.gateway_url}/ingest/training",
        content=json.dumps(event).encode(),
        headers={"content-type": "application/cloudevents+json", "authorization": token},
        timeout=15,
    )
    assert response.status_code == 202, response.text


def test_training_and_orientation_reads_and_changes_are_audited_per_person_without_content(
    gateway: httpx.Client, staff: httpx.Client, platform: Platform
) -> None:
    person = enrolment(associationId=ASSOCIATION, districtId="qpv-saige")
    person_id = data(graphql(gateway, ENROL, input=person))["enrolBeneficiary"]["id"]
    until(
        lambda: data(graphql(gateway, PROGRESS, id=person_id))["beneficiaryProgress"],
        lambda found: found is not None,
    )
    starts_at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    session = {"associationId": ASSOCIATION, "moduleId": "mod-premiers-pas", "kind": "COLLECTIVE",
               "startsAt": starts_at.isoformat(), "durationMinutes": 137}  # fmt: skip
    session_id = data(graphql(gateway, SCHEDULE, input=session))["scheduleSession"]["id"]
    employer = f"Employeur-{uuid4().hex[:10]}"

    data(graphql(gateway, ATTEND, input={"sessionId": session_id, "beneficiaryId": person_id,
                                          "status": "PRESENT"}))  # fmt: skip
    read = data(graphql(staff, ATTENDANCE, id=person_id))["beneficiary"]["attendance"]
    placed_when_orientation_knows(staff, person_id, employer)
    assessment_from_a_partner(platform, gateway.headers["authorization"], person_id)
    entries = until(
        lambda: entries_of(gateway, person_id),
        lambda found: any(e["record"] == "ASSESSMENT" for e in found),
    )

    assert [r["minutes"] for r in read] == [137]
    coordinator, association = subject_of(gateway), subject_of(staff)
    seen = {(e["service"], e["action"], e["record"], e["actor"], e["role"], e["route"])
            for e in entries}  # fmt: skip
    assert ("training", "record", "ATTENDANCE", coordinator, "coordinator",
            "POST /sessions/{session_id}/attendance") in seen  # fmt: skip
    assert ("training", "read", "ATTENDANCE", association, "association",
            "POST /beneficiaries/attendance") in seen  # fmt: skip
    assert ("orientation", "record", "PLACEMENT", association, "association",
            "POST /placements") in seen  # fmt: skip
    assert ("training", "record", "ASSESSMENT", PARTNER_SOURCE, "partner",
            "kafka dn.intake.training") in seen  # fmt: skip
    assert ("registration", "enrol", "BENEFICIARY", coordinator, "coordinator",
            "POST /beneficiaries") in seen  # fmt: skip
    assert {e["beneficiaryId"] for e in entries} == {person_id}
    times = [dt.datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times, reverse=True), "newest first, across services"
    text = json.dumps(entries)
    for content in (employer, "PRESENT", "present", "CDI", person["firstName"],
                    person["lastName"], person["phone"]):  # fmt: skip
        assert content not in text, f"the access log holds no content ({content})"


def test_the_export_includes_each_services_access_log(
    gateway: httpx.Client, staff: httpx.Client
) -> None:
    person_id = data(graphql(gateway, ENROL, input=enrolment()))["enrolBeneficiary"]["id"]
    employer = f"Employeur-{uuid4().hex[:10]}"
    placed_when_orientation_knows(staff, person_id, employer)

    document = data(graphql(gateway, EXPORT, id=person_id))["beneficiaryExport"]

    logs = {name: section["access_log"] for name, section in document["services"].items()
            if "access_log" in section}  # fmt: skip
    assert set(logs) == {"registration", "training", "orientation", "reporting"}
    placement = [e for e in logs["orientation"] if e["record"] == "placement"]
    assert [(e["action"], e["actor"], e["role"]) for e in placement] == [
        ("record", subject_of(staff), "association")
    ]
    exports = [
        (name, e["action"], e["record"])
        for name, entries in logs.items()
        for e in entries
        if e["action"] == "export"
    ]
    assert ("training", "export", "all_records") in exports, "the export is itself audited"
    assert all(e["beneficiary_id"] == person_id for entries in logs.values() for e in entries)
    assert employer not in json.dumps(logs)
