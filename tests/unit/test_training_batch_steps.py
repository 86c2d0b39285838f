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


def test_headcounts_are_decided_in_the_run_in_their_place() -> None:
    """A session's headcount and its attendance share its capacity: the run keeps their order."""
    batch = [attendance("s1"), headcount("s1"), attendance("s2"), attendance("s1"), assessment()]
    assert steps_of(batch) == [("together", [0, 1, 2, 3, 4])]


def test_a_self_assessment_stands_alone_between_the_runs() -> None:
    batch = [headcount("s1"), attendance("s2"), self_assessment(), headcount("s1"), assessment()]
    assert steps_of(batch) == [("together", [0, 1]), ("alone", [2]), ("together", [3, 4])]


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
