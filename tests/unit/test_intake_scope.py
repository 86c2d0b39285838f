"""A partner's request over HTTP is scoped by what its named records belong to: which records
each intake type names, the answer the owning service gives, and the gateway's refusal, 503
and acceptance — the services answered by a stand-in, the broker by a recorder, no I/O."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contracts.catalogue import INTAKE_TYPES
from contracts.dimensions import Gender, Track
from contracts.intake import EnrolmentRequestedV1, IntakeConsent
from contracts.maturity import MaturityQuestion
from contracts.orientation import (
    FollowUpReportedV1,
    PlacementKind,
    PlacementReportedV1,
    ReferralOutcome,
    ReferralResolutionReportedV1,
    WorkshopReportedV1,
)
from contracts.scope import (
    REFERENCES,
    Owner,
    Reference,
    ReferenceKind,
    ScopeAnswer,
    ScopeQuestion,
    references_of,
)
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AssessmentStage,
    AttendanceReportedV1,
    AttendanceStatus,
    Autonomy,
    SessionKind,
    SessionReportedV1,
)
from gateway.ingest import IntakePublisher, ingest_router
from gateway.intake_scope import refusal
from gateway.services import Services
from kit.auth import Role, issue_token
from kit.settings import Settings

SETTINGS = Settings(jwt_secret="x" * 48)
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
PERSON = UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")
SESSION = "7c1d0a52-5b7e-4f55-9a57-3b1f1a7a0c11"
Answer = Callable[[httpx.Request], httpx.Response]


def beneficiary(person: UUID | str = PERSON) -> Reference:
    return Reference(kind=ReferenceKind.BENEFICIARY, id=str(person))


def session(session_id: str = SESSION) -> Reference:
    return Reference(kind=ReferenceKind.SESSION, id=session_id)


# -- which records each type names --------------------------------------------------------


def test_every_intake_type_says_which_records_it_names() -> None:
    missing = sorted(model.__name__ for model in INTAKE_TYPES.values() if model not in REFERENCES)

    assert INTAKE_TYPES
    assert missing == []


def test_attendance_names_its_session_and_its_person() -> None:
    attendance = AttendanceReportedV1(
        session_id=SESSION, beneficiary_id=PERSON, status=AttendanceStatus.PRESENT
    )

    assert references_of(attendance) == [session(), beneficiary()]


def test_each_request_without_an_association_names_what_it_is_about() -> None:
    referral, placement = uuid4(), uuid4()
    named = {
        "headcount": references_of(AnonymousAttendanceReportedV1(session_id=SESSION, count=3)),
        "assessment": references_of(
            AssessmentReportedV1(
                beneficiary_id=PERSON,
                competence="1.1",
                stage=AssessmentStage.INITIAL,
                level=2,
                autonomy=Autonomy.ASSISTED,
            )
        ),
        "placement": references_of(
            PlacementReportedV1(
                beneficiary_id=PERSON, kind=PlacementKind.CDI, starts_on=date(2026, 3, 2)
            )
        ),
        "resolution": references_of(
            ReferralResolutionReportedV1(referral_id=referral, outcome=ReferralOutcome.ACCEPTED)
        ),
        "follow-up": references_of(
            FollowUpReportedV1(placement_id=placement, months=3, still_in_post=True)
        ),
    }

    assert named == {
        "headcount": [session()],
        "assessment": [beneficiary()],
        "placement": [beneficiary()],
        "resolution": [Reference(kind=ReferenceKind.REFERRAL, id=str(referral))],
        "follow-up": [Reference(kind=ReferenceKind.PLACEMENT, id=str(placement))],
    }


def test_a_workshop_names_each_participant_once() -> None:
    other = str(uuid4())
    workshop = WorkshopReportedV1(
        association_id="asso-a", held_at=NOW, participants=[str(PERSON), other, str(PERSON)]
    )

    assert references_of(workshop) == [beneficiary(), beneficiary(other)]


def test_ids_a_request_creates_are_not_references() -> None:
    new_session = SessionReportedV1(
        association_id="asso-a",
        district_id="qpv-a",
        module_id="m-1",
        kind=SessionKind.COLLECTIVE,
        starts_at=NOW,
        duration_minutes=120,
        session_id=uuid4(),
    )
    enrolment = EnrolmentRequestedV1(
        association_id="asso-a",
        district_id="qpv-a",
        first_name="Zoé",
        last_name="Martin",
        gender=Gender.FEMALE,
        tracks=[Track.DIGITAL_INCLUSION],
        consent=IntakeConsent(
            programme_follow_up=True, share_with_partners=False, contact_for_surveys=False
        ),
        beneficiary_id=uuid4(),
    )

    assert references_of(new_session) == []
    assert references_of(enrolment) == []


# -- the service's answer and the refusal ----------------------------------------------------


def test_the_answer_names_the_known_records_only() -> None:
    question = ScopeQuestion(references=[session(), beneficiary(), session("unknown")])

    answer = ScopeAnswer.of(
        question,
        {ReferenceKind.SESSION: {SESSION: "asso-x"}, ReferenceKind.BENEFICIARY: {}},
    )

    assert answer.owners == [Owner(kind=ReferenceKind.SESSION, id=SESSION, association_id="asso-x")]


def test_a_record_of_another_association_is_the_reason_to_refuse() -> None:
    own = Owner(kind=ReferenceKind.BENEFICIARY, id=str(PERSON), association_id="asso-y")
    foreign = Owner(kind=ReferenceKind.SESSION, id=SESSION, association_id="asso-x")

    assert refusal([own], "asso-y") is None
    assert refusal([], "asso-y") is None
    assert refusal([own, foreign], "asso-y") == (
        f"session {SESSION} belongs to association asso-x; "
        "this token may send events only for association asso-y"
    )


# -- the gateway ---------------------------------------------------------------------------


class Recorder(IntakePublisher):
    """Stands in for the broker: keeps what would have been published."""

    def __init__(self) -> None:
        super().__init__("unused:9092")
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        self.published.append((topic, value))


class Gateway:
    def __init__(self, answer: Answer) -> None:
        self.asked: list[httpx.Request] = []
        self.publisher = Recorder()

        def service(request: httpx.Request) -> httpx.Response:
            self.asked.append(request)
            return answer(request)

        app = FastAPI()
        services = Services(SETTINGS, transport=httpx.MockTransport(service))
        app.include_router(ingest_router(SETTINGS, self.publisher, services))
        self.client = TestClient(app)

    def send(self, service: str, data: dict[str, Any], kind: str, token: str) -> httpx.Response:
        event = {
            "specversion": "1.0",
            "id": str(uuid4()),
            "source": "partners/test",
            "type": f"dn.intake.{service}.{kind}.v1",
            "data": data,
        }
        response: httpx.Response = self.client.post(
            f"/ingest/{service}",
            content=json.dumps(event).encode(),
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/cloudevents+json",
            },
        )
        return response


def owners_answer(*owners: Owner) -> Answer:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=ScopeAnswer(owners=list(owners)).model_dump(mode="json"))

    return answer


def partner(association_id: str = "asso-y") -> str:
    return issue_token(SETTINGS, Role.PARTNER, association_id=association_id)


ATTENDANCE = {"session_id": SESSION, "beneficiary_id": str(PERSON), "status": "present"}


@pytest.fixture
def gateway() -> Iterator[Callable[[Answer], Gateway]]:
    made: list[Gateway] = []

    def with_service(answer: Answer) -> Gateway:
        made.append(Gateway(answer))
        return made[-1]

    yield with_service
    for each in made:
        each.client.close()


def test_another_association_s_session_is_refused_with_the_reason(
    gateway: Callable[[Answer], Gateway],
) -> None:
    at = gateway(
        owners_answer(
            Owner(kind=ReferenceKind.SESSION, id=SESSION, association_id="asso-x"),
            Owner(kind=ReferenceKind.BENEFICIARY, id=str(PERSON), association_id="asso-y"),
        )
    )

    response = at.send("training", ATTENDANCE, "attendance_reported", partner())

    assert response.status_code == 403, response.text
    assert response.json()["error"] == (
        f"session {SESSION} belongs to association asso-x; "
        "this token may send events only for association asso-y"
    )
    assert at.publisher.published == []
    asked = at.asked[0]
    assert (asked.method, asked.url.path) == ("POST", "/intake/scope")
    assert json.loads(asked.content) == {
        "references": [
            {"kind": "session", "id": SESSION},
            {"kind": "beneficiary", "id": str(PERSON)},
        ]
    }
    token = asked.headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["role"], claims["aud"]) == ("service", "dn:training"), "the gateway's own"


def test_own_and_unknown_records_are_accepted_and_published(
    gateway: Callable[[Answer], Gateway],
) -> None:
    at = gateway(
        owners_answer(Owner(kind=ReferenceKind.SESSION, id=SESSION, association_id="asso-y"))
    )

    response = at.send("training", ATTENDANCE, "attendance_reported", partner())

    assert response.status_code == 202, response.text
    assert [topic for topic, _ in at.publisher.published] == ["dn.intake.training"]
    assert json.loads(at.publisher.published[0][1])["session_id"] == SESSION


def test_a_referral_of_another_association_is_refused(
    gateway: Callable[[Answer], Gateway],
) -> None:
    referral = str(uuid4())
    at = gateway(
        owners_answer(Owner(kind=ReferenceKind.REFERRAL, id=referral, association_id="asso-x"))
    )

    response = at.send(
        "orientation",
        {"referral_id": referral, "outcome": "accepted"},
        "referral_resolution_reported",
        partner(),
    )

    assert response.status_code == 403, response.text
    assert response.json()["error"].startswith(f"referral {referral} belongs to association asso-x")
    assert json.loads(at.asked[0].content) == {"references": [{"kind": "referral", "id": referral}]}


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    "answer",
    [
        unreachable,
        lambda _: httpx.Response(500, json={"error": "boom"}),
        lambda _: httpx.Response(200, json={"unexpected": True}),
    ],
    ids=["unreachable", "failing", "wrong-shape"],
)
def test_a_service_that_does_not_answer_is_503_with_retry_after(
    gateway: Callable[[Answer], Gateway], answer: Answer
) -> None:
    at = gateway(answer)

    response = at.send("training", ATTENDANCE, "attendance_reported", partner())

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert "training service did not answer" in response.json()["error"]
    assert "same id" in response.json()["error"]
    assert at.publisher.published == []


def test_coordinators_and_requests_naming_nothing_are_not_checked(
    gateway: Callable[[Answer], Gateway],
) -> None:
    at = gateway(lambda _: httpx.Response(500))
    maturity = {"association_id": "asso-y", "answers": {q.value: 2 for q in MaturityQuestion}}

    by_coordinator = at.send(
        "training", ATTENDANCE, "attendance_reported", issue_token(SETTINGS, Role.COORDINATOR)
    )
    naming_nothing = at.send("training", maturity, "maturity_assessment_reported", partner())

    assert by_coordinator.status_code == 202, by_coordinator.text
    assert naming_nothing.status_code == 202, naming_nothing.text
    assert len(at.publisher.published) == 2
    assert at.asked == []


def test_a_request_for_another_association_is_refused_before_asking(
    gateway: Callable[[Answer], Gateway],
) -> None:
    at = gateway(owners_answer())
    workshop = {"association_id": "asso-x", "held_at": NOW.isoformat(), "participants": ["p"]}

    response = at.send("orientation", workshop, "workshop_reported", partner())

    assert response.status_code == 403, response.text
    assert "data.association_id is 'asso-x'" in response.json()["error"]
    assert at.asked == []


def test_a_workshop_with_another_association_s_participant_is_refused(
    gateway: Callable[[Answer], Gateway],
) -> None:
    stranger = str(uuid4())
    at = gateway(
        owners_answer(Owner(kind=ReferenceKind.BENEFICIARY, id=stranger, association_id="asso-x"))
    )
    workshop = {
        "association_id": "asso-y",
        "held_at": NOW.isoformat(),
        "participants": [str(PERSON), stranger],
    }

    response = at.send("orientation", workshop, "workshop_reported", partner())

    assert response.status_code == 403, response.text
    assert response.json()["error"].startswith(
        f"beneficiary {stranger} belongs to association asso-x"
    )
