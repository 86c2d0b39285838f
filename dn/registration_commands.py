"""Registration's command-line tools (run through ``dn``): spreadsheet import, a person's
data export, and the retention run. They talk to the running platform over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from rich.text import Text

from dn.sheet_upload import ServiceRefused, answer, console, fail, run_import, token
from kit.settings import Settings
from kit.spreadsheet import SheetImport
from services.registration.importer import SHEET


def beneficiaries(association: str) -> SheetImport:
    """``dn import beneficiaries``: every row enrolled by ``association``."""
    return SheetImport(
        sheet=SHEET,
        service="registration",
        route="/imports/beneficiaries",
        id_field="beneficiary_id",
        id_column="beneficiary_id",
        already="already enrolled",
        same_as="same person as row",
        nothing_kept="nobody was enrolled",
        safe_again="people already enrolled are recognised",
        body={"association_id": association},
    )


def import_beneficiaries(file: Path, association: str, dry_run: bool, report: Path | None) -> int:
    """Enrol the people listed in a spreadsheet; running it again enrols nobody twice.

    Exit 0: every row enrolled or already enrolled; 1: some refused; 2: file or service fails.
    """

    def require_association(client: httpx.Client) -> None:
        known = [entry["id"] for entry in answer(client.get("/associations"), "registration")]
        if association not in known:
            raise ServiceRefused(f"unknown association {association!r}; known: {', '.join(known)}")

    return run_import(
        beneficiaries(association),
        file,
        dry_run=dry_run,
        report=report,
        check=require_association,
    )


# -- rights of the person and retention, through the gateway -----------------------------------

EXPORT = "query Export($id: ID!) { beneficiaryExport(id: $id) }"
RETENTION = """
mutation Retention($dryRun: Boolean!, $days: Int!) {
  runRetention(dryRun: $dryRun, olderThanDays: $days) { dryRun olderThanDays beneficiaryIds }
}"""


def _graphql(query: str, variables: dict[str, Any], subject: str) -> Any:
    settings = Settings()
    try:
        bearer = token(settings, subject)
        response = httpx.post(
            f"{settings.gateway_url}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {bearer}"},
            timeout=120,
        )
    except httpx.TransportError as error:
        raise ServiceRefused(
            f"the gateway at {settings.gateway_url} does not answer ({error}); start the "
            "platform with `make up`"
        ) from error
    except ServiceRefused:
        raise
    body = response.json()
    if body.get("errors"):
        raise ServiceRefused("; ".join(error["message"] for error in body["errors"]))
    return body["data"]


def export_beneficiary(beneficiary_id: str, output: Path | None) -> int:
    """Write everything every service holds about one person as one JSON document."""
    try:
        document = _graphql(EXPORT, {"id": beneficiary_id}, "dn-export")["beneficiaryExport"]
    except ServiceRefused as error:
        return fail(str(error), code=2)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(Text(f"wrote {output}"))
    return 0


def run_retention(apply: bool, older_than_days: int) -> int:
    """List (or, with ``apply``, anonymise) people without contact for the period."""
    try:
        run = _graphql(RETENTION, {"dryRun": not apply, "days": older_than_days}, "dn-retention")[
            "runRetention"
        ]
    except ServiceRefused as error:
        return fail(str(error), code=2)
    ids = run["beneficiaryIds"]
    verb = "anonymised" if apply else "would be anonymised (dry run; --apply to do it)"
    console.print(Text(f"{len(ids)} record(s) without contact for {older_than_days} days {verb}"))
    for beneficiary_id in ids:
        print(beneficiary_id)
    return 0
