"""Share links in GraphQL: coordinators create, list and revoke them; reporting keeps them. What
a link opens without a token (``GET /public/{id}``, ``/?share={id}``) is in public.py."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import strawberry

from contracts.api.reporting import ShareLinkView

from .context import Context
from .wire import path_segment


@strawberry.type(description="A read-only link to the public (anonymised) programme figures")
class ShareLink:
    id: strawberry.ID = strawberry.field(description="Random and unguessable: the link's secret")
    label: str
    path: str = strawberry.field(
        description="Where the figures are: /public/{id} (JSON; a browser is sent to the dashboard)"
    )
    dashboard_path: str = strawberry.field(
        description="The dashboard showing the link's figures, read-only, without a token: "
        "/?share={id} (append it to the gateway's address)"
    )
    created_by: str
    created_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool

    @classmethod
    def of(cls, answer: Any) -> ShareLink:
        """A share link from reporting's answer (contracts.api.reporting.ShareLinkView)."""
        link = ShareLinkView.model_validate(answer)
        return cls(
            id=strawberry.ID(link.id),
            label=link.label,
            path=f"/public/{link.id}",
            dashboard_path=dashboard_path(link.id),
            created_by=link.created_by,
            created_at=link.created_at,
            revoked_at=link.revoked_at,
            active=link.active,
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


def dashboard_path(link_id: str) -> str:
    """The dashboard opening a share link's figures (read-only, no token)."""
    return f"/?{urlencode({'share': link_id})}"
