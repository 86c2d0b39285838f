"""A roll-call corrected in the associations' app: training replaces the recorded line (same
attendance id, recorded later), reporting keeps the latest version whatever the order the two
arrive in, and the follow-up list counts the unexcused absences since the person last came."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from contracts.errors import InvalidInput
from contracts.training import AttendanceRecordedV1, AttendanceStatus
from services.reporting import domain as reporting
from services.training import domain
from services.training.domain import AttendanceMark
from tests.unit.test_training_domain import IDS, NOW, PERSON, fields_of, recorded, session


def test_a_correcting_roll_call_replaces_the_recorded_line_and_keeps_its_id() -> None:
    first = recorded(session(), AttendanceStatus.UNEXCUSED_ABSENCE)
    later = NOW + timedelta(minutes=20)

    (corrected,) = domain.roll_call(
        session(), [AttendanceMark(PERSON, AttendanceStatus.PRESENT, minutes=150)],
        {str(PERSON): first}, attendance_ids=IDS, now=later, correcting=True,
    )  # fmt: skip

    assert (corrected.id, corrected.status, corrected.minutes) == (
        first.id, AttendanceStatus.PRESENT, 150,
    )  # fmt: skip
    assert corrected.recorded_at == later
    again = domain.roll_call(
        session(), [AttendanceMark(PERSON, AttendanceStatus.PRESENT, minutes=150)],
        {str(PERSON): corrected}, attendance_ids=IDS, now=later, correcting=True,
    )  # fmt: skip
    assert again == []  # the correction sent twice changes nothing


def test_without_correcting_a_different_line_is_still_refused() -> None:
    first = recorded(session(), AttendanceStatus.UNEXCUSED_ABSENCE)
    with pytest.raises(InvalidInput) as refused:
        domain.roll_call(
            session(), [AttendanceMark(PERSON, AttendanceStatus.PRESENT)],
            {str(PERSON): first}, attendance_ids=IDS, now=NOW,
        )  # fmt: skip
    assert fields_of(refused.value) == {"records[0].status"}


def test_a_correction_to_present_counts_against_the_capacity_once() -> None:
    full = session(capacity=1)
    here = recorded(full, beneficiary_id=uuid4())
    absent = recorded(full, AttendanceStatus.UNEXCUSED_ABSENCE)
    roll = {here.beneficiary_id: here, absent.beneficiary_id: absent}
    with pytest.raises(InvalidInput) as refused:
        domain.roll_call(
            full, [AttendanceMark(PERSON, AttendanceStatus.PRESENT)], roll,
            attendance_ids=IDS, now=NOW, correcting=True,
        )  # fmt: skip
    assert fields_of(refused.value) == {"records[0].status"}
    # Swapping who was there keeps the session within its capacity.
    swapped = domain.roll_call(
        full,
        [AttendanceMark(UUID(here.beneficiary_id), AttendanceStatus.EXCUSED_ABSENCE),
         AttendanceMark(PERSON, AttendanceStatus.PRESENT)],
        roll, attendance_ids=IDS, now=NOW, correcting=True,
    )  # fmt: skip
    assert [a.status for a in swapped] == [
        AttendanceStatus.EXCUSED_ABSENCE, AttendanceStatus.PRESENT,
    ]  # fmt: skip


def event(attendance: domain.Attendance) -> AttendanceRecordedV1:
    return attendance.recorded_event()


@pytest.mark.parametrize("corrected_first", [False, True])
def test_reporting_keeps_the_corrected_attendance_whatever_the_order(
    corrected_first: bool,
) -> None:
    first = recorded(session(), AttendanceStatus.UNEXCUSED_ABSENCE)
    (corrected,) = domain.roll_call(
        session(), [AttendanceMark(PERSON, AttendanceStatus.PRESENT)],
        {str(PERSON): first}, attendance_ids=IDS, now=NOW + timedelta(hours=1), correcting=True,
    )  # fmt: skip
    facts = reporting.BeneficiaryFacts(beneficiary_id=str(PERSON))
    for attendance in [corrected, first] if corrected_first else [first, corrected]:
        facts = reporting.apply(facts, event(attendance))

    counts = reporting.person_counts(facts)
    assert counts["sessions_present"] == 1
    assert counts["sessions_unexcused"] == 0
    assert counts["minutes_present"] == 180


def test_the_follow_up_run_is_the_unexcused_absences_since_the_person_last_came() -> None:
    def mark(n: int, status: AttendanceStatus) -> domain.Attendance:
        return recorded(session(n), status)

    came = mark(0, AttendanceStatus.PRESENT)
    run = [mark(n, AttendanceStatus.UNEXCUSED_ABSENCE) for n in (1, 2, 3)]
    now = domain.current_absences([*reversed(run), came])
    assert now.sessions_missed == 3
    assert now.last_present_at == came.session_starts_at
    assert now.last_session_at == run[-1].session_starts_at

    back = domain.current_absences([came, *run, mark(4, AttendanceStatus.EXCUSED_ABSENCE)])
    assert back.sessions_missed == 0
    assert domain.current_absences([]) == domain.AbsenceRun(0, None, None)
