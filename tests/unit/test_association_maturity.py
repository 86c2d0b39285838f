"""Association maturity: the self-assessment's scoring (contracts.maturity) and training's
decisions on it (baseline, staff training from the records, upskilled) — pure, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import Conflict, InvalidInput
from contracts.maturity import (
    QUESTIONNAIRE,
    STAFF_TRAINING_POINTS,
    MaturityQuestion,
    MaturityRule,
    maturity_score,
    questionnaire_points,
    staff_training_points,
)
from contracts.training import AssociationMaturityAssessedV2, AssociationUpskilledV1
from services.reporting import domain as reporting_domain
from services.reporting.anonymised import anonymise
from services.training import maturity
from services.training.maturity import Maturity, SelfAssessment, StaffTraining
from services.training.store import REFERENCE_FILE

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
RULE = MaturityRule()
QUESTIONS = [question.id for question in QUESTIONNAIRE]


def answers(level: int, **overrides: int) -> dict[MaturityQuestion, int]:
    """Every question answered ``level``, some answered otherwise (by question name)."""
    chosen = {question: level for question in QUESTIONS}
    chosen.update({MaturityQuestion(name): value for name, value in overrides.items()})
    return chosen


def assessment(
    name: str, at: datetime, chosen: dict[MaturityQuestion, int], recorded: datetime = NOW
) -> SelfAssessment:
    return SelfAssessment(id=name, assessed_at=at, recorded_at=recorded, answers=chosen)


def staff_session(starts: datetime, minutes: int = 120, headcount: int = 3) -> StaffTraining:
    return StaffTraining(f"staff-{starts.isoformat()}", starts, minutes, headcount)


def fields_of(refused: InvalidInput) -> set[str]:
    return {error.field for error in refused.errors}


# -- the questionnaire and its score ---------------------------------------------------------


def test_the_weights_add_up_to_100_with_staff_training() -> None:
    assert sum(q.weight for q in QUESTIONNAIRE) + STAFF_TRAINING_POINTS == 100
    assert 6 <= len(QUESTIONNAIRE) <= 10
    assert set(QUESTIONS) == set(MaturityQuestion)


def test_the_staff_questions_cover_each_pix_area_of_training_reference_data() -> None:
    areas = {area["id"] for area in json.loads(REFERENCE_FILE.read_text())["framework"]["areas"]}
    asked = {q.pix_area for q in QUESTIONNAIRE if q.pix_area is not None}
    assert asked == areas


def test_a_question_scores_its_weight_times_the_answer_over_3() -> None:
    assert questionnaire_points(answers(0)) == 0
    assert questionnaire_points(answers(3)) == 80
    assert questionnaire_points(answers(0, staff_security=3)) == 10
    assert questionnaire_points(answers(0, staff_security=1)) * 3 == 10


def test_staff_training_earns_a_point_an_hour_up_to_20_by_default() -> None:
    assert staff_training_points(0, RULE) == 0
    assert staff_training_points(6 * 60, RULE) == 6
    assert staff_training_points(20 * 60, RULE) == 20
    assert staff_training_points(100 * 60, RULE) == 20
    slower = MaturityRule(staff_hours_for_full_points=40)
    assert staff_training_points(20 * 60, slower) == 10


def test_the_score_is_the_sum_rounded_half_up() -> None:
    assert maturity_score(answers(0), 0, RULE) == 0
    assert maturity_score(answers(3), 20 * 60, RULE) == 100
    # One answer at 1: 3.33 points, rounded to 3; two: 6.67, rounded to 7.
    assert maturity_score(answers(0, staff_security=1), 0, RULE) == 3
    assert maturity_score(answers(0, staff_security=1, staff_content=1), 0, RULE) == 7
    # 3.33 + 0.5 (30 person-minutes) = 3.83 → 4.
    assert maturity_score(answers(0, staff_security=1), 30, RULE) == 4


@given(
    st.dictionaries(st.sampled_from(QUESTIONS), st.integers(0, 3), min_size=8, max_size=8),
    st.integers(0, 10_000),
)
def test_every_score_is_from_0_to_100(chosen: dict[MaturityQuestion, int], minutes: int) -> None:
    assert 0 <= maturity_score(chosen, minutes, RULE) <= 100


# -- answers ---------------------------------------------------------------------------------


def test_answers_must_cover_every_question_on_the_0_to_3_scale() -> None:
    chosen: dict[str, int] = {q.value: 1 for q in QUESTIONS[:-1]}
    chosen["staff_security"] = 4
    chosen["typing_speed"] = 2
    with pytest.raises(InvalidInput) as refused:
        maturity.check_answers(chosen)
    assert fields_of(refused.value) == {"answers", "answers.staff_security", "answers.typing_speed"}
    assert "digital_plan" in str(refused.value)


def test_an_assessment_dated_in_the_future_or_without_a_timezone_is_refused() -> None:
    ahead = assessment("a", NOW + timedelta(days=1), answers(1))
    with pytest.raises(InvalidInput, match="future"):
        maturity.record(Maturity("asso"), ahead, [], RULE)
    naive = assessment("a", datetime(2026, 3, 1), answers(1))
    with pytest.raises(InvalidInput, match="timezone"):
        maturity.record(Maturity("asso"), naive, [], RULE)


# -- baseline and upskilled ------------------------------------------------------------------


def test_the_first_assessment_is_the_baseline_and_upskilled_needs_20_points_more() -> None:
    january, june, september = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 6, 9))
    current, events = maturity.record(
        Maturity("asso"), assessment("base", january, answers(1)), [], RULE
    )
    [assessed] = events
    assert isinstance(assessed, AssociationMaturityAssessedV2)
    assert (assessed.score, assessed.baseline_score) == (27, 27)

    # Below the bar: 27 → 40 (+13) does not count.
    current, events = maturity.record(
        current, assessment("mid", june, answers(1, staff_information=3, staff_security=3)), [],
        RULE,
    )  # fmt: skip
    assert [e.event_type for e in events] == ["dn.training.association_maturity_assessed.v2"]
    assert isinstance(events[0], AssociationMaturityAssessedV2)
    assert events[0].score == 40
    assert current.upskilled_at is None

    # 27 → 53 (+26): upskilled, dated by the assessment that met the rule.
    current, events = maturity.record(current, assessment("end", september, answers(2)), [], RULE)
    assert isinstance(events[-1], AssociationUpskilledV1)
    assert (events[-1].baseline_score, events[-1].score) == (27, 53)
    assert events[-1].upskilled_at == current.upskilled_at == september

    # Upskilled is announced once and never undone, even by a lower score.
    current, events = maturity.record(current, assessment("later", NOW, answers(0)), [], RULE)
    assert [type(e) for e in events] == [AssociationMaturityAssessedV2]
    assert current.upskilled_at == september


def test_the_baseline_is_the_earliest_assessment_whatever_order_they_are_recorded_in() -> None:
    early = assessment("early", datetime(2026, 1, 10, tzinfo=UTC), answers(0))
    late = assessment("late", datetime(2026, 8, 10, tzinfo=UTC), answers(1))
    for order in permutations([early, late]):
        current = Maturity("asso")
        for each in order:
            current, _ = maturity.record(current, each, [], RULE)
        assert current.upskilled_at == late.assessed_at  # 0 → 27


def test_staff_sessions_held_before_an_assessment_count_in_its_score() -> None:
    baseline_day = datetime(2026, 1, 10, tzinfo=UTC)
    later = datetime(2026, 7, 1, tzinfo=UTC)
    staff = [
        staff_session(datetime(2026, 1, 5, tzinfo=UTC), 120, 3),  # before the baseline: 6 h
        staff_session(datetime(2026, 3, 5, tzinfo=UTC), 180, 4),  # 12 h
        staff_session(datetime(2026, 8, 1, tzinfo=UTC), 180, 4),  # after both: not counted
    ]
    current, _ = maturity.record(
        Maturity("asso"), assessment("base", baseline_day, answers(1)), staff, RULE
    )
    current, _events = maturity.record(current, assessment("mid", later, answers(1)), staff, RULE)

    history = maturity.scored(current, staff, RULE)
    assert [s.staff_person_minutes for s in history] == [360, 1080]
    assert [s.score for s in history] == [27 + 6, 27 + 18]
    assert current.upskilled_at is None  # +12 from staff training alone: not enough

    report = maturity.report(current, staff, RULE)
    assert report.staff_person_minutes == 1080 + 720
    assert report.latest is not None
    assert report.latest.staff_points == 18
    assert report.gain == 12


def test_a_staff_headcount_entered_after_the_assessment_can_make_it_upskilled() -> None:
    current = Maturity("asso")
    for name, at, chosen in (
        ("base", datetime(2026, 1, 10, tzinfo=UTC), answers(1)),
        ("end", datetime(2026, 9, 1, tzinfo=UTC), answers(1, staff_security=3, digital_plan=3)),
    ):
        current, _events = maturity.record(current, assessment(name, at, chosen), [], RULE)
    assert current.upskilled_at is None  # 27 → 40: +13

    staff = [staff_session(datetime(2026, 5, 1, tzinfo=UTC), 180, 3)]  # 9 h: +9 → +22
    updated, upskilled = maturity.reconsider(current, staff, RULE)

    assert upskilled is not None
    assert updated.upskilled_at == datetime(2026, 9, 1, tzinfo=UTC)
    assert maturity.reconsider(updated, staff, RULE) == (updated, None)


def test_the_upskilled_bar_is_configurable() -> None:
    strict = MaturityRule(upskilled_points=30)
    current, _ = maturity.record(
        Maturity("asso"), assessment("base", datetime(2026, 1, 1, tzinfo=UTC), answers(1)), [],
        strict,
    )  # fmt: skip
    current, _ = maturity.record(
        current, assessment("end", datetime(2026, 9, 1, tzinfo=UTC), answers(2)), [], strict
    )
    assert current.upskilled_at is None  # +26 < 30


def test_the_same_assessment_again_changes_nothing_and_other_answers_under_its_id_conflict() -> (
    None
):
    first = assessment("a-1", datetime(2026, 2, 1, 9, 0, 0, 123456, tzinfo=UTC), answers(1))
    current, _ = maturity.record(Maturity("asso"), first, [], RULE)

    again, events = maturity.record(current, first, [], RULE)
    assert (again, events) == (current, [])
    with pytest.raises(Conflict):
        maturity.record(current, assessment("a-1", first.assessed_at, answers(2)), [], RULE)


def test_scores_typed_before_the_questionnaire_stay_in_the_history() -> None:
    typed = SelfAssessment(
        "asso-score-0", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
        None, typed_score=20,
    )  # fmt: skip
    current, events = maturity.record(
        Maturity("asso", (typed,)), assessment("q", NOW, answers(2)), [], RULE
    )
    assert events[-1] == AssociationUpskilledV1(
        association_id="asso", baseline_score=20, score=53, upskilled_at=NOW
    )
    report = maturity.report(current, [], RULE)
    assert [(a.score_only, a.score) for a in report.history] == [(True, 20), (False, 53)]
    assert report.baseline is not None
    assert report.baseline.answers == []


# -- reporting: the association's own row, and every audience sees it ------------------------


def test_reporting_counts_an_upskilled_association_in_its_row_of_the_breakdown() -> None:
    deltas = reporting_domain.association_upskilled("asso-a", "2026-09-01")

    rows = {bucket for (bucket, indicator) in deltas if indicator == "associations_upskilled"}
    assert {("all", None, None), ("all", "association", "asso-a")} <= rows
    assert ("association:asso-a", "association", "asso-a") in rows
    assert {dimension for (_, dimension, _) in rows} == {None, "association", "week", "month"}


def test_funders_see_how_many_associations_are_upskilled_exactly() -> None:
    row = {"dimension": "association", "value": "asso-a", "enrolled": 12,
           "counts": {"enrolled": 12, "attended": 12, "trained": 6, "directed_to_employment": 0,
                      "associations_upskilled": 1},
           "attendance_rate": 0.8, "no_show_rate": 0.1, "skill_gain": {},
           "directed_by_outcome": {}}  # fmt: skip
    answer = {
        "enrolled": 12, "trained": 6, "directed_to_employment": 0, "associations_upskilled": 1,
        "women_share_careers": None,
        "totals": {"counts": {**row["counts"]}, "attendance_rate": 0.8, "no_show_rate": 0.1,
                   "skill_gain": {}, "directed_by_outcome": {}},
        "progress": [{"indicator": "associations_upskilled", "target": 5, "baseline": 0,
                      "actual": 1, "share": 0.2, "weekly_pace": 0.1, "reached_on": None}],
        "funnel": [], "breakdowns": [row], "history": [],
    }  # fmt: skip

    shown = anonymise(answer)

    assert shown["associations_upskilled"] == 1
    assert shown["totals"]["counts"]["associations_upskilled"] == 1
    assert shown["progress"][0]["actual"] == 1
    assert shown["breakdowns"][0]["counts"]["associations_upskilled"] == 1
