"""`dn import beneficiaries` against the running platform: a partner's spreadsheet goes in,
refused rows come back with their reasons, and importing the same file again enrols nobody."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from openpyxl import Workbook

from dn.platform import Platform, child_environment
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.conftest import TestInfra, free_port

pytestmark = pytest.mark.e2e
ASSOCIATION = "asso-saige-en-ligne"
DN = Path(sys.executable).with_name("dn")
FRENCH_HEADERS = ["Prénom", "Nom", "Année de naissance", "Téléphone", "Courriel", "Quartier",
                  "Genre", "Parcours", "Situation", "Consentement suivi",
                  "Consentement partenaires"]  # fmt: skip
SUMMARY = re.compile(
    r"(created|valid) (\d+), already enrolled (\d+), invalid (\d+)(?: \(rows: ([\d, ]+)\))?"
)

# Each kind of mistake: the cell it spoils (French header) and the value written there.
MISTAKES: list[tuple[str, str]] = [
    ("Genre", "X"),
    ("Année de naissance", "1850"),
    ("Prénom", ""),
    ("Quartier", "qpv-nowhere"),
    ("Courriel", "pas-une-adresse"),
    ("Consentement suivi", "non"),
    ("Parcours", "robotique"),
    ("Année de naissance", "abc"),
    ("Téléphone", "12"),
    ("Situation", "chômeur peut-être"),
]


def person(marker: str, index: int) -> dict[str, str]:
    """A distinct person: unique name, phone and email within the run and across runs."""
    return {
        "Prénom": f"Import{index:04d}",
        "Nom": f"Essai-{marker}",
        "Année de naissance": str(1950 + index % 60),
        "Téléphone": f"06 {int(marker, 16) % 10**4:04d} {index:04d}",
        "Courriel": f"import.{marker}.{index}@example.org",
        "Quartier": "qpv-saige",
        "Genre": ["femme", "H", "NB", "non précisé"][index % 4],
        "Parcours": ["inclusion", "carrières", "inclusion + carrières"][index % 3],
        "Situation": ["demandeur d'emploi inscrit", "en emploi", "étudiant", ""][index % 4],
        "Consentement suivi": "oui",
        "Consentement partenaires": ["oui", "non"][index % 2],
    }


def write_csv(path: Path, people: list[dict[str, str]]) -> Path:
    """As French spreadsheet software saves it: semicolons, Windows-1252."""
    with path.open("w", encoding="cp1252", newline="") as file:
        writer = csv.DictWriter(file, FRENCH_HEADERS, delimiter=";")
        writer.writeheader()
        writer.writerows(people)
    return path


def dn_import(
    settings: Settings, infra: TestInfra, file: Path, *options: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    environment = child_environment(settings, infra.mongodb_url, infra.kafka_bootstrap)
    environment.pop("DN_TOKEN", None)
    environment["COLUMNS"] = "200"  # rich wraps at 80 columns when not on a terminal
    environment.update(env)
    command = [str(DN), "import", "beneficiaries", str(file), "--association", ASSOCIATION]
    started = time.monotonic()
    result = subprocess.run(
        [*command, *options], capture_output=True, text=True, env=environment, timeout=600
    )
    return result, time.monotonic() - started


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


def ids_by_row(report: list[dict[str, str]], status: str) -> dict[int, str]:
    return {int(line["row"]): line["beneficiary_id"] for line in report if line["status"] == status}


def test_a_thousand_row_file_enrols_the_valid_rows_once_and_names_every_faulty_one(
    platform: Platform, settings: Settings, infra: TestInfra, tmp_path: Path
) -> None:
    marker = uuid4().hex[:8]
    people = [person(marker, index) for index in range(1000)]
    faulty: dict[int, str] = {}  # spreadsheet row → the column spoiled
    for number, index in enumerate(range(7, 1000, 20)):
        column, value = MISTAKES[number % len(MISTAKES)]
        people[index][column] = value
        faulty[index + 2] = column
    assert len(faulty) == 50
    file = write_csv(tmp_path / "inscrits-saige.csv", people)
    report = tmp_path / "report.csv"

    first, first_seconds = dn_import(settings, infra, file, "--report", str(report))

    assert first.returncode == 1, first.stdout + first.stderr
    assert summary(first) == {
        "created": 950, "duplicate": 0, "invalid": 50, "rows": sorted(faulty)
    }  # fmt: skip
    lines = read_report(report)
    invalid = [line for line in lines if line["status"] == "invalid"]
    assert {int(line["row"]) for line in invalid} == set(faulty)
    for line in invalid:
        assert line["column"] == faulty[int(line["row"])], line
        assert line["problem"], line
        assert line["accepted"], line
    created = ids_by_row(lines, "created")
    assert len(created) == 950
    assert len(set(created.values())) == 950

    second, second_seconds = dn_import(settings, infra, file, "--report", str(report))

    assert second.returncode == 1, second.stdout + second.stderr
    assert summary(second) == {
        "created": 0, "duplicate": 950, "invalid": 50, "rows": sorted(faulty)
    }  # fmt: skip
    again = read_report(report)
    assert ids_by_row(again, "duplicate") == created
    print(f"\n1,000-row import: first run {first_seconds:.1f} s, re-run {second_seconds:.1f} s")


def test_a_dry_run_enrols_nobody(
    platform: Platform, settings: Settings, infra: TestInfra, tmp_path: Path
) -> None:
    marker = uuid4().hex[:8]
    file = write_csv(tmp_path / "essai.csv", [person(marker, index) for index in range(10)])

    checked, _ = dn_import(settings, infra, file, "--dry-run")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert summary(checked) == {"valid": 10, "duplicate": 0, "invalid": 0, "rows": []}
    assert "nobody was enrolled" in checked.stdout

    imported, _ = dn_import(settings, infra, file)

    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert summary(imported) == {"created": 10, "duplicate": 0, "invalid": 0, "rows": []}


def test_the_same_person_twice_in_one_file_is_enrolled_once(
    platform: Platform, settings: Settings, infra: TestInfra, tmp_path: Path
) -> None:
    marker = uuid4().hex[:8]
    twice = person(marker, 1)
    # The same phone under a spelling of the name with other accents and case.
    again = {**twice, "Prénom": twice["Prénom"].upper(), "Courriel": ""}
    file = write_csv(tmp_path / "doublon.csv", [twice, person(marker, 2), again])
    report = tmp_path / "report.csv"

    checked, _ = dn_import(settings, infra, file, "--dry-run", "--report", str(report))

    assert summary(checked) == {"valid": 2, "duplicate": 1, "invalid": 0, "rows": []}
    assert read_report(report)[2]["problem"] == "same person as row 2"

    imported, _ = dn_import(settings, infra, file, "--report", str(report))

    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert summary(imported) == {"created": 2, "duplicate": 1, "invalid": 0, "rows": []}
    lines = read_report(report)
    assert lines[2]["status"] == "duplicate"
    assert lines[2]["beneficiary_id"] == lines[0]["beneficiary_id"]


def test_an_xlsx_workbook_is_imported_and_each_record_audited(
    platform: Platform, settings: Settings, infra: TestInfra, tmp_path: Path
) -> None:
    marker = uuid4().hex[:8]
    file = tmp_path / "beneficiaries.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["first_name", "last_name", "birth_year", "phone", "district", "gender",
                  "tracks", "employment_status", "qpv_resident", "consent_follow_up",
                  "consent_surveys"])  # fmt: skip
    for index in range(20):
        sheet.append([f"Tableur{index:02d}", f"Essai-{marker}", 1980 + index,
                      int(f"6{int(marker, 16) % 10**6:06d}{index:02d}"), "qpv-saige",
                      ["female", "male"][index % 2], "careers/inclusion", "registered job seeker",
                      "yes", "yes", index % 2 == 0])  # fmt: skip
    workbook.save(file)
    report = tmp_path / "report.csv"

    result, _ = dn_import(settings, infra, file, "--report", str(report))

    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(result) == {"created": 20, "duplicate": 0, "invalid": 0, "rows": []}
    lines = read_report(report)
    token = issue_token(settings, Role.COORDINATOR, audience="registration")
    with httpx.Client(
        base_url=settings.service_url("registration"),
        headers={"authorization": f"Bearer {token}"},
    ) as registration:
        first = registration.get(f"/beneficiaries/{lines[0]['beneficiary_id']}").json()
        audit = registration.get("/audit", params={"actor": "dn-import", "limit": 1000}).json()
    assert first["first_name"] == "Tableur00"
    assert first["birth_year"] == 1980
    assert first["phone"].startswith("06")  # the number cell's lost 0 is restored
    assert first["tracks"] == ["digital_careers", "digital_inclusion"]
    assert first["consent"]["contact_for_surveys"] is True
    imported = {entry["beneficiary_id"] for entry in audit if entry["action"] == "import"}
    assert {line["beneficiary_id"] for line in lines} <= imported


def expect_exit_2(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    output = " ".join((result.stdout + result.stderr).split())
    for phrase in phrases:
        assert phrase in output, output


def test_an_unreadable_file_or_an_absent_service_exits_2_with_what_to_do(
    platform: Platform, settings: Settings, infra: TestInfra, tmp_path: Path
) -> None:
    workbook = tmp_path / "inscrits.ods"
    workbook.write_text("not a spreadsheet we read")
    expect_exit_2(dn_import(settings, infra, workbook)[0], "accepted: .csv")

    file = write_csv(tmp_path / "inscrits.csv", [person(uuid4().hex[:8], 1)])
    port = str(free_port())
    expect_exit_2(
        dn_import(settings, infra, file, DN_REGISTRATION_PORT=port)[0],
        f"http://127.0.0.1:{port}",
        "make up",
    )


def test_a_token_of_another_association_is_refused_before_any_row_is_sent(
    platform: Platform, settings: Settings, infra: TestInfra, tmp_path: Path
) -> None:
    marker = uuid4().hex[:8]
    file = write_csv(tmp_path / "inscrits.csv", [person(marker, 1)])
    other = issue_token(settings, Role.ASSOCIATION, association_id="asso-lac-connecte")
    expect_exit_2(
        dn_import(settings, infra, file, DN_TOKEN=other)[0], "only for its own association"
    )
    own = issue_token(settings, Role.ASSOCIATION, association_id=ASSOCIATION)
    result, _ = dn_import(settings, infra, file, DN_TOKEN=own)
    assert summary(result)["created"] == 1
