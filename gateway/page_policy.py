"""The content security policy of the pages the gateway serves (the dashboard at /, the
associations' app at /app/): built from the hashes of each page's own inline blocks."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi.responses import HTMLResponse


def content_security_policy(page: str, *, worker: bool = False) -> str:
    """Only the page's own inline script and style run (by hash), it talks only to this
    gateway (GraphQL over HTTP and websocket), and nothing may frame it: a token in the tab
    cannot be sent anywhere else, even by injected markup. ``worker`` lets the page register
    this gateway's own service worker (the app's offline copy), nothing else."""

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
            for b in blocks
        )

    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        + ("worker-src 'self'; manifest-src 'none'; " if worker else "")
        + "frame-ancestors 'none'"
    )


def page_response(path: Path, *, worker: bool = False) -> HTMLResponse:
    """One self-contained page with its policy. The token stays in the address fragment or the
    tab's sessionStorage, never in a referrer; no-cache: a browser (or the app's service
    worker) asks again whenever it can."""
    page = path.read_text(encoding="utf-8")
    return HTMLResponse(
        page,
        headers={
            "cache-control": "no-cache",
            "referrer-policy": "no-referrer",
            "content-security-policy": content_security_policy(page, worker=worker),
            "x-content-type-options": "nosniff",
        },
    )
