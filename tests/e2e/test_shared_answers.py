"""The gateway answers a repeated `impact` query once for every caller who would get the same
answer, until the figures move (gateway/answers.py); never across audiences."""

from __future__ import annotations

import httpx
import pytest

from kit.auth import Role, issue_token
from kit.platform import Platform
from kit.settings import Settings
from tests.e2e.conftest import enrolment, graphql, until

pytestmark = pytest.mark.e2e

DASHBOARD = "{ impact { enrolled anonymised byDistrict { districtId enrolled } } }"
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"


def service_calls(response: httpx.Response) -> int:
    return int(response.headers["x-dn-service-calls"])


def test_a_repeated_impact_query_is_answered_without_asking_again_until_figures_move(
    gateway: httpx.Client, platform: Platform, settings: Settings
) -> None:
    # Shared once the gateway hears reporting's change stream (it starts on the first query).
    shared = until(
        lambda: [graphql(gateway, DASHBOARD) for _ in range(2)],
        lambda pair: service_calls(pair[1]) == 0,
    )
    assert shared[1].json() == shared[0].json()
    assert shared[1].json()["data"]["impact"]["anonymised"] is False
    before = shared[1].json()["data"]["impact"]["enrolled"]

    funder = issue_token(settings, Role.FUNDER, subject="t-funder")
    with httpx.Client(
        base_url=platform.settings.gateway_url,
        headers={"authorization": f"Bearer {funder}"},
        timeout=30,
    ) as funders:
        theirs = graphql(funders, DASHBOARD)
    assert service_calls(theirs) > 0, "another audience's answer is its own"
    assert theirs.json()["data"]["impact"]["anonymised"] is True

    assert "errors" not in graphql(gateway, ENROL, input=enrolment()).json()
    moved = until(
        lambda: graphql(gateway, DASHBOARD),
        lambda answer: answer.json()["data"]["impact"]["enrolled"] == before + 1,
    )
    assert moved.json()["data"]["impact"]["enrolled"] == before + 1
