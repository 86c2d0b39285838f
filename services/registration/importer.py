"""Spreadsheet import of beneficiaries: the columns of an enrolment spreadsheet and turning each
row into an enrolment request, with cell-level errors that say what is accepted (reading files,
matching headers and reporting are kit.spreadsheet's)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.errors import FieldError
from kit.spreadsheet import (
    YES_NO_ACCEPTED,
    CellError,
    Cells,
    Column,
    ImportFileError,
    Sheet,
    SheetRow,
    plain,
    shown,
)
from services.registration.domain import Consent, EnrolmentRequest, PersonalData

__all__ = ["SHEET", "CellError", "ImportFileError", "SheetRow", "column_of", "ignored_headers",
           "parse_row", "read_rows", "refusals"]  # fmt: skip


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
NO_PHONE = frozenset(("sans telephone", "pas de telephone", "no phone"))
YEAR = re.compile(r"^(\d{4})(?:\.0+)?$")
DAY_MONTH_YEAR = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-](\d{4})$")
ISO_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}(?:[T ].*)?$")
FRENCH_MOBILE_WITHOUT_ZERO = re.compile(r"^[1-9][0-9]{8}$")

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
SHEET = Sheet(COLUMNS, COLUMN_OF_FIELD)


column_of = SHEET.column_of
read_rows = SHEET.read_rows
ignored_headers = SHEET.ignored_headers


# -- one row -------------------------------------------------------------------------------


def parse_row(row: SheetRow, association_id: str) -> EnrolmentRequest | list[CellError]:
    """The enrolment request a row asks for, or every problem found in its cells.

    Only the spreadsheet's own conventions are checked here; the enrolment rules (ranges,
    districts served, consent) are the domain's, and :func:`refusals` reports them by column.
    """
    cells = _Cells(row)
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
    return SHEET.refusals(row, errors)


class _Cells(Cells):
    """One enrolment row's cells, with the readings only enrolment needs."""

    def __init__(self, row: SheetRow) -> None:
        super().__init__(SHEET, row)

    def birth_year(self) -> int | None:
        text = self.text("birth_year")
        if not text:
            return None
        for pattern in (YEAR, DAY_MONTH_YEAR, ISO_DATE):
            if match := pattern.match(text):
                return int(match.group(1))
        self.refuse("birth_year", f"{shown(text)} is not a year")
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
                self.refuse("tracks", f"{shown(part.strip())} is not a track")
            elif track not in tracks:
                tracks.append(track)
        return tuple(tracks)
