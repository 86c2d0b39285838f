"""Share links in GraphQL (coordinators create, list and revoke them; reporting keeps them) and
the public figures a link opens at ``GET /public/{id}``, without a token."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import strawberry

from kit.auth import GATEWAY, service_token
from kit.settings import Settings

from .context import Context
from .wire import parse_datetime, path_segment


@strawberry.type(description="A read-only link to the public (anonymised) programme figures")
class ShareLink:
    id: strawberry.ID = strawberry.field(description="Random and unguessable: the link's secret")
    label: str
    path: str = strawberry.field(description="Where the figures are: /public/{id} (JSON)")
    created_by: str
    created_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool

    @classmethod
    def of(cls, row: dict[str, Any]) -> ShareLink:
        return cls(
            id=strawberry.ID(row["id"]),
            label=row["label"],
            path=f"/public/{row['id']}",
            created_by=row["created_by"],
            created_at=parse_datetime(row["created_at"]),
            revoked_at=parse_datetime(row.get("revoked_at")),
            active=row["active"],
        )


async def share_links(context: Context) -> list[ShareLink]:
    rows = await context.services.call(
        "reporting", "GET", "/share-links", authorization=context.authorization
    )
    return [ShareLink.of(row) for row in rows]


async def create_share_link(context: Context, label: str) -> ShareLink:
    row = await context.services.call(
        "reporting",
        "POST",
        "/share-links",
        authorization=context.authorization,
        json={"label": label},
    )
    return ShareLink.of(row)


async def revoke_share_link(context: Context, link_id: strawberry.ID) -> ShareLink:
    row = await context.services.call(
        "reporting",
        "DELETE",
        f"/share-links/{path_segment(link_id)}",
        authorization=context.authorization,
        missing_field="id",
    )
    return ShareLink.of(row)


async def public_figures(settings: Settings, link_id: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON of ``GET /public/{id}``: the figures as funders see them (200), or
    404 for an unknown or revoked link (no detail), or 503 when reporting does not answer."""
    if not link_id or len(link_id) > 100:
        return 404, {"error": "no such share link"}
    token = service_token(settings, GATEWAY, "reporting")
    try:
        async with httpx.AsyncClient(base_url=settings.service_url("reporting")) as client:
            response = await client.get(
                f"/share-links/{path_segment(link_id)}/impact",
                headers={"authorization": f"Bearer {token}"},
                timeout=10.0,
            )
    except httpx.HTTPError:
        return 503, {"error": "the figures are not available; try again shortly"}
    if response.status_code == 404:
        return 404, {"error": "no such share link (unknown or revoked)"}
    if response.status_code != 200:
        return 503, {"error": "the figures are not available; try again shortly"}
    answer: dict[str, Any] = response.json()
    return 200, answer
