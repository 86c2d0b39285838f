"""The ``dn`` command: run the platform, its embedded infrastructure, tokens, contracts and
spreadsheet imports."""

from __future__ import annotations

import csv
import json
import os
import signal
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from kit.auth import AuthError, Role, issue_token
from kit.infra import EmbeddedInfra, InfraError
from kit.platform import Platform, PlatformError
from kit.settings import Settings

if TYPE_CHECKING:
    from services.registration.importer import SheetRow

app = typer.Typer(help="Digital Neighbourhoods platform.", no_args_is_help=True)
infra_app = typer.Typer(help="Embedded MongoDB and Kafka-protocol broker.", no_args_is_help=True)
contracts_app = typer.Typer(help="The event catalogue's exported schemas.", no_args_is_help=True)
import_app = typer.Typer(help="Bring records in from partners' spreadsheets.", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
app.add_typer(contracts_app, name="contracts")
app.add_typer(import_app, name="import")
console = Console()


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print("[red]error:[/red] ", Text(message), sep="")
    return typer.Exit(code)


@infra_app.command("up")
def infra_up() -> None:
    """Start (or reuse) the embedded MongoDB replica set and Kafka broker."""
    try:
        status, started = EmbeddedInfra(Settings()).up()
    except InfraError as error:
        raise _fail(str(error)) from error
    for part in (status.mongodb, status.kafka):
        how = "started" if part.name in started else ("reused" if part.embedded else "external")
        console.print(f"{part.name:8} {part.url}  ({how})")


@infra_app.command("down")
def infra_down() -> None:
    """Stop the embedded instances (their data stays under DN_HOME)."""
    stopped = EmbeddedInfra(Settings()).down()
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@infra_app.command("status")
def infra_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Whether MongoDB and Kafka answer, and where."""
    try:
        status = EmbeddedInfra(Settings()).status()
    except InfraError as error:
        raise _fail(str(error)) from error
    if as_json:
        print(json.dumps(status.as_json(), indent=2))
        return
    for part in (status.mongodb, status.kafka):
        state = "[green]running[/green]" if part.running else "[red]stopped[/red]"
        console.print(f"{part.name:8} {state}  {part.url}")
    if not status.ready:
        raise typer.Exit(1)


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="coordinator, association, funder, partner or ops")],
    association: Annotated[
        str | None, typer.Option(help="association id (association, partner)")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="who the token is for")] = None,
) -> None:
    """Print a development JWT the gateway and services accept."""
    try:
        print(issue_token(Settings(), role, association_id=association, subject=subject))
    except AuthError as error:
        raise _fail(str(error)) from error


@app.command()
def up(
    demo: Annotated[bool | None, typer.Option(help="seed generated demo enrolments")] = None,
) -> None:
    """Start embedded infra, the four services and the gateway; Ctrl-C stops everything."""
    settings = Settings()
    infra = EmbeddedInfra(settings)
    try:
        status, started = infra.up()
    except InfraError as error:
        raise _fail(str(error)) from error
    platform = Platform(settings, status.mongodb_url, status.kafka_bootstrap)
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        platform.start()
        seconds = platform.wait_healthy()
        _print_urls(settings, status.mongodb_url, status.kafka_bootstrap, seconds)
        if settings.demo if demo is None else demo:
            _seed_demo(settings)
        console.print("Ctrl-C stops everything.")
        while not stopping:
            if dead := platform.dead():
                raise PlatformError(
                    f"{', '.join(dead)} stopped unexpectedly; see {platform.log_dir}"
                )
            time.sleep(0.5)
    except PlatformError as error:
        raise _fail(str(error)) from error
    finally:
        console.print("stopping…")
        platform.stop()
        if started:
            infra.down(tuple(started))
        console.print("stopped.")


def _print_urls(settings: Settings, mongodb_url: str, kafka: str, seconds: float) -> None:
    gateway = settings.gateway_url
    console.print(f"[green]Digital Neighbourhoods is up[/green] ({seconds:.1f} s)")
    console.print(f"  dashboard   {gateway}/")
    console.print(f"  GraphQL     {gateway}/graphql   (GraphiQL in a browser)")
    console.print(f"  health      {gateway}/healthz")
    for name in ("registration", "training", "orientation", "reporting"):
        console.print(f"  {name:<11} {settings.service_url(name)}/healthz")
    console.print(f"  MongoDB     {mongodb_url}")
    console.print(f"  Kafka       {kafka}")
    console.print(f"  logs        {settings.home / 'logs'}")
    console.print("  token       dn token --role coordinator")


def _seed_demo(settings: Settings) -> None:
    from kit.demo import seed

    accepted = seed(settings.gateway_url, issue_token(settings, Role.COORDINATOR))
    console.print(f"  demo        {accepted} generated enrolments (DN_DEMO=0 to skip)")


@contracts_app.command("export")
def contracts_export(
    check: Annotated[bool, typer.Option(help="only report drift; exit 1 if any")] = False,
) -> None:
    """Write one JSON Schema per event type and the AsyncAPI 3 document."""
    from contracts.export import drift, write_all

    if check:
        problems = drift()
        for problem in problems:
            console.print(problem)
        raise typer.Exit(1 if problems else 0)
    for path in write_all():
        console.print(f"wrote {path}")


IMPORT_CHUNK_ROWS = 100
SHOWN_PROBLEMS = 200
REPORT_COLUMNS = ("row", "status", "beneficiary_id", "column", "problem", "accepted")


@import_app.command("beneficiaries")
def import_beneficiaries(
    file: Annotated[Path, typer.Argument(help=".csv or .xlsx; the first row names the columns")],
    association: Annotated[str, typer.Option(help="id of the association enrolling them")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check every row, enrol nobody")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="write the row-by-row report to this CSV file")
    ] = None,
) -> None:
    """Enrol the people listed in a spreadsheet; running it again enrols nobody twice.

    Exit 0: every row enrolled or already enrolled; 1: some refused; 2: file or service fails.
    """
    # The CLI is a composition root: it alone wires a service's file parser to the service's
    # HTTP API, so kit does not depend on services at import time.
    from services.registration.importer import ImportFileError, ignored_headers, read_rows

    try:
        rows = read_rows(file)
    except ImportFileError as error:
        raise _fail(str(error), code=2) from error
    ignored = ignored_headers(rows[0].values) if rows else []
    if ignored:
        console.print(Text(f"not imported (unknown columns): {', '.join(ignored)}"))
        rows = [replace(row, values=_without(row.values, ignored)) for row in rows]
    settings = Settings()
    url = settings.service_url("registration")
    results: list[dict[str, Any]] = []
    try:
        with httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {_import_token(settings)}"}
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
        raise _fail(message, code=2) from error
    if report is not None:
        _write_import_report(report, results)
    invalid = _print_import_report(results, dry_run=dry_run, report=report)
    raise typer.Exit(1 if invalid else 0)


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


def _import_token(settings: Settings) -> str:
    try:
        return os.environ.get("DN_TOKEN") or issue_token(
            settings, Role.COORDINATOR, subject="dn-import"
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
