"""`dn infra` against the session's embedded instances: status, reuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TestInfra

pytestmark = pytest.mark.integration


def dn(infra: TestInfra, *args: str) -> subprocess.CompletedProcess[str]:
    if infra.embedded_env is None:
        pytest.skip("the session runs on containers, not on embedded instances")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DN_")}
    env.update(infra.embedded_env)
    dn_command = Path(sys.executable).with_name("dn")
    return subprocess.run(
        [str(dn_command), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_status_json_names_both_urls_and_says_ready(infra: TestInfra) -> None:
    result = dn(infra, "infra", "status", "--json")

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["mongodb_url"] == infra.mongodb_url
    assert status["kafka_bootstrap"] == infra.kafka_bootstrap
    assert status["ready"] is True
    assert status["mongodb"]["embedded"]
    assert status["kafka"]["embedded"]


def test_infra_up_reuses_instances_that_already_run(infra: TestInfra) -> None:
    before = json.loads(dn(infra, "infra", "status", "--json").stdout)

    result = dn(infra, "infra", "up")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("(reused)") == 2
    after = json.loads(dn(infra, "infra", "status", "--json").stdout)
    assert after["mongodb"]["pid"] == before["mongodb"]["pid"]
    assert after["kafka"]["pid"] == before["kafka"]["pid"]
