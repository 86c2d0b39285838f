"""`dn registration export` and `dn registration retention` against the running platform."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dn.platform import Platform, child_environment
from kit.settings import Settings
from tests.conftest import TestInfra
from tests.e2e.conftest import enrolment, graphql, until

pytestmark = pytest.mark.e2e
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"


def dn(settings: Settings, infra: TestInfra, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_environment(settings, infra.mongodb_url, infra.kafka_bootstrap)
    return subprocess.run(
        [str(Path(sys.executable).with_name("dn")), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_export_gives_every_service_s_view_of_the_person(
    gateway: httpx.Client,
    platform: Platform,
    settings: Settings,
    infra: TestInfra,
    tmp_path: Path,
) -> None:
    person = enrolment()
    beneficiary_id = graphql(gateway, ENROL, input=person).json()["data"]["enrolBeneficiary"]["id"]
    output = tmp_path / "export.json"

    def exported() -> dict[str, object]:
        result = dn(
            settings, infra, "registration", "export", beneficiary_id, "--output", str(output)
        )
        assert result.returncode == 0, result.stdout + result.stderr
        document: dict[str, object] = json.loads(output.read_text(encoding="utf-8"))
        return document

    # Reporting learns of the person through Kafka: wait until its part is there too.
    document = until(exported, lambda d: bool(d["services"]["reporting"]["records"]))  # type: ignore[index]
    services = document["services"]
    assert isinstance(services, dict)
    assert set(services) == {"registration", "training", "orientation", "reporting"}
    record = services["registration"]["record"]
    assert record["first_name"] == person["firstName"]
    assert record["phone"] == person["phone"]
    assert [entry["purpose"] for entry in services["registration"]["consent_history"]]
    assert services["reporting"]["records"][0]["district_id"] == "qpv-saige"


def test_export_of_an_unknown_person_fails_clearly(
    settings: Settings, infra: TestInfra, platform: Platform
) -> None:
    result = dn(settings, infra, "registration", "export", "no-such-person")

    assert result.returncode == 2
    assert "no beneficiary" in result.stdout


def test_retention_dry_run_lists_nobody_recently_in_contact(
    settings: Settings, infra: TestInfra, platform: Platform
) -> None:
    result = dn(settings, infra, "registration", "retention", "--older-than-days", "730")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 record(s) without contact for 730 days would be anonymised" in result.stdout
