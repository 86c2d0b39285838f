"""Spreadsheet import of placements: the columns of a placements spreadsheet and turning each row
into a placement request, with cell-level errors that say what is accepted (reading files,
matching headers and reporting are kit.spreadsheet's)."""

from __future__ import annotations

from contracts.orientation import PlacementKind
from kit.spreadsheet import (
    DATE_ACCEPTED,
    YES_NO_ACCEPTED,
    CellError,
    Cells,
    Column,
    Sheet,
    SheetImport,
    SheetRow,
    plain,
)
from services.orientation.domain import MAX_EMPLOYER_LENGTH, PlacementRequest

KINDS: dict[str, PlacementKind] = {
    # the codes themselves: cdi, cdd_6m_plus, …
    **{plain(kind.value): kind for kind in PlacementKind},
    **dict.fromkeys(("contrat a duree indeterminee",), PlacementKind.CDI),
    **dict.fromkeys(
        ("cdd 6 mois et plus", "cdd de 6 mois et plus", "cdd 6 mois ou plus"),
        PlacementKind.CDD_6M_PLUS,
    ),
    **dict.fromkeys(("cdd moins de 6 mois", "cdd de moins de 6 mois"), PlacementKind.CDD_UNDER_6M),
    **dict.fromkeys(
        (
            "interim 6 mois et plus",
            "interim de 6 mois et plus",
            "interim 6 mois ou plus",
            "mission d interim 6 mois et plus",
        ),
        PlacementKind.INTERIM_6M_PLUS,
    ),
    **dict.fromkeys(
        ("interim moins de 6 mois", "interim de moins de 6 mois"), PlacementKind.INTERIM_UNDER_6M
    ),
    **dict.fromkeys(
        ("contrat aide", "subsidised contract", "subsidized contract"),
        PlacementKind.SUBSIDISED_CONTRACT,
    ),
    **dict.fromkeys(
        ("creation d entreprise", "creation entreprise", "business creation"),
        PlacementKind.BUSINESS_CREATION,
    ),
    **dict.fromkeys(
        ("apprentissage", "contrat d apprentissage", "apprenticeship"),
        PlacementKind.APPRENTICESHIP,
    ),
    **dict.fromkeys(
        ("formation qualifiante", "qualifying training"), PlacementKind.QUALIFYING_TRAINING
    ),
    **dict.fromkeys(
        ("embauche siae", "embauche en siae", "siae hiring"), PlacementKind.SIAE_HIRING
    ),
    **dict.fromkeys(("autre", "other"), PlacementKind.OTHER),
}

COLUMNS = (
    Column(
        "beneficiary",
        ("beneficiary", "bénéficiaire", "beneficiary_id"),
        "the beneficiary's id (a UUID such as 0b8e4c1e-…), as given at enrolment",
        required=True,
    ),
    Column(
        "kind",
        ("kind", "type de sortie", "type"),
        "CDI; CDD 6 mois et plus / CDD_6M_PLUS; CDD moins de 6 mois / CDD_UNDER_6M; intérim 6 "
        "mois et plus / INTERIM_6M_PLUS; intérim moins de 6 mois / INTERIM_UNDER_6M; contrat "
        "aidé / subsidised contract; création d'entreprise / business creation; apprentissage / "
        "apprenticeship; formation qualifiante / qualifying training; embauche SIAE / SIAE "
        "hiring; autre / other",
        required=True,
    ),
    Column(
        "start",
        ("start", "date de début", "starts_on"),
        f"{DATE_ACCEPTED}, or a workbook date cell; at most a year ahead",
        required=True,
    ),
    Column(
        "employer",
        ("employer", "employeur"),
        f"the employer's name (at most {MAX_EMPLOYER_LENGTH} characters, no markup), or empty",
    ),
    Column(
        "digital",
        ("digital", "secteur numérique", "digital_sector"),
        f"{YES_NO_ACCEPTED}: is the job in the digital sector; empty means no",
    ),
)
# The domain names fields as the API does; the report names the spreadsheet's columns.
COLUMN_OF_FIELD = {
    "beneficiaryId": "beneficiary",
    "kind": "kind",
    "startsOn": "start",
    "employer": "employer",
    "digitalSector": "digital",
}
SHEET = Sheet(COLUMNS, COLUMN_OF_FIELD)
PLACEMENTS = SheetImport(
    sheet=SHEET,
    service="orientation",
    route="/imports/placements",
    id_field="id",
    id_column="placement_id",
    already="already recorded",
    same_as="same placement as row",
    nothing_kept="nothing was recorded",
    safe_again="placements already recorded are recognised",
)


def parse_row(row: SheetRow) -> PlacementRequest | list[CellError]:
    """The placement a row records, or every problem found in its cells.

    Only the spreadsheet's own conventions are checked here; the placement rules (known and
    active people, dates, employer names, one placement per person, kind and start) are the
    domain's, and ``SHEET.refusals`` reports them by column.
    """
    cells = Cells(SHEET, row)
    beneficiary_id = cells.uuid("beneficiary")
    kind = cells.choice("kind", KINDS, required=True)
    starts_on = cells.day("start")
    employer = cells.text("employer") or None
    digital_sector = cells.yes_no("digital", default=False)
    if cells.errors or beneficiary_id is None or kind is None or starts_on is None:
        return cells.errors
    return PlacementRequest(
        beneficiary_id=str(beneficiary_id),
        kind=kind,
        starts_on=starts_on,
        digital_sector=digital_sector,
        employer=employer,
    )
