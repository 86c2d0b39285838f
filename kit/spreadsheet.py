"""Spreadsheet imports, whatever they record: reading .csv / .xlsx rows, matching headers, cell
errors that say what is accepted, the import routes' body and dry runs, and the ``dn import``
client (chunks, progress bar, report table and CSV, exit codes)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pymongo import AsyncMongoClient
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from contracts.errors import FieldError
from kit.auth import GATEWAY, AuthError, token_for
from kit.mongo import Document, Session, in_transaction
from kit.settings import Settings

ACCEPTED_FILES = (
    ".csv (comma- or semicolon-separated, UTF-8 or Windows-1252) or .xlsx (first sheet); "
    "the first row holds the column headers"
)
SHOWN_VALUE_LENGTH = 60
# How a domain message lists what it accepts after "; ": "unknown district; known: …".
LISTING_PREFIXES = ("known:", "it serves:")
T = TypeVar("T")


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why and what is accepted."""


@dataclass(frozen=True)
class SheetRow:
    number: int  # as the spreadsheet shows it: the header is row 1
    values: dict[str, str]  # column header as written in the file → cell text


@dataclass(frozen=True)
class CellError:
    row: int
    column: str
    problem: str
    accepted: str


@dataclass(frozen=True)
class Column:
    name: str
    headers: tuple[str, ...]  # every spelling, matched case-, accent- and punctuation-blind
    accepted: str
    required: bool = False


def plain(text: str) -> str:
    """``"Année de naissance"`` → ``"annee de naissance"``: how headers and words are matched."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", letters).split())


def shown(text: str) -> str:
    """A cell's text quoted for a message, cut when long."""
    if not text:
        return ""
    if len(text) > SHOWN_VALUE_LENGTH:
        text = text[: SHOWN_VALUE_LENGTH - 1] + "…"
    return f"'{text}'"


YES_NO: dict[str, bool] = {
    **dict.fromkeys(("oui", "yes", "1", "vrai", "true"), True),
    **dict.fromkeys(("non", "no", "0", "faux", "false"), False),
}
YES_NO_ACCEPTED = "oui/non, yes/no, 1/0"
DATE_ACCEPTED = "a date such as 02/03/2026 (day first) or 2026-03-02"
DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00)?)?$")
WHOLE_NUMBER = re.compile(r"^\d{1,6}$")
UUID_TEXT = re.compile(r"^\{?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}\}?$", re.IGNORECASE)


# -- one kind of spreadsheet: its columns ---------------------------------------------------


class Sheet:
    """The columns one kind of spreadsheet has, and how the domain's field names map to them
    (the domain names fields as the API does; reports name the spreadsheet's columns)."""

    def __init__(self, columns: tuple[Column, ...], column_of_field: Mapping[str, str]) -> None:
        self.columns = columns
        self.column = {column.name: column for column in columns}
        self.column_of_header = {
            plain(header): column for column in columns for header in column.headers
        }
        self.column_of_field = dict(column_of_field)

    def column_of(self, header: str) -> Column | None:
        """The column a header stands for, whatever its case, accents or punctuation."""
        return self.column_of_header.get(plain(header))

    def ignored_headers(self, headers: Iterable[str]) -> list[str]:
        """Headers that stand for no column; their cells are not imported."""
        return [header for header in headers if header and self.column_of(header) is None]

    def read_rows(self, path: Path) -> list[SheetRow]:
        """Every non-empty row under the header, or :class:`ImportFileError`."""
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            raise ImportFileError(f"{path.name}: {suffix or 'no extension'} files cannot be "
                                  f"imported; accepted: {ACCEPTED_FILES}")  # fmt: skip
        if not path.is_file():
            raise ImportFileError(f"{path}: no such file")
        table = _csv_table(path) if suffix == ".csv" else _xlsx_table(path)
        header = next(table, None)
        if header is None:
            raise ImportFileError(f"{path.name} is empty; accepted: {ACCEPTED_FILES}")
        headers = [cell.strip() for cell in header]
        self._check_headers(path.name, headers)
        rows = []
        for number, cells in enumerate(table, start=2):
            values = {
                header: cell.strip()
                for header, cell in zip(headers, cells, strict=False)
                if header  # cells under an untitled column are not data
            }
            if any(values.values()):
                rows.append(SheetRow(number, {h: values.get(h, "") for h in headers if h}))
        return rows

    def _check_headers(self, file_name: str, headers: list[str]) -> None:
        seen: dict[str, str] = {}
        for header in headers:
            column = self.column_of(header) if header else None
            if column is None:
                continue
            if column.name in seen:
                raise ImportFileError(
                    f"{file_name}: columns '{seen[column.name]}' and '{header}' both mean "
                    f"{column.name}; keep one"
                )
            seen[column.name] = header
        missing = [c for c in self.columns if c.required and c.name not in seen]
        if missing:
            raise ImportFileError(
                f"{file_name}: the first row lacks {'columns' if len(missing) > 1 else 'column'} "
                f"{_spellings(missing)}. "
                f"Headers may be French or English, in any case: required "
                f"{_spellings(c for c in self.columns if c.required)}; optional "
                f"{_spellings(c for c in self.columns if not c.required)}. "
                f"Accepted files: {ACCEPTED_FILES}"
            )

    def refusals(self, row: SheetRow, errors: Iterable[FieldError]) -> list[CellError]:
        """The domain's refusals, each under the spreadsheet column it concerns."""
        cells = Cells(self, row)
        found = []
        for error in errors:
            name = self.column_of_field.get(error.field, error.field)
            column = self.column.get(name)
            header = cells.header(name) or name
            message = error.message
            head, separator, tail = message.partition("; ")
            value = shown(cells.text(name)) if cells.header(name) else ""
            if message.startswith("must ") and column is not None:
                problem, accepted = message, column.accepted
            elif separator and tail.startswith(LISTING_PREFIXES):
                problem, accepted = (f"{value}: {head}" if value else head), tail
            else:
                problem, accepted = f"{value or 'empty'} is not accepted", message
            found.append(CellError(row.number, header, problem, accepted))
        return found

    def refusal(self, row: SheetRow, name: str, problem: str) -> CellError:
        """One refusal of a column's cell, with what the column accepts."""
        return Cells(self, row).error(name, problem)


def _spellings(columns: Iterable[Column]) -> str:
    return ", ".join(" / ".join(column.headers[:2]) for column in columns)


class Cells:
    """One row's cells by column name, collecting what cannot be read."""

    def __init__(self, sheet: Sheet, row: SheetRow) -> None:
        self.sheet = sheet
        self.row = row
        self.errors: list[CellError] = []
        self._headers: dict[str, str] = {}
        for header in row.values:
            column = sheet.column_of(header)
            if column is not None:
                self._headers.setdefault(column.name, header)
        for column in sheet.columns:
            if column.required and column.name not in self._headers:
                self.refuse(column.name, "missing column")

    def header(self, name: str) -> str | None:
        return self._headers.get(name)

    def text(self, name: str) -> str:
        header = self._headers.get(name)
        return self.row.values.get(header, "").strip() if header is not None else ""

    def error(self, name: str, problem: str) -> CellError:
        accepted = self.sheet.column[name].accepted
        return CellError(self.row.number, self.header(name) or name, problem, accepted)

    def refuse(self, name: str, problem: str) -> None:
        self.errors.append(self.error(name, problem))

    def required(self, name: str) -> str:
        """The cell's text; an empty cell of a column present is refused."""
        text = self.text(name)
        if not text and self.header(name) is not None:
            self.refuse(name, "empty")
        return text

    def choice(self, name: str, vocabulary: Mapping[str, T], *, required: bool = False) -> T | None:
        text = self.text(name)
        if not text:
            if required and self.header(name) is not None:
                self.refuse(name, "empty")
            return None
        value = vocabulary.get(plain(text))
        if value is None:
            self.refuse(name, f"{shown(text)} is not a known value")
        return value

    def yes_no(self, name: str, *, default: bool) -> bool:
        text = self.text(name)
        if not text:
            return default
        answer = YES_NO.get(plain(text))
        if answer is None:
            self.refuse(name, f"{shown(text)} is neither yes nor no")
            return default
        return answer

    def day(self, name: str) -> date | None:
        """A calendar date written day first (02/03/2026), as ISO, or a workbook date cell."""
        text = self.required(name)
        if not text:
            return None
        if match := DAY_MONTH_YEAR.match(text):
            day, month, year = (int(part) for part in match.groups())
        elif match := ISO_DAY.match(text):
            year, month, day = (int(part) for part in match.groups())
        else:
            self.refuse(name, f"{shown(text)} is not a date")
            return None
        try:
            return date(year, month, day)
        except ValueError:
            self.refuse(name, f"{shown(text)} is not a day of the calendar")
            return None

    def uuid(self, name: str) -> UUID | None:
        """An id the platform gave (a UUID); an empty cell of a column present is refused."""
        text = self.required(name)
        if not text:
            return None
        if not UUID_TEXT.match(text):
            self.refuse(name, f"{shown(text)} is not an id (a UUID)")
            return None
        return UUID(text)

    def whole_number(self, name: str) -> int | None:
        text = self.text(name)
        if not text:
            return None
        if not WHOLE_NUMBER.match(text):
            self.refuse(name, f"{shown(text)} is not a whole number")
            return None
        return int(text)


# -- reading files -------------------------------------------------------------------------


def _csv_table(path: Path) -> Iterator[list[str]]:
    text = _decoded(path)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _decoded(path: Path) -> str:
    content = path.read_bytes()
    if content.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            f"{path.name} is a zipped workbook (.xlsx), not a CSV file; rename it to .xlsx"
        )
    if b"\x00" in content:
        raise ImportFileError(
            f"{path.name} is not a text CSV file (UTF-16 or a binary format?); save it as "
            "'CSV UTF-8' or 'CSV (point-virgule)'"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        f"{path.name} is neither UTF-8 nor Windows-1252 text; save it as 'CSV UTF-8'"
    )


def _xlsx_table(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # only .xlsx imports pay for it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zip, XML and key errors for damaged files
        raise ImportFileError(
            f"{path.name} cannot be opened as an .xlsx workbook ({error}); accepted: "
            f"{ACCEPTED_FILES}"
        ) from error
    try:
        sheet = workbook.worksheets[0]
        for cells in sheet.iter_rows(values_only=True):
            yield [cell_text(value) for value in cells]
    finally:
        workbook.close()


def cell_text(value: Any) -> str:
    """A workbook cell as the text a person would type: 1994, not 1994.0; dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- the import routes (server side) --------------------------------------------------------

MAX_IMPORT_ROWS = 500


class SheetRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    row: int = Field(ge=1)
    values: dict[str, Annotated[str, Field(max_length=1000)]] = Field(max_length=100)

    def sheet_row(self) -> SheetRow:
        return SheetRow(self.row, self.values)


class SheetImportIn(BaseModel):
    """The body of an import route: rows as read from the file, and whether to keep them."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    rows: list[SheetRowIn] = Field(max_length=MAX_IMPORT_ROWS)


def row_result(
    row: SheetRow, status: str, *, errors: Iterable[CellError] = (), **detail: Any
) -> dict[str, Any]:
    """One row's line in an import route's answer: created, valid, duplicate or invalid."""
    return {
        "row": row.number,
        "status": status,
        **detail,
        "errors": [asdict(error) for error in errors],
    }


class _RolledBack(Exception):
    """Ends a rehearsal's transaction without committing it."""


async def rehearse(
    client: AsyncMongoClient[Document], work: Callable[[Session], Awaitable[T]]
) -> T:
    """Run ``work`` in one transaction, then roll it back: a dry run goes through the same use
    cases as the real import (every rule, and rows seeing earlier rows) and keeps nothing."""
    outcome: list[T] = []

    async def then_roll_back(session: Session) -> None:
        outcome.append(await work(session))
        raise _RolledBack

    try:
        await in_transaction(client, then_roll_back)
    except _RolledBack:
        return outcome[-1]
    raise AssertionError("a rehearsal never commits")  # pragma: no cover


# -- dn import (client side) ----------------------------------------------------------------

console = Console()
IMPORT_CHUNK_ROWS = 100
SHOWN_PROBLEMS = 200


@dataclass(frozen=True)
class SheetImport:
    """One ``dn import`` command: the sheet it reads, the route it posts to, its report's words."""

    sheet: Sheet
    service: str  # whose HTTP API takes the rows
    route: str  # e.g. /imports/attendance
    id_field: str  # where a row's result carries the record's id
    id_column: str  # the report's column for that id
    already: str  # "already enrolled": a duplicate's summary and report wording
    same_as: str  # "same person as row": a repeat within one file, in a dry run
    nothing_kept: str  # "nobody was enrolled": a dry run's summary
    safe_again: str  # why running it again after a failure is safe
    body: Mapping[str, Any] = field(default_factory=dict)  # sent with every chunk

    @property
    def report_columns(self) -> tuple[str, ...]:
        return ("row", "status", self.id_column, "column", "problem", "accepted")


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
