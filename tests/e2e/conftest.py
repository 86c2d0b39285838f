"""What every end-to-end module shares: helpers to call GraphQL and wait for eventual effects.
The running platform, the coordinator's token and client are session fixtures of
tests/conftest.py, so the e2e and browser tiers share one platform."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import pytest

T = TypeVar("T")


def graphql(client: httpx.Client, query: str, **variables: Any) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables}, timeout=15)


def enrolment(**overrides: Any) -> dict[str, Any]:
    """An EnrolBeneficiaryInput for a new person (names and phone unique: duplicates are
    refused)."""
    return {
        "associationId": "asso-saige-en-ligne",
        "districtId": "qpv-saige",
        "firstName": f"Zoé-{uuid4().hex[:10]}",
        "lastName": f"Testeuse-{uuid4().hex[:10]}",
        "birthYear": 1990,
        "phone": f"06 {uuid4().int % 10**8:08d}",
        "gender": "FEMALE",
        "tracks": ["DIGITAL_CAREERS"],
        "employmentStatus": "REGISTERED_JOB_SEEKER",
        "consent": {"programmeFollowUp": True, "shareWithPartners": True,
                    "contactForSurveys": False},
        **overrides,
    }  # fmt: skip


def until(probe: Callable[[], T], accept: Callable[[T], bool], timeout_s: float = 20) -> T:
    """Poll ``probe`` until ``accept`` holds or the time is up; returns the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if accept(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


QUIET_FOR_S = 1.0


@pytest.fixture(scope="module", autouse=True)
def quiet_platform(gateway: httpx.Client) -> None:
    """Each module starts once the events of the previous one have settled (the platform is
    shared), so a module comparing figures before and after its own action sees only that."""
    settled_enrolled(gateway)


def settled_enrolled(client: httpx.Client, timeout_s: float = 15) -> int:
    """``impact.enrolled`` once it has stopped moving for a second (events in flight done)."""
    deadline = time.monotonic() + timeout_s
    last, still_since = enrolled(client), time.monotonic()
    while time.monotonic() - still_since < QUIET_FOR_S and time.monotonic() < deadline:
        time.sleep(0.2)
        current = enrolled(client)
        if current != last:
            last, still_since = current, time.monotonic()
    return last


def enrolled(client: httpx.Client) -> int:
    """The programme-wide number of enrolled people, as reporting shows it now."""
    body = graphql(client, "{ impact { enrolled } }").json()
    assert "errors" not in body, body
    count: int = body["data"]["impact"]["enrolled"]
    return count
