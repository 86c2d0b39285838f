"""Registration's command-line tools (run through ``dn``): spreadsheet import, a person's
data export, and the retention run. They talk to the running platform over HTTP."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from kit.auth import AuthError, Role, issue_token
from kit.settings import Settings
from services.registration.importer import (
    ImportFileError,
    SheetRow,
    ignored_headers,
    read_rows,
)

console = Console()
IMPORT_CHUNK_ROWS = 100
SHOWN_PROBLEMS = 200
REPORT_COLUMNS = ("row", "status", "beneficiary_id", "column", "problem", "accepted")


def _fail(message: str, code: int) -> int:
    console.print(Text(f"error: {message}", style="red"))
    return code


def import_beneficiaries(file: Path, association: str, dry_run: bool, report: Path | None) -> int:
    """Enrol the people listed in a spreadsheet; running it again enrols nobody twice.

    Exit 0: every row enrolled or already enrolled; 1: some refused; 2: file or service fails.
    """
    try:
        rows = read_rows(file)
    except ImportFileError as error:
        return _fail(str(error), code=2)
    ignored = ignored_headers(rows[0].values) if rows else []
    if ignored:
        console.print(Text(f"not imported (unknown columns): {', '.join(ignored)}"))
        rows = [replace(row, values=_without(row.values, ignored)) for row in rows]
    settings = Settings()
    url = settings.service_url("registration")
    results: list[dict[str, Any]] = []
    try:
        with httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {_token(settings, 'dn-import')}"}
        ) as client:
            _require_association(client, association)
            _send_rows(client, rows, association, dry_run, results)
    except (httpx.TransportError, _ServiceRefused) as error:
        if report is not None and results:
            _write_import_report(report, results)
        message = (
            f"the registration service at {url} does not answer ({error}); start the platform "
            "with `make up` (or point DN_REGISTRATION_PORT at it)."
            if isinstance(error, httpx.TransportError)
            else str(error)
        )
        if results:
            message += (
                f" Rows up to {results[-1]['row']} were processed; running the import again "
                "is safe: people already enrolled are recognised."
            )
        return _fail(message, code=2)
    if report is not None:
        _write_import_report(report, results)
    invalid = _print_import_report(results, dry_run=dry_run, report=report)
    return 1 if invalid else 0


def _without(values: dict[str, str], headers: list[str]) -> dict[str, str]:
    """Cells of columns nobody asked for stay on this machine (they may hold notes on people)."""
    return {header: text for header, text in values.items() if header not in headers}


def _send_rows(
    client: httpx.Client,
    rows: list[SheetRow],
    association: str,
    dry_run: bool,
    results: list[dict[str, Any]],
) -> None:
    """Post the rows in chunks, adding each chunk's results as it comes back."""
    with Progress(console=console) as progress:
        task = progress.add_task("checking" if dry_run else "importing", total=len(rows))
        for start in range(0, len(rows), IMPORT_CHUNK_ROWS):
            chunk = rows[start : start + IMPORT_CHUNK_ROWS]
            body = {
                "association_id": association,
                "dry_run": dry_run,
                "rows": [{"row": row.number, "values": row.values} for row in chunk],
            }
            answer = _answer(client.post("/imports/beneficiaries", json=body, timeout=300))
            results.extend(answer["results"])
            progress.advance(task, len(chunk))


class _ServiceRefused(Exception):
    """The service answered but refused the whole request (token, role, association)."""


def _token(settings: Settings, subject: str) -> str:
    """DN_TOKEN when given, else a local development coordinator token."""
    try:
        return os.environ.get("DN_TOKEN") or issue_token(
            settings, Role.COORDINATOR, subject=subject
        )
    except AuthError as error:
        raise _ServiceRefused(f"{error}; set DN_TOKEN to a token the platform accepts") from error


def _answer(response: httpx.Response) -> Any:
    if response.status_code != 200:
        try:
            reason = response.json().get("error", response.text)
        except ValueError:
            reason = response.text
        raise _ServiceRefused(
            f"the registration service refused the import ({response.status_code}): {reason}"
        )
    return response.json()


def _require_association(client: httpx.Client, association: str) -> None:
    known = [entry["id"] for entry in _answer(client.get("/associations"))]
    if association not in known:
        raise _ServiceRefused(f"unknown association {association!r}; known: {', '.join(known)}")


def _print_import_report(
    results: list[dict[str, Any]], *, dry_run: bool, report: Path | None
) -> list[int]:
    """The refused cells as a table and the summary line; returns the refused rows."""
    problems = [error for result in results for error in result["errors"]]
    if problems:
        table = Table("row", "column", "what is wrong", "what is accepted")
        for error in problems[:SHOWN_PROBLEMS]:
            table.add_row(
                str(error["row"]), Text(error["column"]), Text(error["problem"]),
                Text(error["accepted"]),
            )  # fmt: skip
        console.print(table)
        if len(problems) > SHOWN_PROBLEMS:
            more = len(problems) - SHOWN_PROBLEMS
            where = f"see {report}" if report else "--report FILE.csv lists them all"
            console.print(f"… and {more} more problems ({where})")
    counts = Counter(result["status"] for result in results)
    invalid = [result["row"] for result in results if result["status"] == "invalid"]
    done = f"valid {counts['valid']}" if dry_run else f"created {counts['created']}"
    summary = f"{done}, already enrolled {counts['duplicate']}, invalid {len(invalid)}"
    if invalid:
        summary += f" (rows: {', '.join(str(row) for row in invalid)})"
    if dry_run:
        summary += " — dry run, nobody was enrolled"
    console.print(Text(summary), soft_wrap=True)
    return invalid


def _write_import_report(path: Path, results: list[dict[str, Any]]) -> None:
    """One line per problem, or per row without one; semicolons and a BOM open it in Excel."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(REPORT_COLUMNS)
        for result in results:
            base = [result["row"], result["status"], result.get("beneficiary_id", "")]
            if result["errors"]:
                for error in result["errors"]:
                    writer.writerow([*base, error["column"], error["problem"], error["accepted"]])
            elif "same_as_row" in result:
                writer.writerow([*base, "", f"same person as row {result['same_as_row']}", ""])
            elif result["status"] == "duplicate":
                writer.writerow([*base, "", "already enrolled", ""])
            else:
                writer.writerow([*base, "", "", ""])


# -- rights of the person and retention, through the gateway -----------------------------------

EXPORT = "query Export($id: ID!) { beneficiaryExport(id: $id) }"
RETENTION = """
mutation Retention($dryRun: Boolean!, $days: Int!) {
  runRetention(dryRun: $dryRun, olderThanDays: $days) { dryRun olderThanDays beneficiaryIds }
}"""


def _graphql(query: str, variables: dict[str, Any], subject: str) -> Any:
    settings = Settings()
    try:
        token = _token(settings, subject)
        response = httpx.post(
            f"{settings.gateway_url}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
            timeout=120,
        )
    except httpx.TransportError as error:
        raise _ServiceRefused(
            f"the gateway at {settings.gateway_url} does not answer ({error}); start the "
            "platform with `make up`"
        ) from error
    except _ServiceRefused:
        raise
    body = response.json()
    if body.get("errors"):
        raise _ServiceRefused("; ".join(error["message"] for error in body["errors"]))
    return body["data"]


def export_beneficiary(beneficiary_id: str, output: Path | None) -> int:
    """Write everything every service holds about one person as one JSON document."""
    try:
        document = _graphql(EXPORT, {"id": beneficiary_id}, "dn-export")["beneficiaryExport"]
    except _ServiceRefused as error:
        return _fail(str(error), code=2)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(Text(f"wrote {output}"))
    return 0


def run_retention(apply: bool, older_than_days: int) -> int:
    """List (or, with ``apply``, anonymise) people without contact for the period."""
    try:
        run = _graphql(RETENTION, {"dryRun": not apply, "days": older_than_days}, "dn-retention")[
            "runRetention"
        ]
    except _ServiceRefused as error:
        return _fail(str(error), code=2)
    ids = run["beneficiaryIds"]
    verb = "anonymised" if apply else "would be anonymised (dry run; --apply to do it)"
    console.print(Text(f"{len(ids)} record(s) without contact for {older_than_days} days {verb}"))
    for beneficiary_id in ids:
        print(beneficiary_id)
    return 0
