"""Association upskilling end to end: a coordinator records an association's maturity
self-assessments in GraphQL, staff sessions add their hours, and reporting's
``impact { associationsUpskilled byAssociation { upskilled } }`` counts the association once it
scores 20 points above its baseline. Each test uses an association of its own (an association
upskilled stays upskilled), on the shared platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts.maturity import MaturityQuestion
from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import graphql, until
from tests.support import graphql_data as data

pytestmark = pytest.mark.e2e

SAVE_ASSOCIATION = """
mutation A($id: ID!, $input: AssociationInput!) {
  saveAssociation(id: $id, input: $input) { id } }"""
ASSESSMENT = (
    "id assessedAt score staffHours staffPoints questionnairePoints answers { question answer }"
)
MATURITY = f"""associationId baselineScore latestScore gain staffHours upskilled upskilledAt
  upskilledPoints baseline {{ {ASSESSMENT} }} latest {{ {ASSESSMENT} }}
  history {{ {ASSESSMENT} }}"""
ASSESS = f"""
mutation M($id: ID!, $answers: [MaturityAnswerInput!]!, $at: DateTime) {{
  assessAssociationMaturity(associationId: $id, answers: $answers, assessedAt: $at) {{
    {MATURITY} }} }}"""
READ = f"query R($id: ID!) {{ associationMaturity(id: $id) {{ {MATURITY} }} }}"
IMPACT = """query I($filter: ImpactFilter) {
  impact(filter: $filter) { associationsUpskilled byAssociation { associationId upskilled } } }"""
SCHEDULE = """
mutation S($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id kind } }"""
HEADCOUNT = """
mutation H($id: ID!, $count: Int!) { recordAnonymousAttendance(sessionId: $id, count: $count) {
  id anonymousCount } }"""
NOW = datetime.now(UTC)


def answers(level: int, **others: int) -> list[dict[str, Any]]:
    """Every question answered ``level`` but the ones named (GraphQL enum names)."""
    chosen = {question.name: level for question in MaturityQuestion}
    chosen.update({name.upper(): value for name, value in others.items()})
    return [{"question": name, "answer": value} for name, value in chosen.items()]


def new_association(gateway: httpx.Client) -> str:
    association_id = f"asso-upskill-{uuid4().hex[:8]}"
    association = {"name": f"Association {association_id}", "districts": ["qpv-saige"]}
    data(graphql(gateway, SAVE_ASSOCIATION, id=association_id, input=association))
    return association_id


def assess(
    client: httpx.Client, association_id: str, chosen: list[dict[str, Any]], at: datetime
) -> dict[str, Any]:
    answer = data(graphql(client, ASSESS, id=association_id, answers=chosen, at=at.isoformat()))
    maturity: dict[str, Any] = answer["assessAssociationMaturity"]
    return maturity


def upskilled_figures(gateway: httpx.Client, association_id: str) -> tuple[int, bool, int]:
    """(programme-wide associationsUpskilled, this association's row says upskilled, the
    association's own scope's figure)."""
    everyone = data(graphql(gateway, IMPACT))["impact"]
    row = next((r for r in everyone["byAssociation"] if r["associationId"] == association_id), None)
    own = data(graphql(gateway, IMPACT, filter={"associationId": association_id}))["impact"]
    return (
        everyone["associationsUpskilled"],
        bool(row and row["upskilled"]),
        own["associationsUpskilled"],
    )


def test_an_assessment_20_points_above_the_baseline_counts_the_association_upskilled(
    gateway: httpx.Client,
) -> None:
    association_id = new_association(gateway)
    before, _, _ = upskilled_figures(gateway, association_id)

    baseline = assess(gateway, association_id, answers(1), NOW - timedelta(days=200))
    assert (baseline["baselineScore"], baseline["upskilled"]) == (27, False)
    assert baseline["upskilledPoints"] == 20

    # A second assessment 13 points above the baseline is below the bar.
    below = assess(
        gateway, association_id, answers(1, staff_security=3, digital_plan=3),
        NOW - timedelta(days=100),
    )  # fmt: skip
    assert (below["latestScore"], below["gain"], below["upskilled"]) == (40, 13, False)

    # 27 → 53: upskilled, dated by the assessment that met the rule.
    above_at = NOW - timedelta(days=10)
    above = assess(gateway, association_id, answers(2), above_at)
    assert (above["latestScore"], above["gain"], above["upskilled"]) == (53, 26, True)
    assert datetime.fromisoformat(above["upskilledAt"]) == above_at.replace(
        microsecond=above_at.microsecond // 1000 * 1000
    )
    assert [a["score"] for a in above["history"]] == [27, 40, 53]
    assert {a["answer"] for a in above["latest"]["answers"]} == {2}

    figures = until(
        lambda: upskilled_figures(gateway, association_id), lambda seen: seen[0] > before
    )
    assert figures == (before + 1, True, 1)

    # A later, lower assessment does not undo it, nor count it twice.
    lower = assess(gateway, association_id, answers(0), NOW)
    assert (lower["latestScore"], lower["upskilled"]) == (0, True)
    read = data(graphql(gateway, READ, id=association_id))["associationMaturity"]
    assert [a["score"] for a in read["history"]] == [27, 40, 53, 0]
    assert until(lambda: upskilled_figures(gateway, association_id), lambda _: False, 1.5) == (
        before + 1, True, 1,
    )  # fmt: skip


def test_staff_session_hours_count_in_the_score_and_can_make_the_association_upskilled(
    gateway: httpx.Client,
) -> None:
    association_id = new_association(gateway)
    before, _, _ = upskilled_figures(gateway, association_id)
    assess(gateway, association_id, answers(1), NOW - timedelta(days=120))
    below = assess(gateway, association_id, answers(1, staff_security=3, digital_plan=3), NOW)
    assert (below["gain"], below["upskilled"], below["staffHours"]) == (13, False, 0)

    # The staff's training, entered afterwards: 3 staff for 3 h, a month ago (9 person-hours:
    # 9 points at the default 1 point an hour) → 40 + 9 = 49, 22 above the baseline.
    session = data(
        graphql(
            gateway, SCHEDULE,
            input={"associationId": association_id, "moduleId": "mod-securite",
                   "startsAt": (NOW - timedelta(days=30)).isoformat(), "durationMinutes": 180,
                   "kind": "STAFF", "capacity": 8},
        )
    )["scheduleSession"]  # fmt: skip
    assert session["kind"] == "STAFF"
    data(graphql(gateway, HEADCOUNT, id=session["id"], count=3))

    read = data(graphql(gateway, READ, id=association_id))["associationMaturity"]
    baseline, latest = read["history"]
    assert (baseline["staffHours"], baseline["score"]) == (0, 27)  # held after the baseline
    assert (latest["staffHours"], latest["staffPoints"], latest["score"]) == (9, 9, 49)
    assert (read["staffHours"], read["gain"], read["upskilled"]) == (9, 22, True)
    assert datetime.fromisoformat(read["upskilledAt"]) == datetime.fromisoformat(
        latest["assessedAt"]
    )
    figures = until(
        lambda: upskilled_figures(gateway, association_id), lambda seen: seen[0] > before
    )
    assert figures == (before + 1, True, 1)


def test_association_staff_record_their_own_self_assessment_only(
    gateway: httpx.Client, platform: Platform, settings: Settings
) -> None:
    own, other = new_association(gateway), new_association(gateway)
    token = issue_token(settings, Role.ASSOCIATION, association_id=own, subject="t-upskill")
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=platform.settings.gateway_url, headers=headers) as staff:
        recorded = assess(staff, own, answers(2), NOW)
        assert recorded["baselineScore"] == 53
        refused = graphql(staff, ASSESS, id=other, answers=answers(2), at=NOW.isoformat()).json()
    assert refused.get("data") is None
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}


def test_an_incomplete_or_out_of_scale_self_assessment_is_refused_saying_what_to_send(
    gateway: httpx.Client,
) -> None:
    association_id = new_association(gateway)
    chosen = answers(1, staff_security=4)[:-1]

    body = graphql(gateway, ASSESS, id=association_id, answers=chosen).json()

    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    fields = {f["field"]: f["message"] for f in error["extensions"]["fields"]}
    assert "0 (not at all) to 3" in fields["answers.staff_security"]
    assert "digital_plan" in fields["answers"]
    questionnaire = data(
        graphql(gateway, "{ maturityQuestionnaire { questions { id weight pixArea english } "
                         "scale { value english } staffTrainingPoints upskilledPoints } }")
    )["maturityQuestionnaire"]  # fmt: skip
    weights = sum(q["weight"] for q in questionnaire["questions"])
    assert weights + questionnaire["staffTrainingPoints"] == 100
    assert [s["value"] for s in questionnaire["scale"]] == [0, 1, 2, 3]
