"""The benchmark table: one row per figure from the JSON reports, errors shown, Markdown out;
and the impact benchmark's comparison of projection and raw-record figures."""

from __future__ import annotations

import os
import random
from typing import Any

from bench.cpu import used_between
from bench.impact_query import (
    TRAINED_MINUTES,
    TRAINED_SESSIONS,
    differences,
    figures_of_aggregation,
    figures_of_graphql,
    person,
)
from bench.simulated_year import cpu_summary
from bench.summary import markdown, p50_p99, rows
from contracts.training import AttendanceStatus

MACHINE = {"load_average_1_5_15": {"start": [1.5, 1.0, 1.0], "end": [3.25, 2.0, 1.0]}}


def test_every_report_gives_its_rows_in_a_fixed_order() -> None:
    reports: dict[str, Any] = {
        "impact_query": {
            "people": 100_000,
            "attendance_events": 2_000_000,
            "graphql_impact": {
                "clients": 50,
                "queries_per_s": 331.1,
                "p50_ms": 120.0,
                "p99_ms": 480.5,
                "errors": 0,
            },
            "graphql_floor": {"queries_per_s": 402.5, "p50_ms": 98.0, "p99_ms": 210.0},
            "raw_aggregation": {"p50_ms": 15_300.0, "p99_ms": 16_000.0},
            "figures_agree": True,
            "machine": MACHINE,
        },
        "freshness": {
            "rates": [
                {
                    "rate": 200.0,
                    "all_shown": True,
                    "graphql_visible": {"samples": 400, "p50_ms": 310.0, "p99_ms": 900.0},
                    "broker_round_trip": {"p50_ms": 4.2, "p99_ms": 12.0},
                    "projection_commit": {"p50_ms": 80.0, "p99_ms": 300.0},
                    "load_after": [2.5, 2.0, 1.0],
                }
            ],
            "enrolment_push": {
                "enrolments": 30,
                "graphql_push": {"p50_ms": 61.0, "p99_ms": 130.0},
                "mutation_answer": {"p50_ms": 25.0, "p99_ms": 40.0},
            },
        },
    }
    table = rows(reports)
    assert [row.benchmark for row in table] == ["freshness", "freshness", "impact_query"]
    freshness, enrolments, impact = table
    assert enrolments.figure == "p50 61 ms / p99 130 ms"
    assert enrolments.next_to == "the mutation's own answer p50 25 ms / p99 40 ms"
    assert "enrolment" in enrolments.measured
    assert freshness.figure == "p50 310 ms / p99 900 ms"
    assert freshness.next_to == "broker round trip p50 4.2 ms / p99 12 ms"
    assert "200 events/s" in freshness.measured
    assert "100,000 people / 2,000,000 attendance" in impact.measured
    assert impact.figure == "331.1 answers/s, p50 120 ms / p99 480 ms"
    assert impact.next_to == (
        "`{ __typename }` 402.5 answers/s, p50 98 ms / p99 210 ms; "
        "raw aggregation p50 15.3 s / p99 16.0 s"
    )
    assert impact.note.startswith("figures agree")
    assert "load 1.5–3.2" in impact.note


def test_a_failed_benchmark_is_a_row_saying_so() -> None:
    table = rows({"simulated_year": {"error": "exit code 1, no new report"}})
    assert len(table) == 1
    assert table[0].measured == "did not complete"
    assert "exit code 1" in table[0].note


def test_markdown_table_has_a_header_and_one_line_per_row() -> None:
    table = rows({"reporting_rebuild": {"events": 10, "rebuild_events_per_s": 5}})
    text = markdown(table)
    assert text.splitlines()[0].startswith("| benchmark |")
    assert len(text.splitlines()) == 3
    assert "5/s" in text
    assert p50_p99(None) == "–"


def test_both_ways_of_counting_compare_cell_by_cell() -> None:
    raw = {
        "all": [{"_id": None, "enrolled": 3, "attended": 2, "trained": 1, "present": 6,
                 "recorded": 8}],
        "byDistrict": [{"_id": "qpv-saige", "enrolled": 3, "attended": 2, "trained": 1,
                        "present": 6, "recorded": 8}],
        "byAssociation": [],
        "byGender": [{"_id": "female", "enrolled": 3, "attended": 2, "trained": 1,
                      "present": 6, "recorded": 8}],
    }  # fmt: skip
    cell = {"enrolled": 3, "attended": 2, "trained": 1, "attendanceRate": 0.75}
    graphql = {
        "enrolled": 3,
        "trained": 1,
        "attendanceRate": 0.75,
        "funnel": [{"stage": "enrolled", "count": 3}, {"stage": "attended", "count": 2}],
        "byDistrict": [{"districtId": "qpv-saige", **cell}],
        "byAssociation": [],
        "byGender": [{"gender": "FEMALE", **cell}, {"gender": "MALE", **cell, "enrolled": 0}],
    }
    assert differences(figures_of_graphql(graphql), figures_of_aggregation(raw)) == []
    graphql["byDistrict"][0]["trained"] = 2
    assert differences(figures_of_graphql(graphql), figures_of_aggregation(raw)) == [
        "byDistrict[qpv-saige]: projection {'enrolled': 3, 'attended': 2, 'trained': 2, "
        "'attendance_rate': 0.75} ≠ raw {'enrolled': 3, 'attended': 2, 'trained': 1, "
        "'attendance_rate': 0.75}"
    ]


def test_generated_people_are_trained_exactly_when_the_default_rule_holds() -> None:
    rng = random.Random(3)
    for index in range(200):
        someone = person(rng, index, 20)
        present = [a for a in someone.attendances if a.status is AttendanceStatus.PRESENT]
        rule = len(present) >= TRAINED_SESSIONS and sum(a.minutes for a in present) >= (
            TRAINED_MINUTES
        )
        assert (someone.trained is not None) == rule
        assert len(someone.attendances) == 20
        assert len({a.session_id for a in someone.attendances}) == 20


def test_partner_ingestion_is_what_was_applied_end_to_end_next_to_the_sending_rate() -> None:
    report = {
        "people": 600,
        "delivery": {"sent": 8324, "confirmed": 8324, "total_s": 149.65, "rate": 299.8,
                     "sending_s": 27.77, "resent": 1945},
        "figures_match": True,
        "figures_right_after_s": 150.6,
        "machine": {"load_average_1_5_15": {"start": [3.4, 2.7, 2.5]}},
    }  # fmt: skip
    (row,) = rows({"simulated_year": report})
    assert row.figure == "56/s"
    assert row.next_to == "sent at 300/s (27.77 s)"
    assert row.note.startswith("figures match after 150.6 s; 1,945 re-sent")


def test_partner_ingestion_shows_no_re_send_and_no_dead_letter_when_sent_once_each() -> None:
    report = {
        "people": 600,
        "delivery": {"sent": 8324, "confirmed": 8324, "total_s": 40.0, "rate": 299.8,
                     "sending_s": 27.77, "resent": 0, "dead_letters": []},
        "figures_match": True,
        "figures_right_after_s": 41.2,
        "machine": {"load_average_1_5_15": {"start": [3.4, 2.7, 2.5]}},
    }  # fmt: skip
    (row,) = rows({"simulated_year": report})
    assert row.figure == "208/s"
    assert row.next_to == "sent at 300/s (27.77 s)"
    assert row.note.startswith("figures match after 41.2 s; 0 re-sent, 0 dead letters")


def test_partner_ingestion_says_where_the_cpu_went_and_what_free_services_would_allow() -> None:
    report = {
        "people": 600,
        "delivery": {"sent": 8551, "confirmed": 8551, "total_s": 8.8, "rate": 2284.1,
                     "sending_s": 3.74, "resent": 0, "dead_letters": []},
        "figures_match": True,
        "figures_right_after_s": 9.5,
        "cpu_s": {"broker": 1.72, "gateway": 0.02, "mongodb": 3.42, "orientation": 1.52,
                  "registration": 1.15, "reporting": 2.07, "training": 2.73, "simulator": 1.4,
                  "total": 14.03},
        "cpu_ms_per_request": 1.641,
        "requests_per_s_if_services_cost_nothing": 2615,
        "machine": {"load_average_1_5_15": {"start": [0.9, 1.0, 1.0]}},
    }  # fmt: skip
    (row,) = rows({"simulated_year": report})
    assert row.figure == "972/s"
    assert (
        "CPU 14.0 s (1.641 ms a request): services 7.5 s, MongoDB 3.4 s, broker 1.7 s, "
        "load generator 1.4 s (with free services: 2,615/s)"
    ) in row.note


def test_cpu_per_request_and_the_rate_free_services_would_allow_come_from_the_readings() -> None:
    summary = cpu_summary({"mongodb": 3.0, "broker": 1.5, "simulator": 1.5, "training": 4.0}, 6000)
    assert summary["cpu_s"]["total"] == 10.0
    assert summary["cpu_ms_per_request"] == 1.667
    cores = os.cpu_count() or 1
    assert summary["requests_per_s_if_services_cost_nothing"] == round(6000 * cores / 6.0)
    assert used_between({"mongodb": 1.0, "broker": 2.0}, {"mongodb": 1.5, "broker": 2.0}) == {
        "mongodb": 0.5
    }


def test_intake_throughput_is_applied_end_to_end_next_to_the_produce_rate() -> None:
    report = {
        "requests": 9300,
        "produce_per_s": 20315,
        "applied_per_s": 457,
        "most_waiting": 7968,
        "refused": {"registration": 0, "training": 0, "orientation": 0},
        "machine": {"load_average_1_5_15": {"start": [4.4, 5.0, 5.3], "end": [4.3, 4.9, 5.3]}},
    }
    (row,) = rows({"intake_throughput": report})
    assert (row.figure, row.next_to) == ("457/s", "produced at 20,315/s")
    assert row.note == "up to 7,968 waiting at once; 0 refused; load 4.4–4.4"
