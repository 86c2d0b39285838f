"""The gateway answers a repeated `impact` query once for every caller who would get the same
answer, until the figures move (gateway/answers.py); never across audiences."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from dn.platform import Platform
from kit.auth import Principal, Role, delegated_token, issue_token
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


NAMED = "{ impact { byDistrict { districtId name } } }"


def test_a_district_renamed_in_registration_directly_is_named_so_within_seconds(
    gateway: httpx.Client, platform: Platform, settings: Settings
) -> None:
    """The gateway keeps districts' names for 30 s; registration's district_upserted event,
    heard through reporting's change stream, clears them at once."""
    assert "errors" not in graphql(gateway, ENROL, input=enrolment()).json()
    first = until(
        lambda: graphql(gateway, NAMED),
        lambda answer: bool(answer.json()["data"]["impact"]["byDistrict"]),
    )
    district_id = first.json()["data"]["impact"]["byDistrict"][0]["districtId"]
    # As a command-line client or another gateway process calls registration.
    token = delegated_token(settings, Principal("t-coordinator", Role.COORDINATOR), "registration")
    with httpx.Client(
        base_url=platform.settings.service_url("registration"),
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    ) as registration:
        listed = registration.get("/districts")
        assert listed.status_code == 200, listed.text
        (saved,) = [d for d in listed.json() if d["id"] == district_id]
        renamed = f"{saved['name']} (renamed {uuid4().hex[:6]})"
        fields = {k: saved[k] for k in ("commune", "insee_code", "qpv_code")}
        # Not through the gateway: as another gateway process or an operator's script would.
        response = registration.put(f"/districts/{district_id}", json={**fields, "name": renamed})
        assert response.status_code == 200, response.text

        def names(answer: httpx.Response) -> set[str]:
            return {row["name"] for row in answer.json()["data"]["impact"]["byDistrict"]}

        try:
            shown = until(lambda: graphql(gateway, NAMED), lambda a: renamed in names(a), 10)
            assert renamed in names(shown), "still the name kept before the change"
        finally:
            registration.put(f"/districts/{district_id}", json={**fields, "name": saved["name"]})
