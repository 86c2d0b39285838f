"""Spreadsheet import of beneficiaries: reading .csv / .xlsx rows and turning each row into an
enrolment request, with cell-level errors that say what is accepted (no I/O but the file read)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.errors import FieldError
from services.registration.domain import Consent, EnrolmentRequest, PersonalData

ACCEPTED_FILES = (
    ".csv (comma- or semicolon-separated, UTF-8 or Windows-1252) or .xlsx (first sheet); "
    "the first row holds the column headers"
)
SHOWN_VALUE_LENGTH = 60
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


# -- vocabularies: every spelling a partner's spreadsheet may use, in plain form -------------

GENDERS: dict[str, Gender] = {
    **dict.fromkeys(("f", "femme", "female", "woman"), Gender.FEMALE),
    **dict.fromkeys(("h", "m", "homme", "male", "man"), Gender.MALE),
    **dict.fromkeys(
        ("nb", "non binaire", "non binary", "nonbinary", "non binary person"), Gender.NON_BINARY
    ),
    **dict.fromkeys(("non precise", "undisclosed", "not disclosed"), Gender.UNDISCLOSED),
}
TRACKS: dict[str, Track] = {
    **dict.fromkeys(
        ("inclusion", "inclusion numerique", "digital inclusion"), Track.DIGITAL_INCLUSION
    ),
    **dict.fromkeys(
        (
            "carrieres",
            "carriere",
            "careers",
            "career",
            "carrieres numeriques",
            "digital careers",
        ),
        Track.DIGITAL_CAREERS,
    ),
}
TRACK_SEPARATORS = re.compile(r"[,;+/]")
EMPLOYMENT_STATUSES: dict[str, EmploymentStatus] = {
    **dict.fromkeys(
        (
            "demandeur d emploi inscrit",
            "demandeuse d emploi inscrite",
            "registered job seeker",
        ),
        EmploymentStatus.REGISTERED_JOB_SEEKER,
    ),
    **dict.fromkeys(
        ("sans emploi non inscrit", "sans emploi non inscrite", "unemployed not registered"),
        EmploymentStatus.UNEMPLOYED_NOT_REGISTERED,
    ),
    **dict.fromkeys(("en emploi", "employed"), EmploymentStatus.EMPLOYED),
    **dict.fromkeys(
        ("en formation", "etudiant", "etudiante", "in education", "student"),
        EmploymentStatus.IN_EDUCATION,
    ),
    **dict.fromkeys(("retraite", "retraitee", "retired"), EmploymentStatus.RETIRED),
    **dict.fromkeys(("inactif", "inactive"), EmploymentStatus.INACTIVE),
}
YES_NO: dict[str, bool] = {
    **dict.fromkeys(("oui", "yes", "1", "vrai", "true"), True),
    **dict.fromkeys(("non", "no", "0", "faux", "false"), False),
}
NO_PHONE = frozenset(("sans telephone", "pas de telephone", "no phone"))
YEAR = re.compile(r"^(\d{4})(?:\.0+)?$")
DAY_MONTH_YEAR = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-](\d{4})$")
ISO_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}(?:[T ].*)?$")
FRENCH_MOBILE_WITHOUT_ZERO = re.compile(r"^[1-9][0-9]{8}$")

YES_NO_ACCEPTED = "oui/non, yes/no, 1/0"
COLUMNS = (
    Column("first_name", ("first_name", "prénom"), "the person's first name", required=True),
    Column("last_name", ("last_name", "nom"), "the person's last name", required=True),
    Column(
        "birth_year",
        ("birth_year", "année de naissance"),
        "a year such as 1994 (a date such as 12/03/1994 keeps only its year), or empty",
    ),
    Column(
        "phone",
        ("phone", "téléphone"),
        "a phone number such as 06 12 34 56 78; empty or 'sans téléphone' / 'no phone' when "
        "the person has none",
    ),
    Column("email", ("email", "courriel", "e-mail"), "an address like name@example.org, or empty"),
    Column("street", ("street", "adresse"), "the street address, or empty"),
    Column("postcode", ("postcode", "code postal"), "five digits such as 33600, or empty"),
    Column(
        "insee_code",
        ("insee_code", "code insee"),
        "the commune's INSEE code such as 33318, or empty",
    ),
    Column(
        "district",
        ("district", "quartier", "district_id"),
        "the district id, such as qpv-saige",
        required=True,
    ),
    Column(
        "gender",
        ("gender", "genre"),
        "F / femme / female, H / M / homme / male, NB / non-binaire / non binary, "
        "non précisé / undisclosed",
        required=True,
    ),
    Column(
        "tracks",
        ("tracks", "parcours"),
        "inclusion, carrières / careers, or both separated by , ; + or /",
        required=True,
    ),
    Column(
        "employment_status",
        ("employment_status", "situation"),
        "demandeur d'emploi inscrit / registered job seeker, sans emploi non inscrit / "
        "unemployed not registered, en emploi / employed, en formation / étudiant / "
        "in education, retraité / retired, inactif / inactive, or empty",
    ),
    Column(
        "qpv_resident",
        ("qpv_resident", "résident qpv"),
        f"{YES_NO_ACCEPTED}; empty means yes",
    ),
    Column(
        "consent_follow_up",
        ("consent_follow_up", "consentement suivi"),
        f"{YES_NO_ACCEPTED}; consent to programme follow-up is required to enrol",
        required=True,
    ),
    Column(
        "consent_partners",
        ("consent_partners", "consentement partenaires"),
        f"{YES_NO_ACCEPTED}; empty means no",
    ),
    Column(
        "consent_surveys",
        ("consent_surveys", "consentement enquêtes"),
        f"{YES_NO_ACCEPTED}; empty means no",
    ),
)
COLUMN = {column.name: column for column in COLUMNS}
COLUMN_OF_HEADER = {plain(header): column for column in COLUMNS for header in column.headers}

# The domain names fields as the API does; the report names the spreadsheet's columns.
COLUMN_OF_FIELD = {
    "associationId": "association",
    "districtId": "district",
    "firstName": "first_name",
    "lastName": "last_name",
    "phone": "phone",
    "email": "email",
    "street": "street",
    "postcode": "postcode",
    "inseeCode": "insee_code",
    "birthYear": "birth_year",
    "gender": "gender",
    "tracks": "tracks",
    "employmentStatus": "employment_status",
    "consent.programmeFollowUp": "consent_follow_up",
}


def column_of(header: str) -> Column | None:
    """The column a header stands for, whatever its case, accents or punctuation."""
    return COLUMN_OF_HEADER.get(plain(header))


# -- reading files -------------------------------------------------------------------------


def read_rows(path: Path) -> list[SheetRow]:
    """Every non-empty row under the header, or :class:`ImportFileError`."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ImportFileError(f"{path.name}: {suffix or 'no extension'} files cannot be imported; "
                              f"accepted: {ACCEPTED_FILES}")  # fmt: skip
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    table = _csv_table(path) if suffix == ".csv" else _xlsx_table(path)
    header = next(table, None)
    if header is None:
        raise ImportFileError(f"{path.name} is empty; accepted: {ACCEPTED_FILES}")
    headers = [cell.strip() for cell in header]
    _check_headers(path.name, headers)
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


def ignored_headers(headers: Iterable[str]) -> list[str]:
    """Headers that stand for no column; their cells are not imported."""
    return [header for header in headers if header and column_of(header) is None]


def _check_headers(file_name: str, headers: list[str]) -> None:
    seen: dict[str, str] = {}
    for header in headers:
        column = column_of(header) if header else None
        if column is None:
            continue
        if column.name in seen:
            raise ImportFileError(
                f"{file_name}: columns '{seen[column.name]}' and '{header}' both mean "
                f"{column.name}; keep one"
            )
        seen[column.name] = header
    missing = [column for column in COLUMNS if column.required and column.name not in seen]
    if missing:
        raise ImportFileError(
            f"{file_name}: the first row lacks {'columns' if len(missing) > 1 else 'column'} "
            f"{_spellings(missing, ', ')}. "
            f"Headers may be French or English, in any case: required "
            f"{_spellings((c for c in COLUMNS if c.required), ', ')}; optional "
            f"{_spellings((c for c in COLUMNS if not c.required), ', ')}. "
            f"Accepted files: {ACCEPTED_FILES}"
        )


def _spellings(columns: Iterable[Column], separator: str) -> str:
    return separator.join(" / ".join(column.headers[:2]) for column in columns)


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


# -- one row -------------------------------------------------------------------------------


def parse_row(row: SheetRow, association_id: str) -> EnrolmentRequest | list[CellError]:
    """The enrolment request a row asks for, or every problem found in its cells.

    Only the spreadsheet's own conventions are checked here; the enrolment rules (ranges,
    districts served, consent) are the domain's, and :func:`refusals` reports them by column.
    """
    cells = _Cells(row)
    for column in COLUMNS:
        if column.required and cells.header(column.name) is None:
            cells.refuse(column.name, "missing column")
    request = EnrolmentRequest(
        association_id=association_id,
        district_id=cells.text("district").lower(),
        personal=PersonalData(
            first_name=cells.text("first_name"),
            last_name=cells.text("last_name"),
            phone=cells.phone(),
            email=cells.text("email") or None,
            street=cells.text("street") or None,
            postcode=cells.text("postcode") or None,
            insee_code=cells.text("insee_code") or None,
        ),
        birth_year=cells.birth_year(),
        gender=cells.choice("gender", GENDERS, required=True) or Gender.UNDISCLOSED,
        tracks=cells.tracks(),
        employment_status=cells.choice("employment_status", EMPLOYMENT_STATUSES),
        consent=Consent(
            programme_follow_up=cells.yes_no("consent_follow_up", default=False),
            share_with_partners=cells.yes_no("consent_partners", default=False),
            contact_for_surveys=cells.yes_no("consent_surveys", default=False),
        ),
        qpv_resident=cells.yes_no("qpv_resident", default=True),
    )
    return cells.errors or request


def refusals(row: SheetRow, errors: Iterable[FieldError]) -> list[CellError]:
    """The enrolment rules' refusals, each under the spreadsheet column it concerns."""
    cells = _Cells(row)
    found = []
    for error in errors:
        name = COLUMN_OF_FIELD.get(error.field, error.field)
        column = COLUMN.get(name)
        header = cells.header(name) or name
        message = error.message
        head, separator, tail = message.partition("; ")
        shown = _shown(cells.text(name)) if cells.header(name) else ""
        if message.startswith("must ") and column is not None:
            problem, accepted = message, column.accepted
        elif separator and tail.startswith(("known:", "it serves:")):
            problem, accepted = (f"{shown}: {head}" if shown else head), tail
        else:
            problem, accepted = f"{shown or 'empty'} is not accepted", message
        found.append(CellError(row.number, header, problem, accepted))
    return found


def _shown(text: str) -> str:
    if not text:
        return ""
    if len(text) > SHOWN_VALUE_LENGTH:
        text = text[: SHOWN_VALUE_LENGTH - 1] + "…"
    return f"'{text}'"


class _Cells:
    """One row's cells by column name, collecting what cannot be read."""

    def __init__(self, row: SheetRow) -> None:
        self.row = row
        self.errors: list[CellError] = []
        self._headers: dict[str, str] = {}
        for header in row.values:
            column = column_of(header)
            if column is not None:
                self._headers.setdefault(column.name, header)

    def header(self, name: str) -> str | None:
        return self._headers.get(name)

    def text(self, name: str) -> str:
        header = self._headers.get(name)
        return self.row.values.get(header, "").strip() if header is not None else ""

    def refuse(self, name: str, problem: str) -> None:
        self.errors.append(
            CellError(self.row.number, self.header(name) or name, problem, COLUMN[name].accepted)
        )

    def choice(self, name: str, vocabulary: dict[str, T], *, required: bool = False) -> T | None:
        text = self.text(name)
        if not text:
            if required and self.header(name) is not None:
                self.refuse(name, "empty")
            return None
        value = vocabulary.get(plain(text))
        if value is None:
            self.refuse(name, f"{_shown(text)} is not a known value")
        return value

    def yes_no(self, name: str, *, default: bool) -> bool:
        text = self.text(name)
        if not text:
            return default
        answer = YES_NO.get(plain(text))
        if answer is None:
            self.refuse(name, f"{_shown(text)} is neither yes nor no")
            return default
        return answer

    def birth_year(self) -> int | None:
        text = self.text("birth_year")
        if not text:
            return None
        for pattern in (YEAR, DAY_MONTH_YEAR, ISO_DATE):
            if match := pattern.match(text):
                return int(match.group(1))
        self.refuse("birth_year", f"{_shown(text)} is not a year")
        return None

    def phone(self) -> str | None:
        text = self.text("phone")
        if not text or plain(text) in NO_PHONE:
            return None
        # A number cell drops the leading 0 of a French number: 612345678 was 0612345678.
        return "0" + text if FRENCH_MOBILE_WITHOUT_ZERO.match(text) else text

    def tracks(self) -> tuple[Track, ...]:
        text = self.text("tracks")
        if not text:
            if self.header("tracks") is not None:
                self.refuse("tracks", "empty")
            return ()
        tracks = []
        for part in TRACK_SEPARATORS.split(text):
            if not part.strip():
                continue
            track = TRACKS.get(plain(part))
            if track is None:
                self.refuse("tracks", f"{_shown(part.strip())} is not a track")
            elif track not in tracks:
                tracks.append(track)
        return tuple(tracks)
