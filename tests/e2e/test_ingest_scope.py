"""Every partner request type over HTTP, scoped by what its named records belong to: a partner
token sends each type of the three intake topics to ``POST /ingest/{service}`` and each is
accepted and applied; naming another association's session, person or referral is refused
with 403 and the reason, before anything is published."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.maturity import MaturityQuestion
from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import enrolment, graphql, until
from tests.support import graphql_data as data

pytestmark = pytest.mark.e2e
DISTRICT = "qpv-aubiers-lac"
MODULE = "mod-recherche-web"
SAVE_ASSOCIATION = """
mutation A($id: ID!, $input: AssociationInput!) {
  saveAssociation(id: $id, input: $input) { id } }"""
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
SCHEDULE = """
mutation S($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id } }"""
REFER = """
mutation R($input: ReferBeneficiaryInput!) { referBeneficiary(input: $input) { id } }"""
PERSON = """
query B($id: ID!) { beneficiary(id: $id) {
  id associationId firstName
  attendance { sessionId status minutes }
  progress { assessments { competence initial { level autonomy } } }
  workshops { id associationId participants }
  interests { jobFamilies }
  referrals { id status partnerKind }
  placements { id kind startsOn }
  followUps { placementId months stillInPost }
} }"""
SESSION = """
query S($id: ID!) { session(id: $id) { id associationId anonymousCount
  attendance { beneficiaryId status } } }"""
MATURITY = "query M($id: ID!) { associationMaturity(id: $id) { history { id score } } }"
PROGRESS = "query P($id: ID!) { beneficiaryProgress(id: $id) { beneficiaryId } }"


@dataclass(frozen=True)
class Partner:
    """One association's partner system: its token and the gateway's intake address."""

    association_id: str
    token: str
    url: str

    def send(self, service: str, fact: str, payload: dict[str, Any]) -> httpx.Response:
        event = {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": f"partners/{self.association_id}/crm",
            "type": f"dn.intake.{service}.{fact}.v1",
            "datacontenttype": "application/json",
            "data": payload,
        }
        return httpx.post(
            f"{self.url}/{service}",
            content=json.dumps(event).encode(),
            headers={
                "authorization": f"Bearer {self.token}",
                "content-type": "application/cloudevents+json",
            },
            timeout=15,
        )


@dataclass(frozen=True)
class Elsewhere:
    """Records of another association: a person, a session and a referral."""

    association_id: str
    beneficiary_id: str
    session_id: str
    referral_id: str


def new_association(gateway: httpx.Client, name: str) -> str:
    association_id = f"asso-scope-{name}-{uuid4().hex[:8]}"
    association = {"name": f"Association {association_id}", "districts": [DISTRICT]}
    data(graphql(gateway, SAVE_ASSOCIATION, id=association_id, input=association))
    return association_id


def accepted(response: httpx.Response) -> None:
    assert response.status_code == 202, response.text


def person(gateway: httpx.Client, beneficiary_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = data(graphql(gateway, PERSON, id=beneficiary_id))["beneficiary"]
    return found


def known_to_training(gateway: httpx.Client, beneficiary_id: str) -> None:
    progress = until(
        lambda: data(graphql(gateway, PROGRESS, id=beneficiary_id))["beneficiaryProgress"],
        lambda found: found is not None,
    )
    assert progress is not None, f"training never learnt of {beneficiary_id}"


def known_to_orientation(platform: Platform, beneficiary_id: str, association_id: str) -> None:
    """Orientation learns enrolments from Kafka: wait until it knows whose this person is."""
    token = issue_token(platform.settings, Role.COORDINATOR, audience="orientation")
    question = {"references": [{"kind": "beneficiary", "id": beneficiary_id}]}

    def owners() -> list[dict[str, str]]:
        response = httpx.post(
            f"{platform.settings.service_url('orientation')}/intake/scope",
            json=question,
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, str]] = response.json()["owners"]
        return found

    seen = until(owners, lambda found: bool(found))
    expected = {"kind": "beneficiary", "id": beneficiary_id, "association_id": association_id}
    assert seen == [expected]


@pytest.fixture(scope="module")
def partner(platform: Platform, settings: Settings, gateway: httpx.Client) -> Partner:
    association_id = new_association(gateway, "own")
    token = issue_token(settings, Role.PARTNER, association_id=association_id)
    return Partner(association_id, token, f"{platform.settings.gateway_url}/ingest")


@pytest.fixture(scope="module")
def beneficiary_id(partner: Partner, gateway: httpx.Client, platform: Platform) -> str:
    """A person the partner enrolled over HTTP, under an id it chose, known everywhere."""
    chosen = str(uuid4())
    marker = uuid4().hex[:10]
    enrolment_request = {
        "association_id": partner.association_id,
        "district_id": DISTRICT,
        "first_name": f"Portée{marker}",
        "last_name": f"Partenaire{marker}",
        "birth_year": 1991,
        "phone": f"07 {uuid4().int % 10**8:08d}",
        "gender": "female",
        "tracks": ["digital_inclusion", "digital_careers"],
        "employment_status": "registered_job_seeker",
        "consent": {"programme_follow_up": True, "share_with_partners": True,
                    "contact_for_surveys": False},
        "partner_reference": f"crm-{marker}",
        "beneficiary_id": chosen,
    }  # fmt: skip

    accepted(partner.send("registration", "enrolment_requested", enrolment_request))

    enrolled = until(lambda: person(gateway, chosen), lambda found: found is not None)
    assert enrolled is not None, "the enrolment sent over HTTP was applied"
    assert (enrolled["associationId"], enrolled["firstName"]) == (
        partner.association_id,
        f"Portée{marker}",
    )
    known_to_training(gateway, chosen)
    known_to_orientation(platform, chosen, partner.association_id)
    return chosen


@pytest.fixture(scope="module")
def session_id(partner: Partner, gateway: httpx.Client) -> str:
    """A session the partner scheduled over HTTP, under an id it chose."""
    chosen = str(uuid4())
    starts_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    session_request = {
        "association_id": partner.association_id,
        "district_id": DISTRICT,
        "module_id": MODULE,
        "kind": "collective",
        "starts_at": starts_at.isoformat(),
        "duration_minutes": 120,
        "capacity": 12,
        "session_id": chosen,
    }

    accepted(partner.send("training", "session_reported", session_request))

    scheduled = until(
        lambda: data(graphql(gateway, SESSION, id=chosen))["session"],
        lambda found: found is not None,
    )
    assert scheduled is not None, "the session sent over HTTP was scheduled"
    assert scheduled["associationId"] == partner.association_id
    return chosen


@pytest.fixture(scope="module")
def elsewhere(gateway: httpx.Client, platform: Platform) -> Elsewhere:
    """Another association's person, session and referral, recorded by a coordinator."""
    association_id = new_association(gateway, "other")
    beneficiary_id: str = data(
        graphql(gateway, ENROL, input=enrolment(associationId=association_id, districtId=DISTRICT))
    )["enrolBeneficiary"]["id"]
    session_id: str = data(
        graphql(
            gateway,
            SCHEDULE,
            input={
                "associationId": association_id,
                "moduleId": MODULE,
                "startsAt": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                "durationMinutes": 90,
                "kind": "COLLECTIVE",
            },
        )
    )["scheduleSession"]["id"]
    known_to_training(gateway, beneficiary_id)
    known_to_orientation(platform, beneficiary_id, association_id)
    referral_id: str = data(
        graphql(
            gateway,
            REFER,
            input={"beneficiaryId": beneficiary_id, "partnerKind": "FRANCE_TRAVAIL"},
        )
    )["referBeneficiary"]["id"]
    return Elsewhere(association_id, beneficiary_id, session_id, referral_id)


def test_each_training_request_over_http_is_accepted_and_applied(
    partner: Partner, gateway: httpx.Client, beneficiary_id: str, session_id: str
) -> None:
    assessment_id = str(uuid4())
    answers = {question.value: 2 for question in MaturityQuestion}

    requests: list[tuple[str, dict[str, Any]]] = [
        ("attendance_reported",
         {"session_id": session_id, "beneficiary_id": beneficiary_id, "status": "present",
          "minutes": 110}),
        ("anonymous_attendance_reported", {"session_id": session_id, "count": 4}),
        ("assessment_reported",
         {"beneficiary_id": beneficiary_id, "competence": "1.1", "stage": "initial", "level": 2,
          "autonomy": "partly_autonomous"}),
        ("maturity_assessment_reported",
         {"association_id": partner.association_id, "answers": answers,
          "assessment_id": assessment_id}),
    ]  # fmt: skip
    for fact, payload in requests:
        accepted(partner.send("training", fact, payload))

    applied = until(
        lambda: (person(gateway, beneficiary_id), data(graphql(gateway, SESSION, id=session_id))),
        lambda seen: bool(
            seen[0] and seen[0]["attendance"] and seen[0]["progress"]["assessments"]
            and seen[1]["session"]["anonymousCount"] == 4
        ),
    )  # fmt: skip
    found, session = applied[0], applied[1]["session"]
    assert found is not None
    assert found["attendance"] == [{"sessionId": session_id, "status": "PRESENT", "minutes": 110}]
    assert found["progress"]["assessments"] == [
        {"competence": "1.1", "initial": {"level": 2, "autonomy": "PARTLY_AUTONOMOUS"}}
    ]
    assert session["anonymousCount"] == 4
    assert session["attendance"] == [{"beneficiaryId": beneficiary_id, "status": "PRESENT"}]

    def maturity_history() -> list[dict[str, Any]]:
        maturity = data(graphql(gateway, MATURITY, id=partner.association_id))
        history: list[dict[str, Any]] = maturity["associationMaturity"]["history"]
        return history

    history = until(maturity_history, lambda seen: bool(seen))
    assert [assessment["id"] for assessment in history] == [assessment_id]
    assert history[0]["score"] > 0


def test_each_orientation_request_over_http_is_accepted_and_applied(
    partner: Partner, gateway: httpx.Client, beneficiary_id: str
) -> None:
    referral_id, placement_id = str(uuid4()), str(uuid4())
    held_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    starts_on = date.today() - timedelta(days=120)  # its 3-month follow-up is due

    requests: list[tuple[str, dict[str, Any]]] = [
        ("workshop_reported",
         {"association_id": partner.association_id, "held_at": held_at,
          "job_families": ["M1805"], "women_focused": True, "participants": [beneficiary_id]}),
        ("interests_reported", {"beneficiary_id": beneficiary_id, "job_families": ["M1805"]}),
        ("referral_requested",
         {"beneficiary_id": beneficiary_id, "partner_kind": "mission_locale",
          "referral_id": referral_id}),
        ("placement_reported",
         {"beneficiary_id": beneficiary_id, "kind": "cdd_6m_plus",
          "starts_on": starts_on.isoformat(), "digital_sector": True,
          "employer": "Numérique Bordeaux", "placement_id": placement_id}),
    ]  # fmt: skip
    for fact, payload in requests:
        accepted(partner.send("orientation", fact, payload))
    # What names the referral and the placement goes once they are recorded (requests on
    # different keys are not ordered; the ones that arrive first are not the point here).
    made = until(
        lambda: person(gateway, beneficiary_id),
        lambda seen: bool(seen and seen["referrals"] and seen["placements"]),
    )
    assert made is not None
    assert made["referrals"]
    assert made["placements"]
    accepted(
        partner.send(
            "orientation",
            "referral_resolution_reported",
            {"referral_id": referral_id, "outcome": "accepted"},
        )
    )
    accepted(
        partner.send(
            "orientation",
            "follow_up_reported",
            {"placement_id": placement_id, "months": 3, "still_in_post": True},
        )
    )

    found = until(
        lambda: person(gateway, beneficiary_id),
        lambda seen: bool(
            seen and seen["followUps"] and seen["referrals"][0]["status"] == "accepted"
            and seen["workshops"] and seen["interests"]
        ),
    )  # fmt: skip
    assert found is not None
    assert [(w["associationId"], w["participants"]) for w in found["workshops"]] == [
        (partner.association_id, [beneficiary_id])
    ]
    assert found["interests"] == {"jobFamilies": ["M1805"]}
    assert found["referrals"] == [
        {"id": referral_id, "status": "accepted", "partnerKind": "MISSION_LOCALE"}
    ]
    assert found["placements"] == [
        {"id": placement_id, "kind": "CDD_6M_PLUS", "startsOn": starts_on.isoformat()}
    ]
    assert found["followUps"] == [{"placementId": placement_id, "months": 3, "stillInPost": True}]


def test_another_association_s_records_are_refused_with_the_reason(
    partner: Partner,
    gateway: httpx.Client,
    beneficiary_id: str,
    elsewhere: Elsewhere,
) -> None:
    own_rule = f"this token may send events only for association {partner.association_id}"

    their_session = partner.send(
        "training",
        "attendance_reported",
        {"session_id": elsewhere.session_id, "beneficiary_id": beneficiary_id,
         "status": "present"},
    )  # fmt: skip
    their_person = partner.send(
        "training",
        "assessment_reported",
        {"beneficiary_id": elsewhere.beneficiary_id, "competence": "4.1", "stage": "initial",
         "level": 1, "autonomy": "assisted"},
    )  # fmt: skip
    their_placement = partner.send(
        "orientation",
        "placement_reported",
        {"beneficiary_id": elsewhere.beneficiary_id, "kind": "cdi",
         "starts_on": date.today().isoformat()},
    )  # fmt: skip
    their_referral = partner.send(
        "orientation",
        "referral_resolution_reported",
        {"referral_id": elsewhere.referral_id, "outcome": "refused",
         "refusal_reason": "person_declined"},
    )  # fmt: skip

    for response, kind, record_id in [
        (their_session, "session", elsewhere.session_id),
        (their_person, "beneficiary", elsewhere.beneficiary_id),
        (their_placement, "beneficiary", elsewhere.beneficiary_id),
        (their_referral, "referral", elsewhere.referral_id),
    ]:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == (
            f"{kind} {record_id} belongs to association {elsewhere.association_id}; {own_rule}"
        )
    # Nothing was published: the other association's records are as the coordinator left them.
    theirs = person(gateway, elsewhere.beneficiary_id)
    assert theirs is not None
    assert theirs["progress"]["assessments"] == []
    assert theirs["placements"] == []
    assert [r["status"] for r in theirs["referrals"]] == ["open"]
    session = data(graphql(gateway, SESSION, id=elsewhere.session_id))["session"]
    assert session["attendance"] == []


def test_a_coordinator_may_name_any_association_s_records(
    settings: Settings, platform: Platform, gateway: httpx.Client, elsewhere: Elsewhere
) -> None:
    coordinator = Partner(
        "coordination",
        issue_token(settings, Role.COORDINATOR),
        f"{platform.settings.gateway_url}/ingest",
    )

    response = coordinator.send(
        "training", "anonymous_attendance_reported", {"session_id": elsewhere.session_id,
                                                       "count": 7},
    )  # fmt: skip

    accepted(response)
    session = until(
        lambda: data(graphql(gateway, SESSION, id=elsewhere.session_id))["session"],
        lambda seen: bool(seen and seen["anonymousCount"] == 7),
    )
    assert session["anonymousCount"] == 7


def test_records_not_known_yet_are_accepted(partner: Partner, beneficiary_id: str) -> None:
    # The platform applies what names something not known yet once it arrives (or
    # dead-letters it with the reason): the gateway does not refuse it.
    unknown_session = partner.send(
        "training",
        "attendance_reported",
        {"session_id": str(uuid4()), "beneficiary_id": beneficiary_id, "status": "present"},
    )
    unknown_placement = partner.send(
        "orientation",
        "follow_up_reported",
        {"placement_id": str(uuid4()), "months": 6, "still_in_post": False},
    )

    accepted(unknown_session)
    accepted(unknown_placement)
    assert unknown_session.json()["topic"] == "dn.intake.training"
    assert unknown_placement.json()["topic"] == "dn.intake.orientation"


DELIVERY_LOG = "{ deliveryLog { service partner accepted rejected waiting } }"


def test_a_partner_reads_its_own_delivery_lines_and_no_one_else_s(
    partner: Partner, beneficiary_id: str, settings: Settings, gateway: httpx.Client
) -> None:
    """Lines are kept per sending system (the events' source); a partner's or association's
    token sees those of what was sent with its association's tokens."""
    own = httpx.post(
        f"{settings.gateway_url}/graphql",
        json={"query": DELIVERY_LOG},
        headers={"authorization": f"Bearer {partner.token}"},
        timeout=10,
    )
    lines = data(own)["deliveryLog"]
    assert lines, "the partner sees its lines"
    assert {line["partner"] for line in lines} == {f"partners/{partner.association_id}/crm"}
    [registration] = [line for line in lines if line["service"] == "registration"]
    assert registration["accepted"] >= 1

    other = new_association(gateway, "other-reader")
    token = issue_token(settings, Role.ASSOCIATION, association_id=other)
    theirs = httpx.post(
        f"{settings.gateway_url}/graphql",
        json={"query": DELIVERY_LOG},
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert data(theirs)["deliveryLog"] == []
