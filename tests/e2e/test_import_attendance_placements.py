"""`dn import attendance` and `dn import placements` against the running platform: a partner's
roll-call and placements spreadsheets go in, refused rows come back with their reasons, and
importing the same file again records nothing twice."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dn.platform import Platform, child_environment
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.conftest import TestInfra
from tests.e2e.conftest import enrolment, graphql, until

pytestmark = pytest.mark.e2e
ASSOCIATION = "asso-saige-en-ligne"
MODULE = "mod-premiers-pas"
DN = Path(sys.executable).with_name("dn")
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
SUMMARY = re.compile(
    r"(created|valid) (\d+), already recorded (\d+), invalid (\d+)(?: \(rows: ([\d, ]+)\))?"
)


@pytest.fixture(scope="module")
def people(gateway: httpx.Client) -> list[str]:
    """Three newly enrolled people (unique names and phones), as ids."""
    ids = []
    for _ in range(3):
        body = graphql(gateway, ENROL, input=enrolment()).json()
        assert "errors" not in body, body
        ids.append(body["data"]["enrolBeneficiary"]["id"])
    return ids


@pytest.fixture(scope="module")
def training(platform: Platform) -> Iterator[httpx.Client]:
    token = issue_token(platform.settings, Role.COORDINATOR, audience="training")
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(
        base_url=platform.settings.service_url("training"), headers=headers
    ) as client:
        yield client


@pytest.fixture(scope="module")
def orientation(platform: Platform) -> Iterator[httpx.Client]:
    token = issue_token(platform.settings, Role.COORDINATOR, audience="orientation")
    headers = {"authorization": f"Bearer {token}"}
    url = platform.settings.service_url("orientation")
    with httpx.Client(base_url=url, headers=headers) as client:
        yield client


def write_csv(path: Path, headers: list[str], rows: list[list[str]]) -> Path:
    """As French spreadsheet software saves it: semicolons, Windows-1252."""
    with path.open("w", encoding="cp1252", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def dn_import(
    settings: Settings, infra: TestInfra, what: str, file: Path, *options: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = child_environment(settings, infra.mongodb_url, infra.kafka_bootstrap)
    environment.pop("DN_TOKEN", None)
    environment["COLUMNS"] = "200"  # rich wraps at 80 columns when not on a terminal
    environment.update(env)
    return subprocess.run(
        [str(DN), "import", what, str(file), *options],
        capture_output=True, text=True, env=environment, timeout=300,
    )  # fmt: skip


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    found = SUMMARY.search(result.stdout)
    assert found, f"no summary line in:\n{result.stdout}\n{result.stderr}"
    done, count, duplicates, invalid, rows = found.groups()
    return {
        done: int(count),
        "duplicate": int(duplicates),
        "invalid": int(invalid),
        "rows": [int(r) for r in rows.split(", ")] if rows else [],
    }


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file, delimiter=";"))


def ids_by_row(report: list[dict[str, str]], status: str, column: str) -> dict[int, str]:
    return {int(line["row"]): line[column] for line in report if line["status"] == status}


def test_an_attendance_sheet_records_the_good_rows_once_and_names_the_faulty_ones(
    platform: Platform,
    settings: Settings,
    infra: TestInfra,
    training: httpx.Client,
    people: list[str],
    tmp_path: Path,
) -> None:
    starts_at = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    scheduled = training.post(
        "/sessions",
        json={"association_id": ASSOCIATION, "district_id": "qpv-saige", "module_id": MODULE,
              "kind": "collective", "starts_at": starts_at.isoformat(), "duration_minutes": 120,
              "capacity": 12},
    )  # fmt: skip
    assert scheduled.status_code == 201, scheduled.text
    session = scheduled.json()["id"]
    # The people reach training through Kafka.
    known = until(
        lambda: [training.get(f"/beneficiaries/{p}/progress").status_code for p in people],
        lambda codes: codes == [200, 200, 200],
    )
    assert known == [200, 200, 200]
    stranger = str(uuid4())
    file = write_csv(
        tmp_path / "émargement.csv",
        ["Séance", "Bénéficiaire", "Présence", "Minutes"],
        [
            [session, people[0], "présent", ""],
            [session, people[1], "absent excusé", ""],
            [session, people[2], "en retard", ""],
            [session, stranger, "présent", "60"],
            [session, people[2], "présent", "90"],
        ],
    )
    report = tmp_path / "report.csv"

    checked = dn_import(settings, infra, "attendance", file, "--dry-run")

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert summary(checked) == {"valid": 3, "duplicate": 0, "invalid": 2, "rows": [4, 5]}
    assert "nothing was recorded" in checked.stdout
    assert training.get(f"/sessions/{session}").json()["roll_call"] == []

    first = dn_import(settings, infra, "attendance", file, "--report", str(report))

    assert first.returncode == 1, first.stdout + first.stderr
    assert summary(first) == {"created": 3, "duplicate": 0, "invalid": 2, "rows": [4, 5]}
    lines = read_report(report)
    invalid = {int(line["row"]): line for line in lines if line["status"] == "invalid"}
    assert set(invalid) == {4, 5}
    assert invalid[4]["column"] == "Présence"
    assert "présent / present" in invalid[4]["accepted"]
    assert invalid[5]["column"] == "Bénéficiaire"
    assert "training does not know beneficiary" in invalid[5]["accepted"]
    created = ids_by_row(lines, "created", "attendance_id")
    assert set(created) == {2, 3, 6}
    roll = training.get(f"/sessions/{session}").json()["roll_call"]
    assert sorted((a["beneficiary_id"], a["status"], a["minutes"]) for a in roll) == sorted(
        [(people[0], "present", 120), (people[1], "excused_absence", 0),
         (people[2], "present", 90)]
    )  # fmt: skip

    again = dn_import(settings, infra, "attendance", file, "--report", str(report))

    assert again.returncode == 1, again.stdout + again.stderr
    assert summary(again) == {"created": 0, "duplicate": 3, "invalid": 2, "rows": [4, 5]}
    lines = read_report(report)
    duplicates = {int(line["row"]): line for line in lines if line["status"] == "duplicate"}
    assert ids_by_row(lines, "duplicate", "attendance_id") == created
    assert {line["problem"] for line in duplicates.values()} == {"already recorded"}
    assert len(training.get(f"/sessions/{session}").json()["roll_call"]) == 3


def test_a_placements_sheet_records_the_good_rows_once_and_names_the_faulty_one(
    platform: Platform,
    settings: Settings,
    infra: TestInfra,
    orientation: httpx.Client,
    people: list[str],
    tmp_path: Path,
) -> None:
    until(
        lambda: [
            any(r["record"] == "person" for r in orientation.get(f"/beneficiaries/{p}/export")
                .json()["records"])
            for p in people[:2]
        ],
        all,
    )  # fmt: skip
    started = (datetime.now(UTC) - timedelta(days=10)).date()
    file = write_csv(
        tmp_path / "sorties.csv",
        ["Bénéficiaire", "Type de sortie", "Date de début", "Employeur", "Secteur numérique"],
        [
            [people[0], "CDI", started.strftime("%d/%m/%Y"), "Mairie de Pessac", "oui"],
            [people[1], "CDD 6 mois et plus", started.isoformat(), "", "non"],
            [people[2], "intérim moins de 6 mois", "31/02/2026", "", ""],
        ],
    )
    report = tmp_path / "report.csv"

    first = dn_import(settings, infra, "placements", file, "--report", str(report))

    assert first.returncode == 1, first.stdout + first.stderr
    assert summary(first) == {"created": 2, "duplicate": 0, "invalid": 1, "rows": [4]}
    lines = read_report(report)
    [faulty] = [line for line in lines if line["status"] == "invalid"]
    assert (faulty["row"], faulty["column"]) == ("4", "Date de début")
    assert "02/03/2026" in faulty["accepted"]
    created = ids_by_row(lines, "created", "placement_id")
    assert set(created) == {2, 3}
    placements = [
        record
        for person in people[:2]
        for record in orientation.get(f"/beneficiaries/{person}/export").json()["records"]
        if record["record"] == "placement"
    ]
    assert sorted(p["kind"] for p in placements) == ["cdd_6m_plus", "cdi"]

    again = dn_import(settings, infra, "placements", file, "--report", str(report))

    assert again.returncode == 1, again.stdout + again.stderr
    assert summary(again) == {"created": 0, "duplicate": 2, "invalid": 1, "rows": [4]}
    lines = read_report(report)
    duplicates = {int(line["row"]): line for line in lines if line["status"] == "duplicate"}
    assert ids_by_row(lines, "duplicate", "placement_id") == created
    assert {line["problem"] for line in duplicates.values()} == {"already recorded"}
    checked = dn_import(settings, infra, "placements", file, "--dry-run")
    assert summary(checked) == {"valid": 0, "duplicate": 2, "invalid": 1, "rows": [4]}


def test_another_associations_token_records_nothing_and_a_repeat_is_named_in_a_dry_run(
    platform: Platform,
    settings: Settings,
    infra: TestInfra,
    orientation: httpx.Client,
    people: list[str],
    tmp_path: Path,
) -> None:
    until(
        lambda: any(
            r["record"] == "person"
            for r in orientation.get(f"/beneficiaries/{people[2]}/export").json()["records"]
        ),
        bool,
    )
    started = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    file = write_csv(
        tmp_path / "sorties.csv",
        ["beneficiary", "kind", "start"],
        [[people[2], "apprenticeship", started], [people[2], "apprentissage", started]],
    )
    report = tmp_path / "report.csv"
    other = issue_token(settings, Role.ASSOCIATION, association_id="asso-lac-connecte")

    refused = dn_import(
        settings, infra, "placements", file, "--report", str(report), DN_TOKEN=other
    )

    assert summary(refused) == {"created": 0, "duplicate": 0, "invalid": 2, "rows": [2, 3]}
    assert {line["column"] for line in read_report(report)} == {"beneficiary"}

    own = issue_token(settings, Role.ASSOCIATION, association_id=ASSOCIATION)
    checked = dn_import(
        settings, infra, "placements", file, "--dry-run", "--report", str(report), DN_TOKEN=own
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert summary(checked) == {"valid": 1, "duplicate": 1, "invalid": 0, "rows": []}
    assert read_report(report)[1]["problem"] == "same placement as row 2"
