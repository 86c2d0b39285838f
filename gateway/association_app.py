"""The associations' own app at /app/: one self-contained page (association_app.html) and the
service worker that keeps it for offline use (association_app_worker.js, at /app/sw.js so its
scope covers /app/)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .page_policy import content_security_policy

PAGE = Path(__file__).with_name("association_app.html")
WORKER = Path(__file__).with_name("association_app_worker.js")


def association_app_router() -> APIRouter:
    router = APIRouter()

    @router.get("/app", include_in_schema=False)
    async def app_without_slash() -> RedirectResponse:
        return RedirectResponse("/app/", status_code=308)

    @router.get("/app/", response_class=HTMLResponse)
    async def association_app() -> HTMLResponse:
        # The token stays in the address fragment or the tab's sessionStorage; the offline
        # queue in localStorage. no-cache: the service worker asks again whenever it can.
        page = PAGE.read_text(encoding="utf-8")
        return HTMLResponse(
            page,
            headers={
                "cache-control": "no-cache",
                "referrer-policy": "no-referrer",
                "content-security-policy": content_security_policy(page, worker=True),
                "x-content-type-options": "nosniff",
            },
        )

    @router.get("/app/sw.js")
    async def association_app_worker() -> Response:
        return Response(
            WORKER.read_text(encoding="utf-8"),
            media_type="text/javascript",
            headers={
                "cache-control": "no-cache",
                "content-security-policy": "default-src 'none'; connect-src 'self'",
                "x-content-type-options": "nosniff",
            },
        )

    return router
