"""The indicators beyond the headline, through the whole chain: a person enrolled through
GraphQL, present at four sessions (trained), absent once without excuse, then placed on a CDI:
the funnel, rates, district breakdown, cohort, week, outcome class and target progress move."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import graphql, until
from tests.e2e.test_training_orientation_flows import (
    ASSOCIATION,
    ATTEND,
    PLACE,
    data,
    enrol,
    known_to_training,
    schedule,
    when_known_to_orientation,
)

pytestmark = pytest.mark.e2e

IMPACT = """
query ($filter: ImpactFilter) {
  impact(filter: $filter) {
    enrolled trained directedToEmployment attendanceRate noShowRate
    funnel { stage count }
    progress { indicator target actual share weeklyPace forecastOn }
    byDistrict { districtId enrolled attended trained }
    cohorts { month enrolled trained }
    weekly { week trained cumulativeTrained }
    directedByOutcome { outcomeClass people }
    freshness { lastEventTime lagSeconds p50Seconds p99Seconds }
    updatedAt
  }
}
"""


def figures(client: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = data(graphql(client, IMPACT, filter={"associationId": ASSOCIATION}))[
        "impact"
    ]
    return answer


def funnel(answer: dict[str, Any]) -> dict[str, int]:
    return {row["stage"]: row["count"] for row in answer["funnel"]}


def row(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next((r for r in rows if r[key] == value), {})


def test_trained_and_placed_person_moves_every_indicator_they_touch(
    gateway: httpx.Client, quiet_platform: None
) -> None:
    before = figures(gateway)
    person_id = enrol(gateway, associationId=ASSOCIATION, districtId="qpv-saige")
    known_to_training(gateway, person_id)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=6)
    sessions = [schedule(gateway, start + dt.timedelta(days=day)) for day in range(5)]
    statuses = ["PRESENT"] * 4 + ["UNEXCUSED_ABSENCE"]
    for session_id, status in zip(sessions, statuses, strict=True):
        attendance = {"sessionId": session_id, "beneficiaryId": person_id, "status": status}
        data(graphql(gateway, ATTEND, input=attendance))
    placement = {
        "beneficiaryId": person_id,
        "kind": "CDI",
        "startsOn": dt.date.today().isoformat(),
        "employer": "Entreprise générée",
    }
    data(when_known_to_orientation(lambda: graphql(gateway, PLACE, input=placement)))

    after = until(
        lambda: figures(gateway),
        lambda f: (
            f["directedToEmployment"] >= before["directedToEmployment"] + 1
            and f["trained"] >= before["trained"] + 1
            and funnel(f)["attended"] >= funnel(before)["attended"] + 1
        ),
        timeout_s=30,
    )

    moved = {stage: funnel(after)[stage] - funnel(before)[stage] for stage in funnel(after)}
    assert moved == {
        "enrolled": 1, "attended": 1, "trained": 1, "career_workshop": 0, "referred": 0,
        "placed": 1, "directed_to_employment": 1, "in_post_6m": 0,
    }  # fmt: skip
    district_before = row(before["byDistrict"], "districtId", "qpv-saige")
    district_after = row(after["byDistrict"], "districtId", "qpv-saige")
    assert district_after["trained"] == district_before.get("trained", 0) + 1
    assert district_after["attended"] == district_before.get("attended", 0) + 1
    month = dt.date.today().strftime("%Y-%m")
    assert row(after["cohorts"], "month", month)["trained"] == (
        row(before["cohorts"], "month", month).get("trained", 0) + 1
    )
    durable = row(after["directedByOutcome"], "outcomeClass", "DURABLE_EMPLOYMENT")["people"]
    assert (
        durable
        == row(before["directedByOutcome"], "outcomeClass", "DURABLE_EMPLOYMENT")["people"] + 1
    )
    trained_target = row(after["progress"], "indicator", "trained")
    assert trained_target["target"] == 500
    assert trained_target["actual"] == row(before["progress"], "indicator", "trained")["actual"] + 1
    assert sum(w["trained"] for w in after["weekly"]) == after["trained"]
    assert after["weekly"][-1]["cumulativeTrained"] == after["trained"]  # baseline 0
    assert after["attendanceRate"] is not None
    assert 0 < after["noShowRate"] < 1
    assert after["freshness"]["lastEventTime"] is not None
    assert after["freshness"]["p50Seconds"] is not None
