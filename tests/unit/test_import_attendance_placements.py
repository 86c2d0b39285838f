"""Attendance and placement spreadsheets: which headers and spellings are understood, what each
refusal says, dates as people and workbooks write them, and the domain's refusals reported
under the file's own column names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from contracts.errors import InvalidInput
from contracts.orientation import PlacementKind
from contracts.training import AttendanceStatus, SessionKind
from kit.spreadsheet import CellError, ImportFileError, SheetRow
from services.orientation import domain as orientation
from services.orientation import importer as placements
from services.orientation.domain import PlacementRequest
from services.training import domain as training
from services.training import importer as attendance
from services.training.importer import AttendanceLine

PERSON = "0b8e4c1e-6f1a-4c2b-9d3e-1a2b3c4d5e6f"
SESSION = "5d6c9a3e-2b1f-4e7d-8c9b-0a1b2c3d4e5f"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def attendance_row(number: int = 2, **values: str) -> SheetRow:
    cells = {"Séance": SESSION, "Bénéficiaire": PERSON, "Présence": "présent", "Minutes": ""}
    return SheetRow(number, {**cells, **values})


def placement_row(number: int = 2, **values: str) -> SheetRow:
    cells = {
        "Bénéficiaire": PERSON,
        "Type de sortie": "CDI",
        "Date de début": "02/03/2026",
        "Employeur": "Mairie de Pessac",
        "Secteur numérique": "oui",
    }
    return SheetRow(number, {**cells, **values})


def line(row: SheetRow) -> AttendanceLine:
    result = attendance.parse_row(row)
    assert isinstance(result, AttendanceLine), result
    return result


def request(row: SheetRow) -> PlacementRequest:
    result = placements.parse_row(row)
    assert isinstance(result, PlacementRequest), result
    return result


def errors(result: object) -> list[CellError]:
    assert isinstance(result, list), result
    return result


# -- attendance ----------------------------------------------------------------------------


def test_a_french_attendance_row_becomes_the_mark_it_describes() -> None:
    parsed = line(attendance_row(Minutes="90"))

    assert parsed.session_id == SESSION
    assert parsed.mark == training.AttendanceMark(UUID(PERSON), AttendanceStatus.PRESENT, 90)


@pytest.mark.parametrize(
    "headers",
    [
        ("session", "beneficiary", "status", "minutes"),
        ("SÉANCE", "beneficiaire", "presence", "Minutes"),
        ("session_id", "beneficiary_id", "Statut", "durée"),
    ],
)
def test_attendance_headers_match_in_french_or_english_whatever_the_case_and_accents(
    headers: tuple[str, str, str, str],
) -> None:
    row = SheetRow(2, dict(zip(headers, (SESSION, PERSON, "absent", ""), strict=True)))

    assert line(row).mark.status is AttendanceStatus.UNEXCUSED_ABSENCE


@pytest.mark.parametrize(
    ("spelling", "status"),
    [
        ("présent", AttendanceStatus.PRESENT),
        ("Present", AttendanceStatus.PRESENT),
        ("présente", AttendanceStatus.PRESENT),
        ("absent excusé", AttendanceStatus.EXCUSED_ABSENCE),
        ("Absente excusée", AttendanceStatus.EXCUSED_ABSENCE),
        ("excused", AttendanceStatus.EXCUSED_ABSENCE),
        ("excused_absence", AttendanceStatus.EXCUSED_ABSENCE),
        ("absent", AttendanceStatus.UNEXCUSED_ABSENCE),
        ("absent non excusé", AttendanceStatus.UNEXCUSED_ABSENCE),
        ("ABSENT NON EXCUSE", AttendanceStatus.UNEXCUSED_ABSENCE),
        ("unexcused", AttendanceStatus.UNEXCUSED_ABSENCE),
        ("unexcused_absence", AttendanceStatus.UNEXCUSED_ABSENCE),
    ],
)
def test_every_attendance_status_spelling_is_understood(
    spelling: str, status: AttendanceStatus
) -> None:
    assert line(attendance_row(Présence=spelling)).mark.status is status


def test_empty_minutes_leave_the_duration_to_the_session() -> None:
    assert line(attendance_row()).mark.minutes is None


def test_an_unknown_status_names_the_cell_and_the_accepted_spellings() -> None:
    [error] = errors(attendance.parse_row(attendance_row(3, Présence="en retard")))

    assert (error.row, error.column) == (3, "Présence")
    assert error.problem == "'en retard' is not a known value"
    assert "présent / present" in error.accepted
    assert "absent excusé / excused" in error.accepted


def test_every_bad_attendance_cell_is_reported_at_once() -> None:
    found = errors(
        attendance.parse_row(
            attendance_row(Séance="", Bénéficiaire="Camille", Présence="", Minutes="1h30")
        )
    )

    assert [(e.column, e.problem) for e in found] == [
        ("Séance", "empty"),
        ("Bénéficiaire", "'Camille' is not an id (a UUID)"),
        ("Présence", "empty"),
        ("Minutes", "'1h30' is not a whole number"),
    ]


def test_an_attendance_row_without_a_required_column_is_refused_by_name() -> None:
    [error] = errors(attendance.parse_row(SheetRow(4, {"session": SESSION, "status": "present"})))

    assert (error.row, error.column, error.problem) == (4, "beneficiary", "missing column")


def session(duration: int = 90) -> training.Session:
    return training.Session(
        id=SESSION,
        association_id="asso-saige-en-ligne",
        district_id="qpv-saige",
        module_id="m",
        kind=SessionKind.COLLECTIVE,
        place_type="association_premises",
        starts_at=NOW,
        duration_minutes=duration,
    )


def test_attendance_rules_are_reported_under_the_spreadsheets_own_column_names() -> None:
    row = attendance_row(5, Minutes="500")
    with pytest.raises(InvalidInput) as refusal:
        training.record_attendance(
            session(), line(row).mark, None, attendance_id="a", now=NOW, present_count=0
        )

    [error] = attendance.SHEET.refusals(row, refusal.value.errors)

    assert (error.row, error.column) == (5, "Minutes")
    assert error.problem == "'500' is not accepted"
    assert error.accepted == "between 1 and the session's 90 minutes"


def test_an_unknown_beneficiary_is_reported_in_the_beneficiary_column() -> None:
    row = attendance_row(6)
    with pytest.raises(InvalidInput) as refusal:
        training.require_recordable(UUID(PERSON), None)

    [error] = attendance.SHEET.refusals(row, refusal.value.errors)

    assert error.column == "Bénéficiaire"
    assert "training does not know beneficiary" in error.accepted


def test_a_different_record_already_there_is_reported_on_the_status() -> None:
    row = attendance_row(7, Présence="absent")
    earlier = training.record_attendance(
        session(), line(attendance_row()).mark, None, attendance_id="a", now=NOW
    )
    with pytest.raises(InvalidInput) as refusal:
        training.record_attendance(session(), line(row).mark, earlier, attendance_id="b", now=NOW)

    [error] = attendance.SHEET.refusals(row, refusal.value.errors)

    assert error.column == "Présence"
    assert "already recorded as present" in error.accepted


# -- placements ----------------------------------------------------------------------------


def test_a_french_placement_row_becomes_the_request_it_describes() -> None:
    assert request(placement_row()) == PlacementRequest(
        beneficiary_id=PERSON,
        kind=PlacementKind.CDI,
        starts_on=date(2026, 3, 2),
        digital_sector=True,
        employer="Mairie de Pessac",
    )


def test_english_placement_headers_give_the_same_request() -> None:
    english = SheetRow(2, {"beneficiary": PERSON, "kind": "cdi", "start": "2026-03-02",
                           "employer": "Mairie de Pessac", "digital": "yes"})  # fmt: skip

    assert request(english) == request(placement_row())


KIND_SPELLINGS = {
    PlacementKind.CDI: ["CDI", "cdi"],
    PlacementKind.CDD_6M_PLUS: ["CDD 6 mois et plus", "CDD_6M_PLUS", "cdd de 6 mois et plus"],
    PlacementKind.CDD_UNDER_6M: ["CDD moins de 6 mois", "CDD_UNDER_6M"],
    PlacementKind.INTERIM_6M_PLUS: ["intérim 6 mois et plus", "INTERIM_6M_PLUS"],
    PlacementKind.INTERIM_UNDER_6M: ["Intérim moins de 6 mois", "interim_under_6m"],
    PlacementKind.SUBSIDISED_CONTRACT: ["contrat aidé", "subsidised contract", "Contrat Aide"],
    PlacementKind.BUSINESS_CREATION: ["création d'entreprise", "business creation"],
    PlacementKind.APPRENTICESHIP: ["apprentissage", "apprenticeship"],
    PlacementKind.QUALIFYING_TRAINING: ["formation qualifiante", "qualifying training"],
    PlacementKind.SIAE_HIRING: ["embauche SIAE", "siae hiring"],
    PlacementKind.OTHER: ["autre", "Other"],
}


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [(spelling, kind) for kind, spellings in KIND_SPELLINGS.items() for spelling in spellings],
)
def test_every_placement_kind_spelling_is_understood(spelling: str, kind: PlacementKind) -> None:
    assert request(placement_row(**{"Type de sortie": spelling})).kind is kind


def test_every_placement_kind_has_a_french_and_an_english_spelling() -> None:
    assert set(KIND_SPELLINGS) == set(PlacementKind)


def test_an_unknown_kind_names_the_cell_and_every_accepted_kind() -> None:
    [error] = errors(placements.parse_row(placement_row(**{"Type de sortie": "stage"})))

    assert error.column == "Type de sortie"
    assert error.problem == "'stage' is not a known value"
    assert "CDD 6 mois et plus / CDD_6M_PLUS" in error.accepted
    assert "formation qualifiante" in error.accepted


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        ("02/03/2026", date(2026, 3, 2)),
        ("2/3/2026", date(2026, 3, 2)),
        ("02.03.2026", date(2026, 3, 2)),
        ("02-03-2026", date(2026, 3, 2)),
        ("2026-03-02", date(2026, 3, 2)),
        ("2026-03-02T00:00:00", date(2026, 3, 2)),
    ],
)
def test_start_dates_are_read_day_first_or_iso(cell: str, day: date) -> None:
    assert request(placement_row(**{"Date de début": cell})).starts_on == day


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("31/02/2026", "'31/02/2026' is not a day of the calendar"),
        ("2026-13-01", "'2026-13-01' is not a day of the calendar"),
        ("demain", "'demain' is not a date"),
        ("03/2026", "'03/2026' is not a date"),
        ("", "empty"),
    ],
)
def test_a_start_that_is_not_a_date_is_refused_saying_what_is_accepted(
    cell: str, problem: str
) -> None:
    [error] = errors(placements.parse_row(placement_row(**{"Date de début": cell})))

    assert (error.column, error.problem) == ("Date de début", problem)
    assert "02/03/2026" in error.accepted


@given(st.dates(date(1990, 1, 1), date(2100, 12, 31)), st.booleans())
def test_any_date_written_either_way_reads_back_as_itself(day: date, day_first: bool) -> None:
    cell = day.strftime("%d/%m/%Y") if day_first else day.isoformat()

    assert request(placement_row(**{"Date de début": cell})).starts_on == day


def test_optional_placement_columns_may_be_absent_or_empty() -> None:
    row = SheetRow(2, {"bénéficiaire": PERSON, "type de sortie": "autre", "date de début":
                       "2026-03-02", "employeur": ""})  # fmt: skip

    parsed = request(row)

    assert (parsed.employer, parsed.digital_sector) == (None, False)


def test_a_digital_cell_that_is_neither_yes_nor_no_is_refused() -> None:
    [error] = errors(placements.parse_row(placement_row(**{"Secteur numérique": "peut-être"})))

    assert error.problem == "'peut-être' is neither yes nor no"
    assert "oui/non" in error.accepted


def test_placement_rules_are_reported_under_the_spreadsheets_own_column_names() -> None:
    too_late = (NOW + timedelta(days=400)).date().strftime("%d/%m/%Y")
    row = placement_row(8, **{"Date de début": too_late, "Employeur": "<b>Acme</b>"})
    person = orientation.Person(PERSON, "asso-saige-en-ligne")
    with pytest.raises(InvalidInput) as refusal:
        orientation.record_placement(person, request(row), placement_id=uuid4(), now=NOW)

    found = placements.SHEET.refusals(row, refusal.value.errors)

    assert {error.column for error in found} == {"Date de début", "Employeur"}
    assert all(error.row == 8 for error in found)


# -- files ---------------------------------------------------------------------------------


def test_a_placements_workbook_reads_date_cells_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "sorties.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Bénéficiaire", "Type de sortie", "Date de début", "Employeur",
                  "Secteur numérique", "Notes"])  # fmt: skip
    sheet.append([PERSON, "CDD 6 mois et plus", datetime(2026, 3, 2), "Cdiscount", True, "x"])
    sheet.append([PERSON, "contrat aidé", date(2026, 4, 1), None, 0, None])
    workbook.save(path)

    rows = placements.SHEET.read_rows(path)

    assert placements.SHEET.ignored_headers(rows[0].values) == ["Notes"]
    first, second = (request(row) for row in rows)
    assert (first.kind, first.starts_on, first.digital_sector) == (
        PlacementKind.CDD_6M_PLUS, date(2026, 3, 2), True
    )  # fmt: skip
    assert (second.starts_on, second.employer, second.digital_sector) == (
        date(2026, 4, 1), None, False
    )  # fmt: skip


def test_an_attendance_workbook_reads_minutes_typed_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "emargement.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["session", "beneficiary", "status", "minutes"])
    sheet.append([SESSION, PERSON, "present", 45.0])
    workbook.save(path)

    [row] = attendance.SHEET.read_rows(path)

    assert line(row).mark.minutes == 45


def test_an_attendance_file_without_a_required_column_is_refused_naming_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "emargement.csv"
    path.write_text(f"séance;bénéficiaire\n{SESSION};{PERSON}\n", encoding="utf-8")

    with pytest.raises(ImportFileError) as refusal:
        attendance.SHEET.read_rows(path)

    message = str(refusal.value)
    assert "status / présence" in message
    assert "optional minutes" in message
