"""Spreadsheet import throughput on a running platform (`make up`), printed as JSON.

Generates N valid rows for one association, imports them with `dn import beneficiaries`, then
imports the same file again (every row already enrolled). Usage:
python bench/import_beneficiaries.py [N]
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HEADERS = [
    "prénom",
    "nom",
    "année de naissance",
    "téléphone",
    "quartier",
    "genre",
    "parcours",
    "consentement suivi",
]


def write_rows(path: Path, count: int) -> None:
    run = uuid.uuid4().hex[:6]
    prefix = f"{uuid.uuid4().int % 100:02d}"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(HEADERS)
        for number in range(count):
            writer.writerow(
                [
                    f"Bench{run}",
                    f"Personne{number:06d}",
                    1960 + number % 45,
                    f"07{prefix}{number:06d}",
                    "qpv-saige",
                    "F" if number % 2 else "H",
                    "inclusion",
                    "oui",
                ]
            )


def timed_import(path: Path) -> float:
    dn = Path(sys.executable).with_name("dn")
    started = time.perf_counter()
    command = [
        str(dn),
        "import",
        "beneficiaries",
        str(path),
        "--association",
        "asso-saige-en-ligne",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    return time.perf_counter() - started


def main(count: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        write_rows(path, count)
        first = timed_import(path)
        again = timed_import(path)
    return {
        "benchmark": "import_beneficiaries",
        "at": datetime.now(UTC).isoformat(),
        "rows": count,
        "first_import_s": round(first, 2),
        "first_import_rows_per_s": round(count / first, 1),
        "reimport_s": round(again, 2),
        "reimport_rows_per_s": round(count / again, 1),
    }


if __name__ == "__main__":
    report = main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    out = Path(__file__).parent / "results" / "import_beneficiaries.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
