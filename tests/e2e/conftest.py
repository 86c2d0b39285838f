"""What every end-to-end module shares: one running platform for the whole session, a
coordinator's token and client, and helpers to call GraphQL and wait for eventual effects."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import pytest

from kit.platform import Platform, running
from kit.settings import Settings
from tests.conftest import TestInfra

T = TypeVar("T")


@pytest.fixture(scope="session")
def platform(settings: Settings, infra: TestInfra) -> Iterator[Platform]:
    """Every process of the platform, started once and shared by every e2e module."""
    with running(Platform(settings, infra.mongodb_url, infra.kafka_bootstrap), 90) as started:
        yield started


@pytest.fixture(scope="session")
def coordinator_token(settings: Settings) -> str:
    """A token from the `dn token` command, as a coordinator would get one."""
    dn = Path(sys.executable).with_name("dn")
    env = {"DN_HOME": str(settings.home), "DN_JWT_SECRET": settings.jwt_secret or "", "PATH": ""}
    result = subprocess.run(
        [str(dn), "token", "--role", "coordinator"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.fixture(scope="session")
def gateway(platform: Platform, coordinator_token: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {coordinator_token}"}
    with httpx.Client(base_url=platform.settings.gateway_url, headers=headers) as client:
        yield client


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
