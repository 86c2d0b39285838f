"""People reached through the whole chain: a person enrolled and anonymous headcounts given
through GraphQL (a collective workshop's headcount corrected once, a staff session's headcount
beside it) move people reached by the enrolled person plus the workshop's latest headcount,
in the totals, the association and district rows, and the exported district table."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import graphql, until
from tests.e2e.test_training_orientation_flows import ASSOCIATION, data, enrol, schedule

pytestmark = pytest.mark.e2e

DISTRICT = "qpv-saige"  # the association's only district
IMPACT = """
query ($filter: ImpactFilter) {
  impact(filter: $filter) {
    enrolled peopleReached anonymousAttendees
    byAssociation { associationId enrolled peopleReached anonymousAttendees }
    byDistrict { districtId enrolled peopleReached anonymousAttendees }
  }
}
"""
HEADCOUNT = """
mutation H($sessionId: ID!, $count: Int!) {
  recordAnonymousAttendance(sessionId: $sessionId, count: $count) { id anonymousCount } }"""
STILL_FOR_S = 2.0  # the staff headcount, on another partition, has had time to arrive


def figures(client: httpx.Client, **impact_filter: str) -> dict[str, Any]:
    answer: dict[str, Any] = data(graphql(client, IMPACT, filter=impact_filter or None))["impact"]
    return answer


def row(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next((r for r in rows if r[key] == value), {})


def reach(answer: dict[str, Any]) -> dict[str, int]:
    """People reached and its parts in the association's totals, its row, its district's row."""
    association = row(answer["byAssociation"], "associationId", ASSOCIATION)
    district = row(answer["byDistrict"], "districtId", DISTRICT)
    return {
        "enrolled": answer["enrolled"],
        "anonymous": answer["anonymousAttendees"],
        "reached": answer["peopleReached"],
        "association_anonymous": association.get("anonymousAttendees", 0),
        "association_reached": association.get("peopleReached", 0),
        "district_anonymous": district.get("anonymousAttendees", 0),
        "district_reached": district.get("peopleReached", 0),
    }


def headcount(client: httpx.Client, session_id: str, count: int) -> None:
    recorded = data(graphql(client, HEADCOUNT, sessionId=session_id, count=count))
    assert recorded["recordAnonymousAttendance"]["anonymousCount"] == count


def test_people_reached_is_enrolled_plus_the_latest_headcounts_of_collective_workshops(
    gateway: httpx.Client,
) -> None:
    before = reach(figures(gateway, associationId=ASSOCIATION))
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    workshop = schedule(gateway, start)  # COLLECTIVE
    staff = schedule(gateway, start + dt.timedelta(hours=4), kind="STAFF")

    headcount(gateway, staff, 3)  # association staff: not residents reached
    headcount(gateway, workshop, 6)
    headcount(gateway, workshop, 4)  # the correction replaces the first count
    enrol(gateway, associationId=ASSOCIATION, districtId=DISTRICT)

    expected = {
        "enrolled": before["enrolled"] + 1,
        "anonymous": before["anonymous"] + 4,
        "reached": before["reached"] + 5,
        "association_anonymous": before["association_anonymous"] + 4,
        "association_reached": before["association_reached"] + 5,
        "district_anonymous": before["district_anonymous"] + 4,
        "district_reached": before["district_reached"] + 5,
    }
    after = until(
        lambda: reach(figures(gateway, associationId=ASSOCIATION)),
        lambda found: found == expected,
        timeout_s=30,
    )
    assert after == expected
    time.sleep(STILL_FOR_S)
    assert reach(figures(gateway, associationId=ASSOCIATION)) == expected  # nothing more came

    # The rule holds in every cell, for the whole programme too.
    whole = figures(gateway)
    assert whole["peopleReached"] == whole["enrolled"] + whole["anonymousAttendees"]
    assert whole["anonymousAttendees"] >= 4
    for cell in whole["byAssociation"] + whole["byDistrict"]:
        assert cell["peopleReached"] == cell["enrolled"] + cell["anonymousAttendees"], cell
    saige = row(whole["byDistrict"], "districtId", DISTRICT)
    assert saige["anonymousAttendees"] >= 4

    # The exported district table of the association carries the same figures.
    answer = gateway.get(
        "/exports/district.csv", params={"association_id": ASSOCIATION, "lang": "en"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    table = list(csv.reader(io.StringIO(answer.text)))
    header = table[0]
    assert "Anonymous attendees (collective workshops)" in header
    assert "People reached" in header
    saige_row = next(r for r in table if r[0] == "Saige")
    shown = dict(zip(header, saige_row, strict=True))
    assert int(shown["People reached"]) == expected["district_reached"]
    assert (
        int(shown["Anonymous attendees (collective workshops)"]) == (expected["district_anonymous"])
    )
