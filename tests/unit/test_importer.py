"""Spreadsheet import: which headers and spellings are understood, what each refusal says, and
that .csv (either delimiter, either encoding) and .xlsx files read the same."""

from __future__ import annotations

import codecs
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.errors import InvalidInput
from services.registration.domain import (
    Association,
    District,
    EnrolmentRequest,
    ReferenceData,
    enrol,
)
from services.registration.importer import (
    CellError,
    ImportFileError,
    SheetRow,
    column_of,
    ignored_headers,
    parse_row,
    read_rows,
    refusals,
)

ASSOCIATION = "asso-saige-en-ligne"
SAIGE = District("qpv-saige", "Saige", "Pessac", "33318", "QN03304M")
REFERENCE = ReferenceData(
    districts={SAIGE.id: SAIGE},
    associations={ASSOCIATION: Association(ASSOCIATION, "Saige en Ligne", (SAIGE.id,))},
)
NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)

VALID = {
    "prénom": "Yasmine",
    "nom": "Belkacem",
    "année de naissance": "1990",
    "téléphone": "06 12 34 56 78",
    "courriel": "y@example.org",
    "adresse": "3 allée des Mimosas",
    "code postal": "33600",
    "code insee": "33318",
    "quartier": "qpv-saige",
    "genre": "F",
    "parcours": "carrières",
    "situation": "demandeur d'emploi inscrit",
    "résident qpv": "oui",
    "consentement suivi": "oui",
    "consentement partenaires": "non",
    "consentement enquêtes": "oui",
}


def row(number: int = 2, **changes: str) -> SheetRow:
    """The valid French row with some cells changed (keys use _ for spaces)."""
    values = dict(VALID)
    for key, value in changes.items():
        values[key.replace("_", " ")] = value
    return SheetRow(number, values)


def parsed(sheet_row: SheetRow) -> EnrolmentRequest:
    result = parse_row(sheet_row, ASSOCIATION)
    assert isinstance(result, EnrolmentRequest), result
    return result


def errors_of(sheet_row: SheetRow) -> list[CellError]:
    result = parse_row(sheet_row, ASSOCIATION)
    assert isinstance(result, list), result
    return result


def test_a_complete_french_row_becomes_the_request_it_describes() -> None:
    request = parsed(row())

    assert request.association_id == ASSOCIATION
    assert request.district_id == "qpv-saige"
    assert request.personal.first_name == "Yasmine"
    assert request.personal.last_name == "Belkacem"
    assert request.personal.phone == "06 12 34 56 78"
    assert request.personal.email == "y@example.org"
    assert request.personal.street == "3 allée des Mimosas"
    assert request.personal.postcode == "33600"
    assert request.personal.insee_code == "33318"
    assert request.birth_year == 1990
    assert request.gender is Gender.FEMALE
    assert request.tracks == (Track.DIGITAL_CAREERS,)
    assert request.employment_status is EmploymentStatus.REGISTERED_JOB_SEEKER
    assert request.qpv_resident is True
    assert request.consent.programme_follow_up is True
    assert request.consent.share_with_partners is False
    assert request.consent.contact_for_surveys is True


# -- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("first_name", "first_name"), ("Prénom", "first_name"), ("PRENOM", "first_name"),
        ("First Name", "first_name"), ("last_name", "last_name"), ("Nom", "last_name"),
        ("birth_year", "birth_year"), ("Année de naissance", "birth_year"),
        ("ANNEE_DE_NAISSANCE", "birth_year"), ("phone", "phone"), ("Téléphone", "phone"),
        ("telephone", "phone"), ("email", "email"), ("Courriel", "email"), ("E-mail", "email"),
        ("street", "street"), ("Adresse", "street"), ("postcode", "postcode"),
        ("Code postal", "postcode"), ("insee_code", "insee_code"), ("Code INSEE", "insee_code"),
        ("district", "district"), ("Quartier", "district"), ("gender", "gender"),
        ("Genre", "gender"), ("tracks", "tracks"), ("Parcours", "tracks"),
        ("employment_status", "employment_status"), ("Situation", "employment_status"),
        ("qpv_resident", "qpv_resident"), ("Résident QPV", "qpv_resident"),
        ("consent_follow_up", "consent_follow_up"), ("Consent follow-up", "consent_follow_up"),
        ("consent_partners", "consent_partners"), ("consent_surveys", "consent_surveys"),
        ("  Prénom  ", "first_name"),
    ],
)  # fmt: skip
def test_headers_match_in_french_or_english_whatever_the_case_and_accents(
    header: str, column: str
) -> None:
    found = column_of(header)

    assert found is not None
    assert found.name == column


def test_english_headers_give_the_same_request_as_french_ones() -> None:
    english = dict(
        zip(
            ["first_name", "last_name", "birth_year", "phone", "email", "street", "postcode",
             "insee_code", "district", "gender", "tracks", "employment_status", "qpv_resident",
             "consent_follow_up", "consent_partners", "consent_surveys"],
            VALID.values(),
            strict=True,
        )
    )  # fmt: skip

    assert parsed(SheetRow(2, english)) == parsed(row())


def test_unknown_headers_are_reported_as_ignored() -> None:
    assert ignored_headers(["Prénom", "Notes", "", "Référent"]) == ["Notes", "Référent"]


# -- accepted spellings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "gender"),
    [
        ("F", Gender.FEMALE), ("femme", Gender.FEMALE), ("Female", Gender.FEMALE),
        ("H", Gender.MALE), ("M", Gender.MALE), ("Homme", Gender.MALE), ("male", Gender.MALE),
        ("non-binaire", Gender.NON_BINARY), ("Non binary", Gender.NON_BINARY),
        ("NB", Gender.NON_BINARY), ("non précisé", Gender.UNDISCLOSED),
        ("Non precise", Gender.UNDISCLOSED), ("undisclosed", Gender.UNDISCLOSED),
    ],
)  # fmt: skip
def test_every_gender_spelling_is_understood(spelling: str, gender: Gender) -> None:
    assert parsed(row(genre=spelling)).gender is gender


@pytest.mark.parametrize(
    ("spelling", "tracks"),
    [
        ("inclusion", (Track.DIGITAL_INCLUSION,)),
        ("Carrières", (Track.DIGITAL_CAREERS,)),
        ("careers", (Track.DIGITAL_CAREERS,)),
        ("inclusion, carrières", (Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS)),
        ("inclusion;careers", (Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS)),
        ("carrieres + inclusion", (Track.DIGITAL_CAREERS, Track.DIGITAL_INCLUSION)),
        ("inclusion / carrières", (Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS)),
        ("inclusion, inclusion", (Track.DIGITAL_INCLUSION,)),
    ],
)
def test_tracks_are_read_alone_or_both_with_any_separator(
    spelling: str, tracks: tuple[Track, ...]
) -> None:
    assert parsed(row(parcours=spelling)).tracks == tracks


@pytest.mark.parametrize(
    ("spelling", "status"),
    [
        ("demandeur d'emploi inscrit", EmploymentStatus.REGISTERED_JOB_SEEKER),
        ("Demandeuse d’emploi inscrite", EmploymentStatus.REGISTERED_JOB_SEEKER),
        ("registered job seeker", EmploymentStatus.REGISTERED_JOB_SEEKER),
        ("sans emploi non inscrit", EmploymentStatus.UNEMPLOYED_NOT_REGISTERED),
        ("en emploi", EmploymentStatus.EMPLOYED),
        ("Employed", EmploymentStatus.EMPLOYED),
        ("en formation", EmploymentStatus.IN_EDUCATION),
        ("étudiant", EmploymentStatus.IN_EDUCATION),
        ("in education", EmploymentStatus.IN_EDUCATION),
        ("retraité", EmploymentStatus.RETIRED),
        ("retired", EmploymentStatus.RETIRED),
        ("inactif", EmploymentStatus.INACTIVE),
        ("inactive", EmploymentStatus.INACTIVE),
        ("", None),
    ],
)
def test_every_employment_status_spelling_is_understood(
    spelling: str, status: EmploymentStatus | None
) -> None:
    assert parsed(row(situation=spelling)).employment_status is status


@pytest.mark.parametrize(
    ("spelling", "answer"),
    [("oui", True), ("OUI", True), ("yes", True), ("1", True), ("non", False), ("No", False),
     ("0", False)],
)  # fmt: skip
def test_yes_no_columns_accept_oui_non_yes_no_1_0(spelling: str, answer: bool) -> None:
    request = parsed(
        row(
            résident_qpv=spelling, consentement_partenaires=spelling, consentement_enquêtes=spelling
        )
    )

    assert request.qpv_resident is answer
    assert request.consent.share_with_partners is answer
    assert request.consent.contact_for_surveys is answer


def test_empty_optional_cells_mean_qpv_resident_and_no_optional_consent() -> None:
    request = parsed(
        row(**{"résident_qpv": "", "consentement_partenaires": "", "consentement_enquêtes": ""})
    )

    assert request.qpv_resident is True
    assert request.consent.share_with_partners is False
    assert request.consent.contact_for_surveys is False


@pytest.mark.parametrize(
    ("cell", "phone"),
    [
        ("", None),
        ("sans téléphone", None),
        ("Sans telephone", None),
        ("no phone", None),
        ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("612345678", "0612345678"),  # a number cell lost the leading 0
    ],
)
def test_phone_cells_say_a_number_or_that_the_person_has_none(cell: str, phone: str | None) -> None:
    assert parsed(row(téléphone=cell)).personal.phone == phone


@pytest.mark.parametrize(
    ("cell", "year"),
    [("1994", 1994), ("1994.0", 1994), ("12/03/1994", 1994), ("1994-03-12", 1994), ("", None)],
)
def test_birth_year_is_read_from_a_year_or_a_date(cell: str, year: int | None) -> None:
    assert parsed(row(année_de_naissance=cell)).birth_year == year


def test_optional_columns_may_be_absent() -> None:
    required = ("prénom", "nom", "quartier", "genre", "parcours", "consentement suivi")

    request = parsed(SheetRow(2, {header: VALID[header] for header in required}))

    assert request.birth_year is None
    assert request.personal.phone is None
    assert request.employment_status is None
    assert request.qpv_resident is True


# -- refusals ------------------------------------------------------------------------------


def test_an_unknown_gender_names_the_cell_and_the_accepted_spellings() -> None:
    [error] = errors_of(row(7, genre="X"))

    assert error.row == 7
    assert error.column == "genre"
    assert "'X'" in error.problem
    assert "femme" in error.accepted
    assert "non-binaire" in error.accepted


def test_a_birth_year_that_is_not_a_year_is_refused() -> None:
    [error] = errors_of(row(année_de_naissance="abc"))

    assert error.column == "année de naissance"
    assert error.problem == "'abc' is not a year"
    assert "1994" in error.accepted


def test_an_unknown_track_is_refused_with_the_known_ones() -> None:
    [error] = errors_of(row(parcours="inclusion, robotique"))

    assert error.column == "parcours"
    assert "'robotique'" in error.problem
    assert "inclusion" in error.accepted
    assert "carrières" in error.accepted


def test_every_bad_cell_of_a_row_is_reported_at_once() -> None:
    errors = errors_of(row(genre="?", parcours="", consentement_suivi="peut-être"))

    assert [e.column for e in errors] == ["genre", "parcours", "consentement suivi"]
    assert {e.problem for e in errors} >= {"empty"}


def test_a_row_without_a_required_column_is_refused_by_name() -> None:
    values = {k: v for k, v in VALID.items() if k != "genre"}

    [error] = errors_of(SheetRow(3, values))

    assert (error.row, error.column, error.problem) == (3, "gender", "missing column")


def refused(sheet_row: SheetRow) -> list[CellError]:
    """What the enrolment rules say about a row that the spreadsheet conventions accepted."""
    with pytest.raises(InvalidInput) as refusal:
        enrol(parsed(sheet_row), REFERENCE, beneficiary_id=UUID(int=1), now=NOW)
    return refusals(sheet_row, refusal.value.errors)


def test_enrolment_rules_are_reported_under_the_spreadsheets_own_column_names() -> None:
    errors = refused(
        row(
            5,
            prénom="",
            année_de_naissance="1850",
            quartier="qpv-nowhere",
            courriel="not-an-address",
            consentement_suivi="non",
        )
    )

    by_column = {error.column: error for error in errors}
    assert set(by_column) == {
        "quartier", "prénom", "courriel", "année de naissance", "consentement suivi"
    }  # fmt: skip
    assert all(error.row == 5 for error in errors)
    assert by_column["quartier"].problem == "'qpv-nowhere': unknown district"
    assert by_column["quartier"].accepted == "known: qpv-saige"
    assert by_column["prénom"].problem == "must not be empty"
    assert by_column["année de naissance"].problem == "'1850' is not accepted"
    assert by_column["année de naissance"].accepted.startswith("a year between")
    assert by_column["courriel"].accepted == "an address like name@example.org"
    assert by_column["consentement suivi"].problem == "'non' is not accepted"
    assert "required" in by_column["consentement suivi"].accepted


def test_english_headers_are_named_in_english_in_refusals() -> None:
    english = SheetRow(
        4,
        {"first_name": "Ana", "last_name": "Lima", "birth_year": "2030", "district": "qpv-saige",
         "gender": "F", "tracks": "inclusion", "consent_follow_up": "yes"},
    )  # fmt: skip

    [error] = refused(english)

    assert error.column == "birth_year"


# -- files ---------------------------------------------------------------------------------

HEADER = "Prénom;Nom;Année de naissance;Quartier;Genre;Parcours;Consentement suivi"


def test_a_semicolon_csv_in_windows_1252_is_read_with_its_accents(tmp_path: Path) -> None:
    path = tmp_path / "inscrits.csv"
    lines = [HEADER, "Zoé;Lefèvre;1990;qpv-saige;femme;carrières;oui"]
    path.write_bytes("\r\n".join(lines).encode("cp1252"))

    [sheet_row] = read_rows(path)

    assert sheet_row.number == 2
    assert sheet_row.values["Prénom"] == "Zoé"
    assert parsed(sheet_row).personal.last_name == "Lefèvre"
    assert parsed(sheet_row).tracks == (Track.DIGITAL_CAREERS,)


def test_a_comma_csv_in_utf8_with_bom_and_quoted_cells_is_read(tmp_path: Path) -> None:
    path = tmp_path / "beneficiaries.csv"
    content = (
        "first_name,last_name,district,gender,tracks,consent_follow_up\n"
        'Zoé,Martin,qpv-saige,F,"inclusion, careers",yes\n'
    )
    path.write_bytes(codecs.BOM_UTF8 + content.encode())

    [sheet_row] = read_rows(path)

    assert "first_name" in sheet_row.values  # the BOM is not part of the first header
    assert parsed(sheet_row).tracks == (Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS)


def test_rows_keep_their_spreadsheet_numbers_and_blank_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "inscrits.csv"
    lines = [HEADER, "A;Un;1990;qpv-saige;F;inclusion;oui", ";;;;;;", "", "B;Deux;;qpv-saige;H;"
             "inclusion;oui", ""]  # fmt: skip
    path.write_text("\n".join(lines), encoding="utf-8")

    rows = read_rows(path)

    assert [r.number for r in rows] == [2, 5]
    assert [r.values["Prénom"] for r in rows] == ["A", "B"]


def test_a_file_without_a_required_column_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "inscrits.csv"
    path.write_text("Prénom;Nom;Quartier;Genre;Parcours\nA;B;qpv-saige;F;inclusion\n")

    with pytest.raises(ImportFileError) as refusal:
        read_rows(path)

    message = str(refusal.value)
    assert "consent_follow_up / consentement suivi" in message
    assert "required" in message


def test_two_headers_for_the_same_column_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "inscrits.csv"
    path.write_text(HEADER + ";prenom\n")

    with pytest.raises(ImportFileError, match="both mean first_name"):
        read_rows(path)


@pytest.mark.parametrize("name", ["inscrits.xls", "inscrits.ods", "inscrits.txt", "inscrits"])
def test_other_file_types_are_refused_saying_what_is_accepted(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(HEADER + "\n")

    with pytest.raises(ImportFileError, match=r"accepted: \.csv .* or \.xlsx"):
        read_rows(path)


def test_a_csv_that_is_not_text_in_a_known_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inscrits.csv"
    path.write_bytes(HEADER.encode("utf-16"))

    with pytest.raises(ImportFileError, match="CSV UTF-8"):
        read_rows(path)


def test_undecodable_bytes_are_refused_with_the_encodings_accepted(tmp_path: Path) -> None:
    path = tmp_path / "inscrits.csv"
    path.write_bytes(HEADER.encode() + b"\nA\x81\x8d;B\n")

    with pytest.raises(ImportFileError, match="neither UTF-8 nor Windows-1252"):
        read_rows(path)


def test_an_xlsx_workbook_reads_numbers_and_dates_as_a_person_would_type_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inscrits.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Prénom", "Nom", "Année de naissance", "Téléphone", "Code postal", "Quartier",
                  "Genre", "Parcours", "Consentement suivi", "Résident QPV"])  # fmt: skip
    sheet.append(["Zoé", "Lefèvre", 1994, 612345678, 33600, "qpv-saige", "F", "inclusion", "oui",
                  True])  # fmt: skip
    sheet.append([None] * 10)
    sheet.append(["Malik", "Benali", datetime(1988, 5, 17), "07 11 22 33 44", None, "qpv-saige",
                  "H", "carrières", "oui", False])  # fmt: skip
    sheet.append(["Ana", "Lima", date(2001, 1, 2), None, 33600.0, "qpv-saige", "NB",
                  "careers", "yes", None])  # fmt: skip
    workbook.create_sheet("Notes").append(["not imported"])
    workbook.save(path)

    rows = read_rows(path)

    assert [r.number for r in rows] == [2, 4, 5]
    zoe, malik, ana = (parsed(r) for r in rows)
    assert (zoe.birth_year, zoe.personal.phone, zoe.personal.postcode) == (
        1994, "0612345678", "33600"
    )  # fmt: skip
    assert zoe.qpv_resident is True
    assert (malik.birth_year, malik.personal.phone, malik.qpv_resident) == (
        1988, "07 11 22 33 44", False
    )  # fmt: skip
    assert (ana.birth_year, ana.personal.postcode, ana.gender) == (2001, "33600", Gender.NON_BINARY)


def test_a_damaged_xlsx_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "inscrits.xlsx"
    path.write_text(HEADER)

    with pytest.raises(ImportFileError, match=r"cannot be opened as an \.xlsx workbook"):
        read_rows(path)


# -- any valid row -------------------------------------------------------------------------

GENDER_SPELLINGS = {
    Gender.FEMALE: ["F", "femme", "Female"],
    Gender.MALE: ["H", "M", "homme", "MALE"],
    Gender.NON_BINARY: ["NB", "non-binaire", "non binary"],
    Gender.UNDISCLOSED: ["non précisé", "undisclosed"],
}
TRACK_SPELLINGS = {
    Track.DIGITAL_INCLUSION: ["inclusion", "Inclusion"],
    Track.DIGITAL_CAREERS: ["carrières", "careers", "CARRIERES"],
}
STATUS_SPELLINGS = {
    EmploymentStatus.REGISTERED_JOB_SEEKER: ["demandeur d'emploi inscrit", "registered job seeker"],
    EmploymentStatus.UNEMPLOYED_NOT_REGISTERED: ["sans emploi non inscrit"],
    EmploymentStatus.EMPLOYED: ["en emploi", "employed"],
    EmploymentStatus.IN_EDUCATION: ["en formation", "étudiant", "in education"],
    EmploymentStatus.RETIRED: ["retraité", "retired"],
    EmploymentStatus.INACTIVE: ["inactif", "inactive"],
}
YES = ["oui", "yes", "1", "Oui"]
NO = ["non", "no", "0", "NON"]

names = st.text(
    st.characters(categories=["L"], include_characters=" -'"), min_size=1, max_size=40
).map(str.strip).filter(bool)  # fmt: skip
phones = st.from_regex(r"0[1-9]( ?[0-9]{2}){4}", fullmatch=True)
emails = st.from_regex(r"[a-z0-9.]{1,20}@[a-z0-9]{1,20}\.(fr|org|com)", fullmatch=True)


def spelled(choices: dict[Any, list[str]]) -> st.SearchStrategy[tuple[Any, str]]:
    return st.sampled_from(list(choices)).flatmap(
        lambda value: st.tuples(st.just(value), st.sampled_from(choices[value]))
    )


def yes_no() -> st.SearchStrategy[tuple[bool, str]]:
    return st.booleans().flatmap(lambda b: st.tuples(st.just(b), st.sampled_from(YES if b else NO)))


@given(
    first_name=names,
    last_name=names,
    birth_year=st.none() | st.integers(1916, 2015),
    phone=st.none() | phones,
    email=st.none() | emails,
    gender=spelled(GENDER_SPELLINGS),
    tracks=st.lists(spelled(TRACK_SPELLINGS), min_size=1, max_size=3),
    separator=st.sampled_from([",", ";", "+", "/", " , ", " + "]),
    status=st.none() | spelled(STATUS_SPELLINGS),
    qpv=yes_no(),
    follow_up=yes_no(),
    partners=yes_no(),
    surveys=yes_no(),
    english=st.booleans(),
)
def test_any_row_of_valid_values_parses_to_a_request_with_those_values(
    first_name: str,
    last_name: str,
    birth_year: int | None,
    phone: str | None,
    email: str | None,
    gender: tuple[Gender, str],
    tracks: list[tuple[Track, str]],
    separator: str,
    status: tuple[EmploymentStatus, str] | None,
    qpv: tuple[bool, str],
    follow_up: tuple[bool, str],
    partners: tuple[bool, str],
    surveys: tuple[bool, str],
    english: bool,
) -> None:
    cells = {
        ("first_name", "Prénom"): first_name,
        ("last_name", "NOM"): last_name,
        ("birth_year", "Année de naissance"): "" if birth_year is None else str(birth_year),
        ("phone", "Téléphone"): phone or "sans téléphone",
        ("email", "Courriel"): email or "",
        ("district", "Quartier"): "qpv-saige",
        ("gender", "Genre"): gender[1],
        ("tracks", "Parcours"): separator.join(spelling for _, spelling in tracks),
        ("employment_status", "Situation"): status[1] if status else "",
        ("qpv_resident", "Résident QPV"): qpv[1],
        ("consent_follow_up", "Consentement suivi"): follow_up[1],
        ("consent_partners", "Consentement partenaires"): partners[1],
        ("consent_surveys", "Consentement enquêtes"): surveys[1],
    }
    values = {headers[0 if english else 1]: text for headers, text in cells.items()}

    request = parsed(SheetRow(2, values))

    assert request.personal.first_name == first_name
    assert request.personal.last_name == last_name
    assert request.birth_year == birth_year
    assert request.personal.phone == phone
    assert request.personal.email == email
    assert request.district_id == "qpv-saige"
    assert request.gender is gender[0]
    assert request.tracks == tuple(dict.fromkeys(track for track, _ in tracks))
    assert request.employment_status is (status[0] if status else None)
    assert request.qpv_resident is qpv[0]
    assert request.consent.programme_follow_up is follow_up[0]
    assert request.consent.share_with_partners is partners[0]
    assert request.consent.contact_for_surveys is surveys[0]
