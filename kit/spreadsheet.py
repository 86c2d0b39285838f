"""Spreadsheet imports, whatever they record: reading .csv / .xlsx rows, matching headers, cell
errors that say what is accepted, the import routes' body and dry runs, and what each ``dn
import`` command is (:class:`SheetImport`; its client is dn.sheet_upload)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pymongo import AsyncMongoClient

from contracts.errors import FieldError
from kit.mongo import Document, Session, in_transaction

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
