"""How training splits a batch of partner requests into steps (services.training.handlers):
as few steps as give the outcomes of applying the requests one by one, in order."""

from __future__ import annotations

from uuid import uuid4

from contracts.event import EventData
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AttendanceReportedV1,
    MaturityAssessmentReportedV1,
    SessionReportedV1,
)
from services.training.handlers import StepKind, batch_steps

PERSON = uuid4()


def attendance(session_id: str) -> EventData:
    return AttendanceReportedV1.model_construct(session_id=session_id, beneficiary_id=PERSON)


def assessment() -> EventData:
    return AssessmentReportedV1.model_construct(beneficiary_id=PERSON)


def headcount(session_id: str) -> EventData:
    return AnonymousAttendanceReportedV1.model_construct(session_id=session_id, count=3)


def report(session_id: str) -> EventData:
    return SessionReportedV1.model_construct(session_id=session_id)


def self_assessment() -> EventData:
    return MaturityAssessmentReportedV1.model_construct(association_id="asso-a")


def steps_of(batch: list[EventData]) -> list[tuple[str, list[int]]]:
    return [(step.kind.value, step.indexes) for step in batch_steps(batch)]


def test_session_reports_go_first_and_the_attendance_between_them_is_one_run() -> None:
    batch = [report("s1"), attendance("s1"), report("s2"), attendance("s2"), assessment()]
    assert steps_of(batch) == [("sessions", [0, 2]), ("together", [1, 3, 4])]


def test_a_headcount_waits_behind_attendance_for_other_sessions() -> None:
    batch = [attendance("s1"), headcount("s9"), attendance("s2"), assessment(), attendance("s3")]
    assert steps_of(batch) == [("together", [0, 2, 3, 4]), ("alone", [1])]


def test_attendance_for_the_counted_session_comes_after_its_headcount() -> None:
    """A session's headcount and its attendance share its capacity: their order is kept."""
    batch = [attendance("s1"), headcount("s1"), attendance("s2"), attendance("s1"), assessment()]
    assert steps_of(batch) == [
        ("together", [0, 2]),
        ("alone", [1]),
        ("together", [3, 4]),
    ]


def test_headcounts_and_self_assessments_keep_their_own_order() -> None:
    batch = [self_assessment(), headcount("s1"), attendance("s2"), headcount("s1")]
    assert steps_of(batch) == [("together", [2]), ("alone", [0, 1, 3])]


def test_every_request_is_in_exactly_one_step() -> None:
    batch = [
        report("s1"),
        headcount("s1"),
        attendance("s1"),
        self_assessment(),
        report("s2"),
        attendance("s2"),
        headcount("s2"),
        assessment(),
    ]
    steps = batch_steps(batch)
    assert sorted(i for step in steps for i in step.indexes) == list(range(len(batch)))
    assert steps[0].kind is StepKind.SESSIONS
    assert all(step.indexes for step in steps)
