"""The associations' own app at /app/: one self-contained page (association_app.html) and the
service worker that keeps it for offline use (association_app_worker.js, at /app/sw.js so its
scope covers /app/)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .page_policy import page_response

PAGE = Path(__file__).with_name("association_app.html")
WORKER = Path(__file__).with_name("association_app_worker.js")


def association_app_router() -> APIRouter:
    router = APIRouter()

    @router.get("/app", include_in_schema=False)
    async def app_without_slash() -> RedirectResponse:
        return RedirectResponse("/app/", status_code=308)

    @router.get("/app/", response_class=HTMLResponse)
    async def association_app() -> HTMLResponse:
        # The offline queue (only it) is kept in localStorage.
        return page_response(PAGE, worker=True)

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
