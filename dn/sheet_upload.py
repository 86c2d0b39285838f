"""The ``dn import`` client: a spreadsheet read and checked here, sent to the service in chunks
with a progress bar, then a report table and CSV, and the exit codes scripts rely on."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from kit.auth import GATEWAY, AuthError, token_for
from kit.settings import Settings
from kit.spreadsheet import ImportFileError, SheetImport, SheetRow

console = Console()
IMPORT_CHUNK_ROWS = 100
SHOWN_PROBLEMS = 200


class ServiceRefused(Exception):
    """The service answered but refused the whole request (token, role, association)."""


def fail(message: str, code: int) -> int:
    console.print(Text(f"error: {message}", style="red"))
    return code


def token(settings: Settings, subject: str, service: str = GATEWAY) -> str:
    """A token for ``service``: DN_TOKEN (exchanged for one signed for ``service`` when it is a
    gateway token), else a local development coordinator token."""
    try:
        return token_for(settings, service, subject)
    except AuthError as error:
        raise ServiceRefused(f"{error}; set DN_TOKEN to a token the platform accepts") from error


def answer(response: httpx.Response, service: str, what: str = "the import") -> Any:
    """The JSON answer, or :class:`ServiceRefused` with the service's reason."""
    if response.status_code != 200:
        try:
            reason = response.json().get("error", response.text)
        except ValueError:
            reason = response.text
        raise ServiceRefused(
            f"the {service} service refused {what} ({response.status_code}): {reason}"
        )
    return response.json()


def run_import(
    kind: SheetImport,
    file: Path,
    *,
    dry_run: bool,
    report: Path | None,
    check: Callable[[httpx.Client], None] | None = None,
) -> int:
    """Send a spreadsheet's rows to the service, then show and (``report``) write the outcome.

    ``check`` runs first with the authorised client, to refuse the whole import early.
    Exit 0: every row recorded or already recorded; 1: some refused; 2: file or service fails.
    """
    try:
        rows = kind.sheet.read_rows(file)
    except ImportFileError as error:
        return fail(str(error), code=2)
    ignored = kind.sheet.ignored_headers(rows[0].values) if rows else []
    if ignored:
        console.print(Text(f"not imported (unknown columns): {', '.join(ignored)}"))
        rows = [replace(row, values=_without(row.values, ignored)) for row in rows]
    settings = Settings()
    url = settings.service_url(kind.service)
    results: list[dict[str, Any]] = []
    try:
        bearer = token(settings, "dn-import", kind.service)
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {bearer}"}) as client:
            if check is not None:
                check(client)
            _send_rows(client, kind, rows, dry_run, results)
    except (httpx.TransportError, ServiceRefused) as error:
        if report is not None and results:
            _write_report(kind, report, results)
        message = (
            f"the {kind.service} service at {url} does not answer ({error}); start the platform "
            f"with `make up` (or point DN_{kind.service.upper()}_PORT at it)."
            if isinstance(error, httpx.TransportError)
            else str(error)
        )
        if results:
            message += (
                f" Rows up to {results[-1]['row']} were processed; running the import again "
                f"is safe: {kind.safe_again}."
            )
        return fail(message, code=2)
    if report is not None:
        _write_report(kind, report, results)
    invalid = _print_report(kind, results, dry_run=dry_run, report=report)
    return 1 if invalid else 0


def _without(values: dict[str, str], headers: list[str]) -> dict[str, str]:
    """Cells of columns nobody asked for stay on this machine (they may hold notes on people)."""
    return {header: text for header, text in values.items() if header not in headers}


def _send_rows(
    client: httpx.Client,
    kind: SheetImport,
    rows: list[SheetRow],
    dry_run: bool,
    results: list[dict[str, Any]],
) -> None:
    """Post the rows in chunks, adding each chunk's results as it comes back."""
    with Progress(console=console) as progress:
        task = progress.add_task("checking" if dry_run else "importing", total=len(rows))
        for start in range(0, len(rows), IMPORT_CHUNK_ROWS):
            chunk = rows[start : start + IMPORT_CHUNK_ROWS]
            body = {
                **kind.body,
                "dry_run": dry_run,
                "rows": [{"row": row.number, "values": row.values} for row in chunk],
            }
            sent = client.post(kind.route, json=body, timeout=300)
            results.extend(answer(sent, kind.service)["results"])
            progress.advance(task, len(chunk))


def _print_report(
    kind: SheetImport, results: list[dict[str, Any]], *, dry_run: bool, report: Path | None
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
    summary = f"{done}, {kind.already} {counts['duplicate']}, invalid {len(invalid)}"
    if invalid:
        summary += f" (rows: {', '.join(str(row) for row in invalid)})"
    if dry_run:
        summary += f" — dry run, {kind.nothing_kept}"
    console.print(Text(summary), soft_wrap=True)
    return invalid


def _write_report(kind: SheetImport, path: Path, results: list[dict[str, Any]]) -> None:
    """One line per problem, or per row without one; semicolons and a BOM open it in Excel."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(kind.report_columns)
        for result in results:
            base = [result["row"], result["status"], result.get(kind.id_field, "")]
            if result["errors"]:
                for error in result["errors"]:
                    writer.writerow([*base, error["column"], error["problem"], error["accepted"]])
            elif "same_as_row" in result:
                writer.writerow([*base, "", f"{kind.same_as} {result['same_as_row']}", ""])
            elif result["status"] == "duplicate":
                writer.writerow([*base, "", kind.already, ""])
            else:
                writer.writerow([*base, "", "", ""])
