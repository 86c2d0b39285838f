"""Spreadsheet import of attendance: the columns of a roll-call spreadsheet and turning each row
into an attendance mark for a session, with cell-level errors that say what is accepted
(reading files, matching headers and reporting are kit.spreadsheet's)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.training import AttendanceStatus
from kit.spreadsheet import CellError, Cells, Column, Sheet, SheetImport, SheetRow
from services.training.domain import AttendanceMark

STATUSES: dict[str, AttendanceStatus] = {
    **dict.fromkeys(("present", "presente"), AttendanceStatus.PRESENT),
    **dict.fromkeys(
        (
            "absent excuse",
            "absente excusee",
            "absence excusee",
            "excuse",
            "excusee",
            "excused",
            "excused absence",
        ),
        AttendanceStatus.EXCUSED_ABSENCE,
    ),
    **dict.fromkeys(
        (
            "absent",
            "absente",
            "absent non excuse",
            "absente non excusee",
            "absence non excusee",
            "unexcused",
            "unexcused absence",
        ),
        AttendanceStatus.UNEXCUSED_ABSENCE,
    ),
}

COLUMNS = (
    Column(
        "session",
        ("session", "séance", "session_id"),
        "the session's id, as the training service gives it (GET /sessions)",
        required=True,
    ),
    Column(
        "beneficiary",
        ("beneficiary", "bénéficiaire", "beneficiary_id"),
        "the beneficiary's id (a UUID such as 0b8e4c1e-…), as given at enrolment",
        required=True,
    ),
    Column(
        "status",
        ("status", "présence", "statut"),
        "présent / present, absent excusé / excused, absent / absent non excusé / unexcused",
        required=True,
    ),
    Column(
        "minutes",
        ("minutes", "durée"),
        "whole minutes attended, at most the session's duration; empty means the whole "
        "session when present, 0 when absent",
    ),
)
# The domain names fields as the API does; the report names the spreadsheet's columns.
COLUMN_OF_FIELD = {
    "sessionId": "session",
    "beneficiaryId": "beneficiary",
    "status": "status",
    "id": "status",  # a different record for the same person and session
    "minutes": "minutes",
}
SHEET = Sheet(COLUMNS, COLUMN_OF_FIELD)
ATTENDANCE = SheetImport(
    sheet=SHEET,
    service="training",
    route="/imports/attendance",
    id_field="id",
    id_column="attendance_id",
    already="already recorded",
    same_as="same record as row",
    nothing_kept="nothing was recorded",
    safe_again="attendance already recorded is recognised",
)


@dataclass(frozen=True)
class AttendanceLine:
    """One row: who attended which session, and how."""

    session_id: str
    mark: AttendanceMark


def parse_row(row: SheetRow) -> AttendanceLine | list[CellError]:
    """The attendance a row records, or every problem found in its cells.

    Only the spreadsheet's own conventions are checked here; the attendance rules (known
    people, minutes within the session, one record per person and session) are the domain's,
    and ``SHEET.refusals`` reports them by column.
    """
    cells = Cells(SHEET, row)
    session_id = cells.required("session")
    beneficiary_id = cells.uuid("beneficiary")
    status = cells.choice("status", STATUSES, required=True)
    minutes = cells.whole_number("minutes")
    if cells.errors or beneficiary_id is None or status is None:
        return cells.errors
    return AttendanceLine(session_id, AttendanceMark(beneficiary_id, status, minutes))
