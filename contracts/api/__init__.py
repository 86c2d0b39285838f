"""What the services' HTTP routes answer, as pydantic models both sides import: a service's
contract test checks its answers against them, and the gateway validates what it reads, so a
renamed or retyped field fails a test instead of a dashboard."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    """A service's answer as its reader takes it. Fields a service adds later are ignored (the
    reader is upgraded after the service); a field renamed, retyped or dropped is an error."""

    model_config = ConfigDict(extra="ignore", frozen=True)


Node = TypeVar("Node", bound=Answer)


class Edge(Answer, Generic[Node]):
    position: str  # kit.paging's keyset position: sent back as ``after`` to read on from here
    node: Node


class Page(Answer, Generic[Node]):
    """One page of a list in a stable order (``kit.paging``: ``GET /beneficiaries``,
    ``/sessions/page``, ``/placements``, ``/referrals``)."""

    total: int  # matching the filter, all pages
    has_next: bool
    edges: list[Edge[Node]]
