"""The gateway's lists and 360° view on the running platform: cursor pagination over a filtered
list, a person's training and orientation records, the bounded number of service calls a page
costs (x-dn-service-calls), and the partner event catalogue at /docs/events."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dn.platform import Platform
from tests.e2e.conftest import enrolment, graphql, until
from tests.support import graphql_data as data

pytestmark = pytest.mark.e2e

CONTRACTS = Path(__file__).parents[2] / "contracts"
PAGE_OF_FIFTY = 50
CALL_BOUND = 6  # service calls a page may cost, whatever its size

SAVE_DISTRICT = """
mutation D($id: ID!, $input: DistrictInput!) { saveDistrict(id: $id, input: $input) { id } }"""
SAVE_ASSOCIATION = """
mutation A($id: ID!, $input: AssociationInput!) {
  saveAssociation(id: $id, input: $input) { id } }"""
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
PAGE = """
query B($filter: BeneficiaryFilter, $first: Int!, $after: String) {
  beneficiaries(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id tracks } } } }"""
PAGE_360 = """
query B($filter: BeneficiaryFilter, $first: Int!) {
  beneficiaries(filter: $filter, first: $first) {
    totalCount edges { node { id firstName association { name } district { name }
      progress { sessionsPresent trained } attendance { sessionId status }
      placements { kind directedToEmployment } referrals { partnerKind status }
      workshops { id } interests { jobFamilies } followUps { months } } } } }"""
VIEW_360 = """
query V($id: ID!) { beneficiary(id: $id) { id district { id } association { id }
  progress { sessionsPresent minutesPresent assessments { competence } }
  attendance { sessionId status minutes }
  placements { id kind outcomeClass beneficiary { id } }
  referrals { partnerKind status beneficiary { id } }
  interests { jobFamilies } workshops { id } followUps { months } } }"""
SCHEDULE = """
mutation S($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id } }"""
ROLL_CALL = """
mutation R($id: ID!, $records: [RollCallRecordInput!]!) {
  recordRollCall(sessionId: $id, records: $records) { unchanged } }"""
SESSIONS = """
query S($filter: SessionFilter, $first: Int!, $after: String) {
  sessionsConnection(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id startsAt attendance { status beneficiary { id firstName } } } } } }"""
PROGRESS = "query P($id: ID!) { beneficiaryProgress(id: $id) { sessionsPresent } }"
PLACE = """
mutation P($input: RecordPlacementInput!) { recordPlacement(input: $input) { id } }"""
REFER = """
mutation R($input: ReferBeneficiaryInput!) { referBeneficiary(input: $input) { id } }"""
INTERESTS = """
mutation I($id: ID!) { setInterests(beneficiaryId: $id, jobFamilies: ["M1805"]) {
  jobFamilies } }"""


def known_to_training(client: httpx.Client, person_id: str) -> None:
    """Training learns enrolments from Kafka: wait until it has this one."""
    found = until(
        lambda: data(graphql(client, PROGRESS, id=person_id))["beneficiaryProgress"],
        lambda progress: progress is not None,
    )
    assert found is not None, f"training never learnt of {person_id}"


def service_calls(response: httpx.Response) -> int:
    return int(response.headers["x-dn-service-calls"])


@dataclass(frozen=True)
class Neighbourhood:
    """A district and association of this module's own, with its people."""

    district_id: str
    association_id: str
    inclusion: list[str]  # 12 people, DIGITAL_INCLUSION
    careers: list[str]  # 38 more, DIGITAL_CAREERS: 50 in all


@pytest.fixture(scope="module")
def neighbourhood(gateway: httpx.Client) -> Neighbourhood:
    marker = uuid4().hex[:6]
    district_id, association_id = f"qpv-lists-{marker}", f"asso-lists-{marker}"
    district = {"name": f"Quartier listes {marker}", "commune": "Bordeaux",
                "inseeCode": "33063", "qpvCode": f"QN{marker.upper()}"}  # fmt: skip
    association = {"name": f"Association listes {marker}", "districts": [district_id]}
    data(graphql(gateway, SAVE_DISTRICT, id=district_id, input=district))
    data(graphql(gateway, SAVE_ASSOCIATION, id=association_id, input=association))

    def enrol(track: str) -> str:
        person = enrolment(associationId=association_id, districtId=district_id, tracks=[track])
        person_id: str = data(graphql(gateway, ENROL, input=person))["enrolBeneficiary"]["id"]
        return person_id

    inclusion = [enrol("DIGITAL_INCLUSION") for _ in range(12)]
    careers = [enrol("DIGITAL_CAREERS") for _ in range(PAGE_OF_FIFTY - 12)]
    return Neighbourhood(district_id, association_id, inclusion, careers)


def walk(client: httpx.Client, filter: dict[str, Any], first: int) -> list[dict[str, Any]]:
    """Every page of a beneficiaries list, in order."""
    pages, after = [], None
    while True:
        page = data(graphql(client, PAGE, filter=filter, first=first, after=after))
        pages.append(page["beneficiaries"])
        if not page["beneficiaries"]["pageInfo"]["hasNextPage"]:
            return pages
        after = page["beneficiaries"]["pageInfo"]["endCursor"]
        assert len(pages) < 20, "the list does not end"


def test_pagination_walks_a_filtered_list_without_duplicates_or_gaps(
    gateway: httpx.Client, neighbourhood: Neighbourhood
) -> None:
    where = {"associationId": neighbourhood.association_id, "track": "DIGITAL_INCLUSION"}
    pages = walk(gateway, where, first=5)
    # Someone enrolled while the list is being read must not shift it either.
    listed = [edge["node"]["id"] for page in pages for edge in page["edges"]]

    assert [len(page["edges"]) for page in pages] == [5, 5, 2]
    assert {page["totalCount"] for page in pages} == {12}
    assert len(listed) == len(set(listed)) == 12
    assert set(listed) == set(neighbourhood.inclusion)
    assert all(
        edge["node"]["tracks"] == ["DIGITAL_INCLUSION"] for p in pages for edge in p["edges"]
    )
    district_wide = walk(gateway, {"districtId": neighbourhood.district_id}, first=20)
    assert sum(len(page["edges"]) for page in district_wide) == PAGE_OF_FIFTY


def test_a_cursor_from_another_list_is_a_field_error(gateway: httpx.Client) -> None:
    sessions = data(graphql(gateway, SESSIONS, filter={}, first=1))["sessionsConnection"]
    cursor = sessions["pageInfo"]["endCursor"] or "bm90LWEtY3Vyc29y"
    refused = graphql(gateway, PAGE, filter={}, first=5, after=cursor).json()["errors"][0]
    too_many = graphql(gateway, PAGE, filter={}, first=1000).json()["errors"][0]

    assert refused["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in refused["extensions"]["fields"]] == ["after"]
    assert [f["field"] for f in too_many["extensions"]["fields"]] == ["first"]


def test_the_360_view_shows_training_and_orientation_records(
    gateway: httpx.Client, neighbourhood: Neighbourhood
) -> None:
    person = neighbourhood.careers[0]
    known_to_training(gateway, person)
    session_id = data(graphql(gateway, SCHEDULE, input={
        "associationId": neighbourhood.association_id, "moduleId": "mod-premiers-pas",
        "startsAt": "2026-02-02T14:00:00+01:00", "durationMinutes": 120, "kind": "COLLECTIVE",
    }))["scheduleSession"]["id"]  # fmt: skip
    data(graphql(gateway, ROLL_CALL, id=session_id,
                 records=[{"beneficiaryId": person, "status": "PRESENT"}]))  # fmt: skip
    placed = until(
        lambda: graphql(
            gateway, PLACE, input={"beneficiaryId": person, "kind": "CDI", "startsOn": "2026-03-01"}
        ).json(),
        lambda answer: "errors" not in answer,
    )
    assert "errors" not in placed, placed
    data(graphql(gateway, REFER, input={"beneficiaryId": person, "partnerKind": "EMPLOYER"}))
    data(graphql(gateway, INTERESTS, id=person))

    view = data(graphql(gateway, VIEW_360, id=person))["beneficiary"]

    assert view["district"] == {"id": neighbourhood.district_id}
    assert view["association"] == {"id": neighbourhood.association_id}
    assert view["progress"]["sessionsPresent"] == 1
    assert view["progress"]["minutesPresent"] == 120
    assert view["attendance"] == [{"sessionId": session_id, "status": "PRESENT", "minutes": 120}]
    assert [(p["kind"], p["outcomeClass"]) for p in view["placements"]] == [
        ("CDI", "DURABLE_EMPLOYMENT")
    ]
    assert view["placements"][0]["beneficiary"] == {"id": person}
    assert view["referrals"] == [
        {"partnerKind": "EMPLOYER", "status": "open", "beneficiary": {"id": person}}
    ]
    assert view["interests"] == {"jobFamilies": ["M1805"]}


def test_a_page_of_fifty_with_training_and_orientation_costs_bounded_service_calls(
    gateway: httpx.Client, neighbourhood: Neighbourhood
) -> None:
    where = {"districtId": neighbourhood.district_id}
    fifty = graphql(gateway, PAGE_360, filter=where, first=PAGE_OF_FIFTY)
    five = graphql(gateway, PAGE_360, filter=where, first=5)
    people = data(fifty)["beneficiaries"]["edges"]

    assert len(people) == PAGE_OF_FIFTY
    assert all(edge["node"]["association"] is not None for edge in people)
    # registration page, districts, associations, training progress, training attendance,
    # orientation records: one each, whatever the page size.
    assert service_calls(fifty) <= CALL_BOUND
    assert service_calls(fifty) == service_calls(five)


def test_a_session_list_with_roll_calls_costs_bounded_service_calls(
    gateway: httpx.Client, neighbourhood: Neighbourhood
) -> None:
    people = neighbourhood.inclusion[:4]
    for person in people:
        known_to_training(gateway, person)
    start = dt.datetime(2026, 4, 6, 9, tzinfo=dt.UTC)
    for day in range(7):
        session_id = data(graphql(gateway, SCHEDULE, input={
            "associationId": neighbourhood.association_id, "moduleId": "mod-premiers-pas",
            "startsAt": (start + dt.timedelta(days=day)).isoformat(), "durationMinutes": 90,
            "kind": "COLLECTIVE",
        }))["scheduleSession"]["id"]  # fmt: skip
        records = [{"beneficiaryId": p, "status": "PRESENT"} for p in people]
        data(graphql(gateway, ROLL_CALL, id=session_id, records=records))
    where = {"associationId": neighbourhood.association_id, "from": start.isoformat()}

    first = graphql(gateway, SESSIONS, filter=where, first=5)
    page = data(first)["sessionsConnection"]
    rest = data(graphql(gateway, SESSIONS, filter=where, first=5,
                        after=page["pageInfo"]["endCursor"]))["sessionsConnection"]  # fmt: skip
    sessions = [edge["node"] for edge in page["edges"] + rest["edges"]]

    assert page["totalCount"] == 7
    assert len({s["id"] for s in sessions}) == 7
    assert [s["startsAt"] for s in sessions] == sorted(s["startsAt"] for s in sessions)
    assert all({a["beneficiary"]["id"] for a in s["attendance"]} == set(people) for s in sessions)
    # the session page, the roll-calls of the page, the people on them
    assert service_calls(first) <= 3


def test_the_event_catalogue_is_served_to_partners_without_a_token(platform: Platform) -> None:
    types = sorted(path.name.removesuffix(".json") for path in (CONTRACTS / "schemas").iterdir())
    with httpx.Client(base_url=platform.settings.gateway_url) as anonymous:
        index = anonymous.get("/docs/events")
        asyncapi = anonymous.get("/docs/events/asyncapi.json")
        schema = anonymous.get(f"/docs/events/schemas/{types[0]}.json")
        unknown = anonymous.get("/docs/events/schemas/dn.nothing.v1.json")

    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    for event_type in types:
        assert f'href="/docs/events/schemas/{event_type}.json"' in index.text
    assert "dn.intake.training" in index.text
    assert asyncapi.json() == json.loads((CONTRACTS / "asyncapi.json").read_text())
    assert schema.json() == json.loads((CONTRACTS / "schemas" / f"{types[0]}.json").read_text())
    assert unknown.status_code == 404
