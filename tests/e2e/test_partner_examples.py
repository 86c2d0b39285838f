"""The partner examples in docs/ work as written, against the running platform."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.conftest import TestInfra
from tests.e2e.conftest import until

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HTTP_EXAMPLE_SOURCE = "partner/asso-lac-connecte-crm"


def delivery(platform: Platform, _: str, source: str) -> dict[str, Any]:
    token = issue_token(platform.settings, Role.COORDINATOR, audience="registration")
    answer = httpx.get(
        f"{platform.settings.service_url('registration')}/deliveries",
        params={"partner": source},
        headers={"authorization": f"Bearer {token}"},
    ).json()
    return answer[0] if answer else {"accepted": 0, "rejected": 0}


def test_python_kafka_example_enrols_a_resident(
    platform: Platform, infra: TestInfra, coordinator_token: str
) -> None:
    source = f"partner/example-{uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DN_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "PARTNER_SOURCE": source,
        "FIRST_NAME": f"Awa{uuid4().hex[:6]}",
        "LAST_NAME": f"Doc{uuid4().hex[:6]}",
    }

    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "enrol_over_kafka.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sent ")
    log = until(
        lambda: delivery(platform, coordinator_token, source),
        lambda entry: entry["accepted"] + entry["rejected"] > 0,
    )
    assert (log["accepted"], log["rejected"]) == (1, 0), log


def test_curl_http_example_enrols_a_resident(
    platform: Platform, settings: Settings, coordinator_token: str
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed on this machine")
    before = delivery(platform, coordinator_token, HTTP_EXAMPLE_SOURCE)
    token = issue_token(settings, Role.PARTNER, association_id="asso-lac-connecte")
    env = {
        **os.environ,
        "TOKEN": token,
        "GATEWAY": settings.gateway_url,
        "FIRST_NAME": f"Malik{uuid4().hex[:6]}",
        "LAST_NAME": f"Doc{uuid4().hex[:6]}",
    }

    result = subprocess.run(
        ["sh", str(EXAMPLES / "enrol_over_http.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"topic":"dn.intake.registration"' in result.stdout
    log = until(
        lambda: delivery(platform, coordinator_token, HTTP_EXAMPLE_SOURCE),
        lambda entry: entry["accepted"] > before["accepted"],
    )
    assert log["accepted"] == before["accepted"] + 1
