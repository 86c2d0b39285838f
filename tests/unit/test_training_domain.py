"""Training rules: framework, sessions, schedules, attendance, completion, at-risk."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from itertools import count, pairwise
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import Conflict, InvalidInput
from contracts.training import (
    AssessmentStage,
    AttendanceStatus,
    Autonomy,
    BeneficiaryTrainedV1,
    SessionKind,
)
from services.training import domain
from services.training.domain import (
    Assessment,
    Attendance,
    AttendanceMark,
    BeneficiaryStatus,
    CompletionRule,
    Person,
    Recurrence,
    RefusedBeneficiary,
    SessionPlan,
)
from services.training.store import REFERENCE_FILE

CATALOGUE = domain.catalogue_from(json.loads(REFERENCE_FILE.read_text(encoding="utf-8")))
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PERSON = uuid4()
IDS = (f"att-{n}" for n in count())


def plan(**changes: object) -> SessionPlan:
    fields: dict[str, object] = {
        "association_id": "asso-saige-en-ligne",
        "district_id": "qpv-saige",
        "module_id": "mod-premiers-pas",
        "kind": SessionKind.COLLECTIVE,
        "place_type": "association_premises",
        "starts_at": datetime(2026, 3, 2, 14, 0, tzinfo=PARIS),
        "duration_minutes": 180,
        "capacity": 12,
    }
    fields.update(changes)
    return SessionPlan(**fields)  # type: ignore[arg-type]


def session(n: int = 0, **changes: object) -> domain.Session:
    starts_at = datetime(2026, 3, 2, 14, 0, tzinfo=UTC) + timedelta(days=7 * n)
    return domain.schedule(
        plan(**{"starts_at": starts_at, **changes}), CATALOGUE, session_id=f"s{n}"
    )


def attend(
    training_session: domain.Session,
    status: AttendanceStatus = AttendanceStatus.PRESENT,
    minutes: int | None = None,
    beneficiary_id: UUID = PERSON,
    existing: Attendance | None = None,
) -> Attendance | None:
    return domain.record_attendance(
        training_session,
        AttendanceMark(beneficiary_id, status, minutes),
        existing,
        attendance_id=next(IDS),
        now=NOW,
    )


def recorded(*args: object, **kwargs: object) -> Attendance:
    attendance = attend(*args, **kwargs)  # type: ignore[arg-type]
    assert attendance is not None
    return attendance


def fields_of(error: InvalidInput) -> set[str]:
    return {e.field for e in error.errors}


# -- framework and modules ------------------------------------------------------------------


def test_pix_framework_has_five_areas_sixteen_competences_and_eight_levels() -> None:
    assert [area.id for area in CATALOGUE.areas] == ["1", "2", "3", "4", "5"]
    assert sorted(CATALOGUE.competences) == [
        "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1",
        "3.2", "3.3", "3.4", "4.1", "4.2", "4.3", "5.1", "5.2",
    ]  # fmt: skip
    assert CATALOGUE.levels == (1, 2, 3, 4, 5, 6, 7, 8)
    assert CATALOGUE.competences["4.2"].name.startswith("Protéger les données personnelles")


def test_every_module_names_known_competences_a_level_and_themes() -> None:
    assert len(CATALOGUE.modules) >= 12
    for module in CATALOGUE.modules.values():
        assert module.title
        assert module.competences
        assert module.themes
        assert set(module.competences) <= set(CATALOGUE.competences)
    themes = {theme for module in CATALOGUE.modules.values() for theme in module.themes}
    assert themes == set(domain.Theme)


def test_a_module_naming_an_unknown_competence_is_refused_at_load() -> None:
    document = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    document["modules"][0]["competences"] = ["9.9"]
    with pytest.raises(ValueError, match=r"9\.9"):
        domain.catalogue_from(document)


# -- sessions -------------------------------------------------------------------------------


def test_a_valid_plan_becomes_a_session_and_its_event() -> None:
    scheduled = domain.schedule(plan(), CATALOGUE, session_id="s1")
    event = scheduled.scheduled_event()
    assert event.session_id == "s1"
    assert event.subject() == "s1"
    assert event.duration_minutes == 180
    assert event.capacity == 12


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"duration_minutes": 14}, "durationMinutes"),
        ({"duration_minutes": 601}, "durationMinutes"),
        ({"module_id": "mod-nope"}, "moduleId"),
        ({"association_id": " "}, "associationId"),
        ({"district_id": ""}, "districtId"),
        ({"starts_at": datetime(2026, 3, 2, 14, 0)}, "startsAt"),
        ({"capacity": 0}, "capacity"),
        ({"kind": SessionKind.INDIVIDUAL, "capacity": 3}, "capacity"),
    ],
)
def test_an_invalid_plan_is_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        domain.schedule(plan(**changes), CATALOGUE, session_id="s1")
    assert field in fields_of(refused.value)


def test_durations_of_15_and_600_minutes_are_accepted() -> None:
    for minutes in (15, 600):
        assert domain.schedule(plan(duration_minutes=minutes), CATALOGUE, session_id="s").id


def test_an_individual_session_holds_one_person() -> None:
    individual = domain.schedule(
        plan(kind=SessionKind.INDIVIDUAL, capacity=None), CATALOGUE, session_id="s"
    )
    assert individual.capacity == 1


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as refused:
        domain.schedule(plan(duration_minutes=5, module_id="x"), CATALOGUE, session_id="s")
    assert fields_of(refused.value) == {"durationMinutes", "moduleId"}


# -- recurring schedules --------------------------------------------------------------------


def test_weekly_schedule_gives_every_chosen_weekday_in_the_period() -> None:
    starts = domain.recurring_starts(
        Recurrence(
            weekdays=(0, 3), first_day=date(2026, 3, 2), last_day=date(2026, 3, 15), at=time(14, 0)
        )
    )
    assert [s.date() for s in starts] == [
        date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 9), date(2026, 3, 12),
    ]  # fmt: skip


def test_weekly_sessions_keep_their_local_time_across_daylight_saving_in_paris() -> None:
    # Summer time starts on 29 March 2026 and ends on 25 October 2026.
    starts = domain.recurring_starts(
        Recurrence(
            weekdays=(0,),
            first_day=date(2026, 3, 16),
            last_day=date(2026, 11, 2),
            at=time(14, 0),
            timezone="Europe/Paris",
        )
    )
    assert all(s.astimezone(PARIS).time() == time(14, 0) for s in starts)
    utc_hours = {s.date(): s.astimezone(UTC).hour for s in starts}
    assert utc_hours[date(2026, 3, 23)] == 13  # CET, UTC+1
    assert utc_hours[date(2026, 3, 30)] == 12  # CEST, UTC+2
    assert utc_hours[date(2026, 10, 19)] == 12
    assert utc_hours[date(2026, 10, 26)] == 13
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(starts)}
    # Never a fixed 7 × 24 h step: the two weeks around each change are an hour shorter/longer.
    assert gaps == {timedelta(days=7), timedelta(days=7, hours=-1), timedelta(days=7, hours=1)}


def test_a_schedule_of_more_than_200_sessions_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        domain.recurring_starts(
            Recurrence(
                weekdays=tuple(range(7)),
                first_day=date(2026, 1, 1),
                last_day=date(2026, 12, 31),
                at=time(9, 0),
            )
        )
    assert "200" in str(refused.value)
    exactly = domain.recurring_starts(
        Recurrence(
            weekdays=tuple(range(7)),
            first_day=date(2026, 1, 1),
            last_day=date(2026, 1, 1) + timedelta(days=199),
            at=time(9, 0),
        )
    )
    assert len(exactly) == 200


@pytest.mark.parametrize(
    ("recurrence", "field"),
    [
        (Recurrence((0,), date(2026, 3, 9), date(2026, 3, 2), time(9)), "until"),
        (Recurrence((), date(2026, 3, 2), date(2026, 3, 9), time(9)), "weekdays"),
        (Recurrence((7,), date(2026, 3, 2), date(2026, 3, 9), time(9)), "weekdays"),
        (Recurrence((0,), date(2026, 3, 2), date(2026, 3, 9), time(9), "Mars/Olympus"), "timezone"),
        (Recurrence((6,), date(2026, 3, 2), date(2026, 3, 6), time(9)), "weekdays"),
    ],
)
def test_an_invalid_recurrence_is_refused(recurrence: Recurrence, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        domain.recurring_starts(recurrence)
    assert field in fields_of(refused.value)


def test_weekday_names_are_read_in_any_case() -> None:
    assert domain.weekday_number("Monday") == 0
    assert domain.weekday_number("sunday") == 6
    with pytest.raises(InvalidInput):
        domain.weekday_number("lundi")


# -- attendance -----------------------------------------------------------------------------


def test_present_without_minutes_counts_the_whole_session() -> None:
    assert recorded(session()).minutes == 180


def test_an_absence_counts_zero_minutes() -> None:
    for status in (AttendanceStatus.EXCUSED_ABSENCE, AttendanceStatus.UNEXCUSED_ABSENCE):
        assert recorded(session(), status).minutes == 0


def test_minutes_beyond_the_session_or_for_an_absence_are_refused() -> None:
    with pytest.raises(InvalidInput, match="180"):
        attend(session(), minutes=181)
    with pytest.raises(InvalidInput, match="absence"):
        attend(session(), AttendanceStatus.UNEXCUSED_ABSENCE, minutes=30)


def test_partial_presence_is_recorded_as_given() -> None:
    assert recorded(session(), minutes=90).minutes == 90


def test_the_same_attendance_sent_twice_is_a_no_op() -> None:
    first = recorded(session())
    assert attend(session(), existing=first) is None
    assert attend(session(), minutes=180, existing=first) is None


def test_a_different_attendance_for_the_same_session_and_person_is_a_conflict() -> None:
    first = recorded(session())
    with pytest.raises(Conflict) as conflict:
        attend(session(), AttendanceStatus.UNEXCUSED_ABSENCE, existing=first)
    assert conflict.value.existing_id == first.id
    assert conflict.value.status == 409


def test_the_attendance_event_carries_ids_and_the_session_facts_only() -> None:
    event = recorded(session()).recorded_event()
    assert event.subject() == str(PERSON)
    assert event.module_id == "mod-premiers-pas"
    assert event.association_id == "asso-saige-en-ligne"
    assert set(event.model_dump()) == {
        "attendance_id", "session_id", "beneficiary_id", "status", "minutes", "module_id",
        "association_id", "session_starts_at", "recorded_at",
    }  # fmt: skip


def test_a_full_session_refuses_one_more_present() -> None:
    small = session(capacity=1)
    with pytest.raises(InvalidInput, match="full"):
        domain.record_attendance(
            small, AttendanceMark(PERSON, AttendanceStatus.PRESENT), None,
            attendance_id="a", now=NOW, present_count=1,
        )  # fmt: skip
    assert domain.record_attendance(
        small, AttendanceMark(PERSON, AttendanceStatus.EXCUSED_ABSENCE), None,
        attendance_id="a", now=NOW, present_count=1,
    )  # fmt: skip


def test_staff_sessions_take_no_beneficiary_attendance() -> None:
    with pytest.raises(InvalidInput, match="staff"):
        attend(session(kind=SessionKind.STAFF))


def test_a_roll_call_is_all_or_nothing_with_one_error_per_line() -> None:
    marks = [
        AttendanceMark(uuid4(), AttendanceStatus.PRESENT),
        AttendanceMark(uuid4(), AttendanceStatus.PRESENT, minutes=999),
        AttendanceMark(uuid4(), AttendanceStatus.EXCUSED_ABSENCE, minutes=5),
    ]
    with pytest.raises(InvalidInput) as refused:
        domain.roll_call(session(), marks, {}, attendance_ids=IDS, now=NOW)
    assert fields_of(refused.value) == {"records[1].minutes", "records[2].minutes"}


def test_a_roll_call_skips_lines_already_recorded_and_refuses_a_person_named_twice() -> None:
    someone, other = uuid4(), uuid4()
    first = recorded(session(), beneficiary_id=someone)
    added = domain.roll_call(
        session(),
        [AttendanceMark(someone, AttendanceStatus.PRESENT),
         AttendanceMark(other, AttendanceStatus.UNEXCUSED_ABSENCE)],
        {str(someone): first}, attendance_ids=IDS, now=NOW,
    )  # fmt: skip
    assert [a.beneficiary_id for a in added] == [str(other)]
    with pytest.raises(InvalidInput) as refused:
        domain.roll_call(
            session(),
            [AttendanceMark(other, AttendanceStatus.PRESENT)] * 2,
            {}, attendance_ids=IDS, now=NOW,
        )  # fmt: skip
    assert fields_of(refused.value) == {"records[1].beneficiaryId"}


def test_a_roll_call_line_conflicting_with_a_stored_record_refuses_the_roll_call() -> None:
    first = recorded(session())
    with pytest.raises(InvalidInput) as refused:
        domain.roll_call(
            session(), [AttendanceMark(PERSON, AttendanceStatus.UNEXCUSED_ABSENCE)],
            {str(PERSON): first}, attendance_ids=IDS, now=NOW,
        )  # fmt: skip
    assert fields_of(refused.value) == {"records[0].status"}


def test_a_roll_call_respects_capacity_across_its_lines() -> None:
    marks = [AttendanceMark(uuid4(), AttendanceStatus.PRESENT) for _ in range(3)]
    with pytest.raises(InvalidInput) as refused:
        domain.roll_call(session(capacity=2), marks, {}, attendance_ids=IDS, now=NOW)
    assert fields_of(refused.value) == {"records[2].status"}


def test_anonymous_headcount_is_set_and_unchanged_counts_emit_nothing() -> None:
    updated, event = domain.record_anonymous_attendance(session(), 5, NOW)
    assert updated.anonymous_count == 5
    assert event is not None
    assert event.count == 5
    assert domain.record_anonymous_attendance(updated, 5, NOW)[1] is None
    with pytest.raises(InvalidInput, match="capacity"):
        domain.record_anonymous_attendance(session(capacity=4), 5, NOW)


# -- who may be recorded --------------------------------------------------------------------


def test_attendance_for_someone_training_does_not_know_is_refused_as_unknown() -> None:
    for person in (None, Person(str(PERSON), None, BeneficiaryStatus.ERASED)):
        with pytest.raises(RefusedBeneficiary) as refused:
            domain.require_recordable(PERSON, person)
        assert refused.value.reason == "unknown_beneficiary"
        assert fields_of(refused.value) == {"beneficiaryId"}


def test_attendance_for_a_merged_record_names_the_kept_one() -> None:
    merged = Person(str(PERSON), None, BeneficiaryStatus.MERGED, merged_into="kept-id")
    with pytest.raises(RefusedBeneficiary, match="kept-id") as refused:
        domain.require_recordable(PERSON, merged)
    assert refused.value.reason == "merged_beneficiary"


def test_withdrawn_people_can_still_have_late_attendance_recorded() -> None:
    domain.require_recordable(PERSON, Person(str(PERSON), "a", BeneficiaryStatus.WITHDRAWN))


def test_a_late_enrolment_never_brings_back_an_erased_person() -> None:
    erased = Person(str(PERSON), None, BeneficiaryStatus.ERASED)
    assert domain.enrolled(erased, str(PERSON), "asso") is None
    assert domain.enrolled(None, str(PERSON), "asso") == Person(str(PERSON), "asso")


def test_a_merge_folds_flags_into_the_kept_person_and_marks_the_duplicate() -> None:
    kept = Person("k", "asso", at_risk_sessions=frozenset({"s1"}))
    duplicate = Person("d", "asso", at_risk_sessions=frozenset({"s9"}))
    new_kept, folded = domain.merged(kept, duplicate, "k", "d")
    assert new_kept.at_risk_sessions == {"s1", "s9"}
    assert folded == Person("d", None, BeneficiaryStatus.MERGED, merged_into="k")


# -- completion -----------------------------------------------------------------------------


def history(*minutes: int, status: AttendanceStatus = AttendanceStatus.PRESENT) -> list[Attendance]:
    return [
        recorded(
            session(n, duration_minutes=240),
            status,
            minutes=m if status is AttendanceStatus.PRESENT else None,
        )
        for n, m in enumerate(minutes)
    ]


def test_four_sessions_of_three_hours_make_a_person_trained() -> None:
    event = domain.completion(CompletionRule(), str(PERSON), False, history(*[180] * 4), [], NOW)
    assert isinstance(event, BeneficiaryTrainedV1)
    assert (event.sessions_present, event.minutes_present) == (4, 720)


def test_trained_at_is_when_the_completing_session_took_place_not_when_it_was_recorded() -> None:
    records = history(*[180] * 6)  # six sessions; the fourth completes the rule
    shuffled = [records[5], records[3], records[0], records[4], records[2], records[1]]

    months_later = datetime(2026, 6, 1, tzinfo=UTC)

    event = domain.completion(CompletionRule(), str(PERSON), False, shuffled, [], months_later)

    assert isinstance(event, BeneficiaryTrainedV1)
    assert event.trained_at == records[3].session_starts_at


def test_too_few_sessions_or_too_few_hours_do_not() -> None:
    assert not domain.meets_rule(CompletionRule(), history(240, 240, 240), [])
    assert not domain.meets_rule(CompletionRule(), history(*[179] * 4), [])
    absences = history(*[180] * 4, status=AttendanceStatus.EXCUSED_ABSENCE)
    assert not domain.meets_rule(CompletionRule(), absences, [])


def test_trained_is_emitted_only_on_the_transition() -> None:
    records = history(*[180] * 5)
    assert domain.completion(CompletionRule(), str(PERSON), True, records, [], NOW) is None


def test_the_rule_can_require_a_final_assessment() -> None:
    rule = CompletionRule(min_sessions=2, min_minutes=60, require_final_assessment=True)
    records = history(60, 60)
    initial = Assessment(str(PERSON), "1.1", AssessmentStage.INITIAL, 1, Autonomy.ASSISTED, NOW)
    final = Assessment(str(PERSON), "1.1", AssessmentStage.FINAL, 3, Autonomy.AUTONOMOUS, NOW)
    assert not domain.meets_rule(rule, records, [initial])
    assert domain.meets_rule(rule, records, [initial, final])


delivery = st.tuples(
    st.integers(0, 7),  # session
    st.sampled_from(list(AttendanceStatus)),
    st.one_of(st.none(), st.integers(1, 180)),
)


@settings(max_examples=300, deadline=None)
@given(
    histories=st.lists(delivery, min_size=0, max_size=12),
    data=st.data(),
)
def test_trained_is_decided_once_whatever_the_order_and_repetition(
    histories: list[tuple[int, AttendanceStatus, int | None]], data: st.DataObject
) -> None:
    # Each report may arrive several times and in any order.
    deliveries = data.draw(st.permutations(histories + data.draw(st.lists(
        st.sampled_from(histories), max_size=8) if histories else st.just([]))))  # fmt: skip
    rule = CompletionRule(min_sessions=3, min_minutes=300)
    stored: dict[str, Attendance] = {}
    trained = False
    emitted = 0
    for n, status, minutes in deliveries:
        training_session = session(n)
        mark = AttendanceMark(
            PERSON, status, minutes if status is AttendanceStatus.PRESENT else None
        )
        try:
            attendance = domain.record_attendance(
                training_session, mark, stored.get(training_session.id),
                attendance_id=next(IDS), now=NOW,
            )  # fmt: skip
        except Conflict:
            continue
        if attendance is None:
            continue
        stored[attendance.session_id] = attendance
        event = domain.completion(rule, str(PERSON), trained, list(stored.values()), [], NOW)
        if event is not None:
            trained = True
            emitted += 1
    assert emitted <= 1
    assert trained == domain.meets_rule(rule, list(stored.values()), [])


# -- at risk --------------------------------------------------------------------------------


def statuses(*codes: str) -> list[Attendance]:
    status = {"P": AttendanceStatus.PRESENT, "E": AttendanceStatus.EXCUSED_ABSENCE,
              "U": AttendanceStatus.UNEXCUSED_ABSENCE}  # fmt: skip
    return [recorded(session(n), status[code]) for n, code in enumerate(codes)]


def flag(
    records: list[Attendance], flagged: frozenset[str] = frozenset()
) -> tuple[frozenset[str], int]:
    covered, events = domain.at_risk(str(PERSON), records, flagged, NOW)
    return covered, len(events)


def test_three_unexcused_absences_in_a_row_flag_the_person_once() -> None:
    records = statuses("P", "U", "U", "U")
    covered, emitted = flag(records)
    assert emitted == 1
    _, events = domain.at_risk(str(PERSON), records, frozenset(), NOW)
    assert events[0].consecutive_unexcused_absences == 3
    assert events[0].last_session_id == "s3"
    # A fourth absence extends the same streak: no second event.
    assert flag(statuses("P", "U", "U", "U", "U"), covered)[1] == 0


def test_a_new_streak_after_a_presence_is_flagged_again() -> None:
    covered, _ = flag(statuses("U", "U", "U"))
    assert flag(statuses("U", "U", "U", "P", "U", "U", "U"), covered)[1] == 1


def test_two_absences_or_an_excused_one_in_between_do_not_flag() -> None:
    assert flag(statuses("U", "U", "P", "U"))[1] == 0
    assert flag(statuses("U", "E", "U", "U"))[1] == 0


def test_a_streak_is_ordered_by_session_start_not_by_arrival() -> None:
    records = statuses("U", "P", "U", "U")
    late_first = [records[3], records[0], records[2], records[1]]
    assert flag(late_first)[1] == 0
    covered, emitted = flag(list(reversed(statuses("U", "U", "U"))))
    assert emitted == 1
    assert covered == {"s0", "s1", "s2"}


# -- assessments ----------------------------------------------------------------------------


def test_an_assessment_must_name_a_pix_competence_and_a_level_from_0_to_8() -> None:
    wrong = Assessment(str(PERSON), "6.1", AssessmentStage.INITIAL, 9, Autonomy.ASSISTED, NOW)
    with pytest.raises(InvalidInput) as refused:
        domain.assess(wrong, CATALOGUE, None)
    assert fields_of(refused.value) == {"competence", "level"}


def test_the_same_assessment_twice_is_a_no_op_and_a_new_result_replaces_it() -> None:
    first = Assessment(str(PERSON), "1.1", AssessmentStage.FINAL, 3, Autonomy.AUTONOMOUS, NOW)
    assert domain.assess(first, CATALOGUE, None) == first
    assert domain.assess(first, CATALOGUE, first) is None
    better = Assessment(str(PERSON), "1.1", AssessmentStage.FINAL, 4, Autonomy.AUTONOMOUS, NOW)
    assert domain.assess(better, CATALOGUE, first) == better
    assert better.assessed_event().subject() == str(PERSON)
