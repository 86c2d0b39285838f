"""The partner simulator's programme model (pure) and its delivery bookkeeping (no I/O)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiokafka import ConsumerRecord

from contracts.catalogue import decode, intake_types
from contracts.dimensions import AgeBand, EmploymentStatus
from contracts.envelope import CloudEvent
from contracts.intake import EnrolmentRequestedV1
from contracts.maturity import MaturityQuestion, MaturityRule
from contracts.orientation import FollowUpReportedV1, PlacementKind, PlacementReportedV1
from contracts.registration import BeneficiaryEnrolledV1
from contracts.topics import INTAKE
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssociationMaturityAssessedV2,
    AttendanceReportedV1,
    AttendanceStatus,
    MaturityAssessmentReportedV1,
    SessionKind,
    SessionReportedV1,
)
from dn.simulation.command import DEMO_DAYS, DEMO_PEOPLE, DEMO_SEED, delivery_lines, plan
from dn.simulation.confirmation import confirmed_fact, expected_fact
from dn.simulation.delivery import INTAKE_GROUPS, DeadLetter, Delivery, DeliveryReport
from dn.simulation.programme import (
    ASSOCIATIONS,
    CAREERS_MODULES,
    INCLUSION_MODULES,
    JOB_FAMILIES,
    REFUSAL_REASONS,
    STAFF_MODULES,
    Programme,
    TrainedRule,
    plan_programme,
)
from services.training import maturity
from services.training.maturity import Maturity, SelfAssessment, StaffTraining

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 15, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def year() -> Programme:
    return plan_programme(seed=11, people=600, days=365, now=NOW)


def test_the_same_seed_plans_the_same_programme() -> None:
    first = plan_programme(seed=5, people=80, days=120, now=NOW)
    again = plan_programme(seed=5, people=80, days=120, now=NOW)

    assert first == again
    assert first.requests != plan_programme(seed=6, people=80, days=120, now=NOW).requests


def test_replaying_a_seed_later_resends_the_same_people_and_ids() -> None:
    """Playing the demo again tomorrow re-sends events applied once, enrolling nobody twice."""
    today = plan_programme(seed=5, people=80, days=120, now=NOW)
    tomorrow = plan_programme(seed=5, people=80, days=120, now=NOW + timedelta(days=1))

    def enrolments(programme: Programme) -> dict[UUID, Any]:
        return {
            r.ce_id: r.data.model_copy(update={"birth_year": None, "enrolled_on": None})
            for r in programme.requests
            if isinstance(r.data, EnrolmentRequestedV1)
        }

    assert enrolments(today) == enrolments(tomorrow)


def test_simulated_dates_span_the_period_ending_now(year: Programme) -> None:
    times = [r.at for r in year.requests]

    assert times == sorted(times)
    assert year.starts == NOW - timedelta(days=365)
    assert year.starts <= times[0] < year.starts + timedelta(days=14)
    assert NOW - timedelta(days=7) < times[-1] <= NOW
    weeks = {(t - year.starts).days // 7 for t in times}
    assert len(weeks) >= 50  # a history week after week, not one burst
    assert all(r.envelope().time == r.at for r in year.requests[:50])


def test_the_programme_has_a_realistic_shape(year: Programme) -> None:
    truth = year.truth
    assert truth.enrolled == 600
    assert 0.55 <= truth.women / truth.enrolled <= 0.65
    assert truth.women_share_careers is not None
    assert 0.3 <= truth.women_share_careers < truth.women / truth.enrolled
    assert 0.75 <= truth.present_share <= 0.85
    assert 0.05 * truth.enrolled <= truth.drop_outs <= 0.25 * truth.enrolled
    assert 0.4 * truth.enrolled <= truth.trained <= 0.9 * truth.enrolled
    assert 20 <= truth.directed_to_employment <= 80
    assert truth.placements_by_kind.get(PlacementKind.OTHER.value, 0) > 0
    assert {a.id for a in ASSOCIATIONS} == set(truth.by_association)
    assert {"18_25", "26_44", "45_64", "65_plus"} <= set(truth.by_age_band)
    sessions = [r.data for r in year.requests if isinstance(r.data, SessionReportedV1)]
    assert {s.duration_minutes for s in sessions} <= {120, 150, 180}
    assert truth.workshops > 0
    assert truth.referrals > 0


def test_each_association_serves_only_its_own_districts(year: Programme) -> None:
    served = {a.id: set(a.districts) for a in ASSOCIATIONS}
    for request in year.requests:
        if isinstance(request.data, EnrolmentRequestedV1 | SessionReportedV1):
            assert request.data.district_id in served[request.data.association_id]


def test_the_expected_figures_follow_from_the_requests(year: Programme) -> None:
    """Trained (4 sessions present, 12 h) and directed towards employment (every placement
    but OTHER), recomputed from what is sent."""
    sessions: dict[str, int] = {}
    present: dict[UUID, list[int]] = defaultdict(list)
    directed: set[UUID] = set()
    for request in year.requests:
        data = request.data
        if isinstance(data, SessionReportedV1):
            sessions[str(data.session_id)] = data.duration_minutes
        elif isinstance(data, AttendanceReportedV1) and data.status is AttendanceStatus.PRESENT:
            minutes = data.minutes or sessions[data.session_id]
            assert 1 <= minutes <= sessions[data.session_id]
            present[data.beneficiary_id].append(minutes)
        elif isinstance(data, PlacementReportedV1) and data.kind is not PlacementKind.OTHER:
            directed.add(data.beneficiary_id)

    rule = TrainedRule()
    trained = [
        p for p, m in present.items() if len(m) >= rule.min_sessions and sum(m) >= rule.min_minutes
    ]
    assert len(trained) == year.truth.trained
    assert 0 < len(trained) < len(present)  # some reach the rule, others do not
    assert len(directed) == year.truth.directed_to_employment


def test_a_stricter_rule_counts_fewer_trained() -> None:
    default = plan_programme(seed=3, people=200, days=365, now=NOW)
    strict = plan_programme(seed=3, people=200, days=365, now=NOW, rule=TrainedRule(6, 900))

    assert strict.requests == default.requests
    assert strict.truth.trained < default.truth.trained


def test_no_request_comes_before_what_it_names(year: Programme) -> None:
    provided: dict[str, datetime] = {}
    for request in year.requests:
        for need in request.needs:
            assert need in provided, f"{request.event_type} needs {need}, not sent before"
            assert provided[need] <= request.at
        if request.provides:
            assert request.provides not in provided, f"{request.provides} created twice"
            provided[request.provides] = request.at
    kinds = Counter(need.split(":")[0] for r in year.requests for need in r.needs)
    assert set(kinds) == {"beneficiary", "session", "referral", "placement"}


def test_attendance_follows_the_session_and_follow_ups_fall_due(year: Programme) -> None:
    starts: dict[str, datetime] = {}
    placements: dict[UUID, PlacementReportedV1] = {}
    for request in year.requests:
        data = request.data
        if isinstance(data, SessionReportedV1):
            assert request.at < data.starts_at
            starts[str(data.session_id)] = data.starts_at
        elif isinstance(data, AttendanceReportedV1):
            assert request.at > starts[data.session_id]
        elif isinstance(data, PlacementReportedV1):
            assert data.placement_id is not None
            placements[data.placement_id] = data
        elif isinstance(data, FollowUpReportedV1):
            placement = placements[data.placement_id]
            assert placement.kind is not PlacementKind.OTHER
            assert request.at.date() >= placement.starts_on + timedelta(days=28 * data.months)


def test_personal_data_travels_only_in_enrolment_requests(year: Programme) -> None:
    personal: set[str] = set()
    for request in year.requests:
        if isinstance(request.data, EnrolmentRequestedV1):
            data = request.data
            personal |= {data.first_name, data.last_name, f"{data.first_name} {data.last_name}"}
            personal |= {data.email} if data.email else set()
    assert len(personal) > 600

    def strings(value: object) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    for request in year.requests:
        if isinstance(request.data, EnrolmentRequestedV1):
            continue
        value, headers = request.envelope().to_kafka()
        assert not set(strings(json.loads(value))) & personal, request.event_type
        assert not set(headers.values()) & personal
        assert request.topic != "dn.intake.registration"


def test_generated_people_are_unique_where_registration_looks_for_duplicates(
    year: Programme,
) -> None:
    enrolments = [r.data for r in year.requests if isinstance(r.data, EnrolmentRequestedV1)]
    identities = Counter(
        (e.association_id, e.first_name, e.last_name, e.birth_year)
        for e in enrolments
        if e.birth_year is not None
    )
    emails = [e.email for e in enrolments if e.email]

    assert max(identities.values()) == 1
    assert len(set(emails)) == len(emails)
    assert all(e.endswith("@example.org") for e in emails)
    assert all(e.phone is None for e in enrolments)


def test_every_request_is_a_valid_intake_event_on_its_topic(year: Programme) -> None:
    for request in year.requests[:: max(1, len(year.requests) // 400)]:
        value, headers = request.envelope().to_kafka()
        event = CloudEvent.from_kafka(value, {k: v.encode() for k, v in headers.items()})
        assert decode(event, intake_types(request.topic)) == request.data
        assert request.topic in INTAKE
        assert event.subject == request.key
    assert len({r.ce_id for r in year.requests}) == len(year.requests)


def test_the_model_is_in_step_with_the_services_reference_data() -> None:
    registration = json.loads((ROOT / "services/registration/reference_data.json").read_text())
    training = json.loads((ROOT / "services/training/reference_data.json").read_text())
    orientation = json.loads((ROOT / "services/orientation/reference_data.json").read_text())

    assert {a.id: list(a.districts) for a in ASSOCIATIONS} == {
        a["id"]: a["districts"] for a in registration["associations"]
    }
    modules = {m["id"]: set(m["competences"]) for m in training["modules"]}
    for module, competences in {**INCLUSION_MODULES, **CAREERS_MODULES}.items():
        assert set(competences) <= modules[module]
    assert set(JOB_FAMILIES) <= {f["code"] for f in orientation["job_families"]}
    assert set(REFUSAL_REASONS) <= set(orientation["refusal_reasons"])


def test_the_intake_groups_watched_are_the_services_own() -> None:
    from services.orientation import handlers as orientation
    from services.registration import handlers as registration
    from services.training import handlers as training

    assert {
        registration.TOPICS[0]: registration.GROUP_ID,
        training.INTAKE_TOPICS[0]: training.INTAKE_GROUP_ID,
        orientation.INTAKE_TOPICS[0]: orientation.INTAKE_GROUP_ID,
    } == INTAKE_GROUPS


def dead_letter(ce_id: str, reason: str) -> ConsumerRecord[bytes, bytes]:
    headers = [("ce_id", ce_id.encode()), ("dn_error", reason.encode())]
    headers.append(("dn_error_detail", b"what to change"))
    return ConsumerRecord(
        topic="dn.deadletter", partition=0, offset=0, timestamp=0, timestamp_type=0,
        key=None, value=b"{}", checksum=None, serialized_key_size=0, serialized_value_size=2,
        headers=headers,
    )  # fmt: skip


def test_a_dead_letter_of_its_own_is_reported_as_a_failure_and_never_sent_again() -> None:
    """Even ``unknown_*``: the platform dead-letters those only after waiting for what they
    name, so sending the same request again would not help."""
    programme = plan_programme(seed=1, people=5, days=30, now=NOW)
    delivery = Delivery(programme, "unused:9092")
    attendance = next(r for r in programme.requests if isinstance(r.data, AttendanceReportedV1))
    ce_id = str(attendance.ce_id)
    delivery.report.sends[ce_id] = 1

    delivery._dead_lettered(dead_letter(ce_id, "unknown_session"))
    delivery._dead_lettered(dead_letter(ce_id, "unknown_session"))  # read twice: counted once

    assert [(d.ce_id, d.reason, d.detail) for d in delivery.report.dead_lettered] == [
        (ce_id, "unknown_session", "what to change")
    ]
    assert delivery.report.dead_lettered[0].event_type == attendance.event_type
    assert expected_fact(attendance.data) not in delivery.awaited  # no longer waited for
    assert delivery.report.sends[ce_id] == 1
    assert delivery.report.resent == 0
    assert not delivery.report.ok
    assert delivery.report.as_json()["dead_letters_by_reason"] == {"unknown_session": 1}


def test_dead_letters_of_other_partners_are_ignored() -> None:
    programme = plan_programme(seed=1, people=5, days=30, now=NOW)
    delivery = Delivery(programme, "unused:9092")
    delivery.report.sends.update(str(r.ce_id) for r in programme.requests)
    delivery.report.confirmed = len(programme.requests)

    delivery._dead_lettered(dead_letter(str(UUID(int=7)), "unknown_beneficiary"))

    assert delivery.report.dead_lettered == []
    assert delivery.report.resent == 0
    assert delivery.report.ok


def test_a_request_sent_twice_fails_the_run() -> None:
    programme = plan_programme(seed=1, people=5, days=30, now=NOW)
    delivery = Delivery(programme, "unused:9092")
    ce_id = str(programme.requests[0].ce_id)
    delivery.report.sends[ce_id] = 2

    assert delivery.report.resent == 1
    assert not delivery.report.ok
    assert delivery.report.as_json()["resent"] == 1


def test_the_summary_says_each_request_was_sent_once_and_names_any_dead_letter() -> None:
    clean = DeliveryReport(total=2, confirmed=2, sending_s=1.0, total_s=2.0)
    clean.sent["dn.intake.registration.enrolment_requested.v1"] = 2
    failed = DeliveryReport(total=2, confirmed=1, sending_s=1.0, total_s=2.0)
    failed.sent["dn.intake.registration.enrolment_requested.v1"] = 2
    failed.dead_lettered.append(
        DeadLetter("c-1", "dn.intake.training.attendance_reported.v1", "unknown_session",
                   "session s-1 never reached training: the request waited 7 d 0 h for it")
    )  # fmt: skip

    assert delivery_lines(clean)[1:] == ["dead letters: none"]
    assert "each once" in delivery_lines(clean)[0]
    lines = delivery_lines(failed)
    assert lines[1] == "FAILED: 1 request dead-lettered: 1 unknown_session"
    assert "c-1: unknown_session: session s-1 never reached training" in lines[2]
    assert not any("re-sent" in line for line in lines + delivery_lines(clean))


@pytest.mark.parametrize(("days", "people"), [(6, 10), (731, 10), (30, 0)])
def test_sizes_out_of_range_are_refused(days: int, people: int) -> None:
    with pytest.raises(ValueError, match="between"):
        plan_programme(seed=1, people=people, days=days, now=NOW)


def test_each_request_waits_for_its_own_canonical_fact(year: Programme) -> None:
    facts = [expected_fact(r.data) for r in year.requests]

    assert len(set(facts)) == len(facts)
    enrolment = next(r.data for r in year.requests if isinstance(r.data, EnrolmentRequestedV1))
    assert enrolment.beneficiary_id is not None
    enrolled = BeneficiaryEnrolledV1(
        beneficiary_id=enrolment.beneficiary_id, association_id=enrolment.association_id,
        district_id=enrolment.district_id, gender=enrolment.gender, age_band=AgeBand.UNKNOWN,
        tracks=enrolment.tracks, employment_status=EmploymentStatus.UNKNOWN,
        qpv_resident=True, shares_with_partners=True, enrolled_at=NOW,
    )  # fmt: skip
    assert confirmed_fact(enrolled) == expected_fact(enrolment)


def test_each_association_assesses_its_maturity_and_trains_its_staff(year: Programme) -> None:
    assessments = [r for r in year.requests if isinstance(r.data, MaturityAssessmentReportedV1)]
    staff = [
        r.data
        for r in year.requests
        if isinstance(r.data, SessionReportedV1) and r.data.kind is SessionKind.STAFF
    ]

    assert Counter(r.data.association_id for r in assessments) == {a.id: 3 for a in ASSOCIATIONS}
    assert year.truth.maturity_assessments == len(assessments)
    assert year.truth.staff_sessions == len(staff) > 0
    assert {s.module_id for s in staff} <= {*INCLUSION_MODULES, *CAREERS_MODULES}
    assert set(STAFF_MODULES) <= {*INCLUSION_MODULES, *CAREERS_MODULES}
    for request in assessments:  # the baseline early, the last one near the end
        assert isinstance(request.data, MaturityAssessmentReportedV1)
        assert request.data.assessed_at is not None
        assert request.data.assessed_at < request.at
        assert set(request.data.answers) == set(MaturityQuestion)


def test_most_associations_end_the_demo_year_upskilled() -> None:
    demo = plan(DEMO_SEED, DEMO_PEOPLE, DEMO_DAYS, NOW)

    assert 3 <= demo.truth.associations_upskilled < len(ASSOCIATIONS)
    assert demo.truth.as_json()["associations_upskilled"] == demo.truth.associations_upskilled


def test_the_upskilled_truth_is_what_training_decides_from_the_requests(year: Programme) -> None:
    """Training's own rules (services/training/maturity.py) fed with the simulator's
    self-assessments and staff headcounts, in request order, upskill the associations the
    ground truth names."""
    sessions: dict[str, SessionReportedV1] = {}
    staff: defaultdict[str, list[StaffTraining]] = defaultdict(list)
    current: dict[str, Maturity] = {}
    for request in year.requests:
        data = request.data
        if isinstance(data, SessionReportedV1) and data.kind is SessionKind.STAFF:
            sessions[str(data.session_id)] = data
        elif isinstance(data, AnonymousAttendanceReportedV1) and data.session_id in sessions:
            session = sessions[data.session_id]
            staff[session.association_id].append(
                StaffTraining(data.session_id, session.starts_at, session.duration_minutes,
                              data.count)
            )  # fmt: skip
            for association_id, known in current.items():
                current[association_id], _ = maturity.reconsider(
                    known, staff[association_id], MaturityRule()
                )
        elif isinstance(data, MaturityAssessmentReportedV1):
            assert data.assessed_at is not None
            known = current.get(data.association_id, Maturity(data.association_id))
            assessment = SelfAssessment(
                str(data.assessment_id), data.assessed_at, request.at, dict(data.answers)
            )
            current[data.association_id], _ = maturity.record(
                known, assessment, staff[data.association_id], MaturityRule()
            )

    upskilled = sorted(a for a, known in current.items() if known.upskilled_at is not None)
    assert tuple(upskilled) == year.truth.upskilled_associations
    assert 0 < len(upskilled) < len(ASSOCIATIONS)


def test_a_higher_upskilled_bar_counts_fewer_associations() -> None:
    default = plan_programme(seed=3, people=50, days=365, now=NOW)
    strict = plan_programme(
        seed=3, people=50, days=365, now=NOW, maturity=MaturityRule(upskilled_points=60)
    )

    assert strict.requests == default.requests
    assert strict.truth.associations_upskilled < default.truth.associations_upskilled


def test_a_maturity_request_waits_for_its_assessed_event(year: Programme) -> None:
    request = next(
        r.data for r in year.requests if isinstance(r.data, MaturityAssessmentReportedV1)
    )
    assert isinstance(request, MaturityAssessmentReportedV1)
    assert request.assessment_id is not None
    assessed = AssociationMaturityAssessedV2(
        association_id=request.association_id, assessment_id=str(request.assessment_id),
        answers=request.answers, staff_person_minutes=0, score=30, baseline_score=30,
        assessed_at=NOW,
    )  # fmt: skip
    assert confirmed_fact(assessed) == expected_fact(request)
