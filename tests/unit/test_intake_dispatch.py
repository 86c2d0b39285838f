"""Partner intake: every accepted request type reaches its use case with the request's fields,
and orientation's refusals become dead-letter reasons — with fakes for the use cases, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast
from uuid import uuid4

import pytest

from contracts import topics
from contracts.catalogue import intake_types
from contracts.errors import Conflict, FieldError, InvalidInput, NotFound
from contracts.event import EventData
from contracts.maturity import MaturityQuestion
from contracts.orientation import (
    FollowUpReportedV1,
    InterestsReportedV1,
    PartnerKind,
    PlacementKind,
    PlacementReportedV1,
    ReferralOutcome,
    ReferralRequestedV1,
    ReferralResolutionReportedV1,
    WorkshopReportedV1,
)
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AssessmentStage,
    AttendanceReportedV1,
    AttendanceStatus,
    Autonomy,
    MaturityAssessmentReportedV1,
    SessionKind,
    SessionReportedV1,
)
from kit.consumer import Rejected
from kit.intake import named_refs
from kit.parking import Waiting
from services.orientation import handlers as orientation_handlers
from services.orientation.domain import ConsentMissing
from services.training import handlers as training_handlers

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
PERSON = uuid4()


class Recorder:
    """Stands in for a use-case object: records each call, or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.error = error
        self.store = self

    async def was_applied(self, request_id: str) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))
            if self.error is not None:
                raise self.error

        return call


TRAINING_REQUESTS: dict[type[EventData], tuple[EventData, str]] = {
    AttendanceReportedV1: (
        AttendanceReportedV1(
            session_id="s-1", beneficiary_id=PERSON, status=AttendanceStatus.PRESENT
        ),
        "record_attendance_in",
    ),
    SessionReportedV1: (
        SessionReportedV1(
            association_id="asso-1",
            district_id="qpv-1",
            module_id="mod-1",
            kind=SessionKind.COLLECTIVE,
            starts_at=NOW,
            duration_minutes=120,
            capacity=10,
        ),
        "schedule_in",
    ),
    AnonymousAttendanceReportedV1: (
        AnonymousAttendanceReportedV1(session_id="s-1", count=4),
        "record_anonymous_attendance_in",
    ),
    AssessmentReportedV1: (
        AssessmentReportedV1(
            beneficiary_id=PERSON,
            competence="1.1",
            stage=AssessmentStage.INITIAL,
            level=2,
            autonomy=Autonomy.ASSISTED,
            assessed_at=NOW,
        ),
        "assess_in",
    ),
    MaturityAssessmentReportedV1: (
        MaturityAssessmentReportedV1(
            association_id="asso-1",
            answers={question: 2 for question in MaturityQuestion},
            assessed_at=NOW,
        ),
        "assess_maturity_in",
    ),
}

ORIENTATION_REQUESTS: dict[type[EventData], tuple[EventData, str]] = {
    PlacementReportedV1: (
        PlacementReportedV1(
            beneficiary_id=PERSON, kind=PlacementKind.CDI, starts_on=date(2026, 3, 2)
        ),
        "record_placement",
    ),
    WorkshopReportedV1: (
        WorkshopReportedV1(association_id="asso-1", held_at=NOW, participants=[str(PERSON)]),
        "record_workshop",
    ),
    InterestsReportedV1: (
        InterestsReportedV1(beneficiary_id=PERSON, job_families=["M18"]),
        "record_interests",
    ),
    ReferralRequestedV1: (
        ReferralRequestedV1(beneficiary_id=PERSON, partner_kind=PartnerKind.EMPLOYER),
        "make_referral",
    ),
    ReferralResolutionReportedV1: (
        ReferralResolutionReportedV1(referral_id=uuid4(), outcome=ReferralOutcome.ACCEPTED),
        "resolve_referral",
    ),
    FollowUpReportedV1: (
        FollowUpReportedV1(placement_id=uuid4(), months=3, still_in_post=True),
        "record_follow_up",
    ),
}


def test_every_accepted_request_type_has_a_use_case() -> None:
    assert set(intake_types(topics.INTAKE_TRAINING).values()) == set(TRAINING_REQUESTS)
    assert set(intake_types(topics.INTAKE_ORIENTATION).values()) == set(ORIENTATION_REQUESTS)


@pytest.mark.parametrize("kind", list(TRAINING_REQUESTS), ids=lambda k: k.__name__)
async def test_training_requests_reach_their_use_case(kind: type[EventData]) -> None:
    request, use_case = TRAINING_REQUESTS[kind]
    training = Recorder()
    handler = training_handlers.IntakeRules(cast(Any, training), cast(Any, None), cast(Any, None))
    await handler.apply_in(cast(Any, "session"), request)
    assert [name for name, _, _ in training.calls] == [use_case]
    assert training.calls[0][1][0] == "session", "inside the consumer's transaction"


def test_a_session_report_becomes_the_plan_the_form_would_make() -> None:
    request = cast(SessionReportedV1, TRAINING_REQUESTS[SessionReportedV1][0])
    plan = training_handlers.session_plan(request)
    assert (plan.association_id, plan.module_id, plan.kind) == ("asso-1", "mod-1", "collective")
    assert (plan.starts_at, plan.duration_minutes, plan.capacity) == (NOW, 120, 10)
    assert plan.place_type == "association_premises"


def test_an_assessment_report_without_a_time_is_assessed_now() -> None:
    request = AssessmentReportedV1(
        beneficiary_id=PERSON,
        competence="1.1",
        stage=AssessmentStage.FINAL,
        level=3,
        autonomy=Autonomy.AUTONOMOUS,
    )
    assessment = training_handlers.assessment_of(request)
    assert assessment.beneficiary_id == str(PERSON)
    assert assessment.assessed_at.tzinfo is not None


@pytest.mark.parametrize("kind", list(ORIENTATION_REQUESTS), ids=lambda k: k.__name__)
async def test_orientation_requests_reach_their_use_case_with_the_request_id(
    kind: type[EventData],
) -> None:
    request, use_case = ORIENTATION_REQUESTS[kind]
    orientation = Recorder()
    handler = orientation_handlers.IntakeRules(cast(Any, orientation), cast(Any, None))
    await handler.apply_request(request, "ce-1")
    [(name, _, kwargs)] = orientation.calls
    assert (name, kwargs["request_id"]) == (use_case, "ce-1")


async def test_a_workshop_report_acts_for_the_association_it_names() -> None:
    orientation = Recorder()
    handler = orientation_handlers.IntakeRules(cast(Any, orientation), cast(Any, None))
    await handler.apply_request(ORIENTATION_REQUESTS[WorkshopReportedV1][0], "ce-1")
    [(_, (request, association), _)] = orientation.calls
    assert association == "asso-1"
    assert request.participants == (str(PERSON),)


@pytest.mark.parametrize(
    ("kind", "error", "reason"),
    [
        (ReferralRequestedV1, ConsentMissing(FieldError("beneficiaryId", "no")), "no_consent"),
        (PlacementReportedV1, Conflict("p-1", "already"), "duplicate_placement"),
        (
            ReferralResolutionReportedV1,
            InvalidInput(FieldError("outcome", "already accepted"), status=409),
            "conflicting_request",
        ),
        (InterestsReportedV1, InvalidInput(FieldError("jobFamilies", "?")), "invalid_request"),
    ],
)
async def test_orientation_refusals_are_dead_lettered_with_a_reason(
    kind: type[EventData], error: Exception, reason: str
) -> None:
    request, _ = ORIENTATION_REQUESTS[kind]
    handler = orientation_handlers.IntakeRules(cast(Any, Recorder(error)), cast(Any, None))
    with pytest.raises(Rejected) as rejected:
        await handler.apply(request.to_event("partner/test"), request)
    assert rejected.value.reason == reason


@pytest.mark.parametrize(
    ("kind", "thing", "reason"),
    [
        (ReferralRequestedV1, "beneficiary", "unknown_beneficiary"),
        (ReferralResolutionReportedV1, "referral", "unknown_referral"),
        (FollowUpReportedV1, "placement", "unknown_placement"),
    ],
)
async def test_an_orientation_request_naming_what_is_not_known_waits_for_it(
    kind: type[EventData], thing: str, reason: str
) -> None:
    """Not known yet: the request waits (kit.parking); known but gone (erased): refused."""
    request, _ = ORIENTATION_REQUESTS[kind]
    handler = orientation_handlers.IntakeRules(
        cast(Any, Recorder(NotFound(f"no {thing}"))), cast(Any, None)
    )
    [named] = named_refs(request)
    assert named.startswith(f"{thing}:")

    async def nothing_known(refs: set[str]) -> set[str]:
        return set()

    async def all_known(refs: set[str]) -> set[str]:
        return set(refs)

    handler.known = nothing_known  # type: ignore[method-assign]
    with pytest.raises(Waiting) as waiting:
        await handler.apply(request.to_event("partner/test"), request)
    assert (waiting.value.refs, waiting.value.reason) == ([named], reason)

    handler.known = all_known  # type: ignore[method-assign]
    with pytest.raises(Rejected) as rejected:
        await handler.apply(request.to_event("partner/test"), request)
    assert rejected.value.reason == reason
