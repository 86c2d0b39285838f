"""``dn reporting export``: an impact export (CSV, XLSX, HTML, PDF) fetched from the running
reporting service over HTTP, with a locally issued token for the audience it is meant for."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
from rich.text import Text

from dn.sheet_upload import console, fail
from kit.auth import AuthError, Role, issue_token, token_for
from kit.settings import Settings

FORMATS = ("csv", "xlsx", "html", "pdf")
AUDIENCES = (Role.COORDINATOR, Role.ASSOCIATION, Role.FUNDER)


def route_of(format: str, breakdown: str | None) -> str:
    """The export route: a breakdown as CSV or XLSX, every breakdown as XLSX, the report."""
    if format == "csv":
        return f"/exports/{breakdown or 'district'}.csv"
    if format == "xlsx":
        return f"/exports/{breakdown}.xlsx" if breakdown else "/exports/impact.xlsx"
    return f"/exports/report.{format}"


def export(
    format: str,
    out: Path,
    *,
    breakdown: str | None = None,
    association: str | None = None,
    district: str | None = None,
    track: str | None = None,
    lang: str = "fr",
    audience: Role = Role.COORDINATOR,
) -> int:
    """Write one export to ``out`` (a directory: the file name the service gives).

    Exit 0: written; 1: the service refused (unknown breakdown, filter, role); 2: usage, no
    platform, or the file cannot be written."""
    if format not in FORMATS:
        return fail(f"--format must be one of {', '.join(FORMATS)}", code=2)
    if format in ("html", "pdf") and breakdown:
        return fail("the report holds every breakdown: --breakdown is for csv and xlsx", code=2)
    if audience not in AUDIENCES:
        return fail("--as coordinator, association or funder", code=2)
    if sum(bool(f) for f in (association, district, track)) > 1:
        return fail("filter by one of --association, --district or --track at a time", code=2)
    settings = Settings()
    try:
        token = (
            token_for(settings, "reporting", "dn-reporting-export")
            if os.environ.get("DN_TOKEN")
            else issue_token(
                settings,
                audience,
                association_id=association,
                subject="dn-reporting-export",
                audience="reporting",
            )
        )
    except AuthError as error:
        return fail(f"{error}; set DN_TOKEN to a token the platform accepts", code=2)
    base = settings.service_url("reporting")
    params = {"lang": lang}
    for name, value in (("association_id", association), ("district_id", district)):
        if value:
            params[name] = value
    if track:
        params["track"] = track
    try:
        response = httpx.get(
            base + route_of(format, breakdown),
            params=params,
            headers={"authorization": f"Bearer {token}"},
            timeout=120,
        )
    except httpx.TransportError as error:
        return fail(
            f"the reporting service at {base} does not answer ({error}); start the platform "
            "with `make up` (or `dn up`)",
            code=2,
        )
    if response.status_code != 200:
        try:
            reason = response.json().get("error", response.text)
        except ValueError:
            reason = response.text
        return fail(
            f"the reporting service refused the export ({response.status_code}): {reason}", 1
        )
    target = out / _filename(response, format) if out.is_dir() else out
    try:
        target.write_bytes(response.content)
    except OSError as error:
        return fail(f"cannot write {target}: {error}", code=2)
    suppressed = response.headers.get("x-dn-suppressed") == "true"
    audience_note = "small counts shown as <5" if suppressed else "exact figures"
    console.print(Text(f"wrote {target} ({len(response.content):,} bytes, {audience_note})"))
    return 0


def _filename(response: httpx.Response, format: str) -> str:
    found = re.search(r'filename="([^"/\\]+)"', response.headers.get("content-disposition", ""))
    return found.group(1) if found else f"impact.{format}"
