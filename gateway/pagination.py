"""Relay-style connections: opaque cursors over the services' keyset positions, page info, and
one function that reads a page from a service."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import strawberry

from contracts.api import Answer, Page

from .services import UserInputError

if TYPE_CHECKING:
    from .context import Context

MAX_FIRST = 100
DEFAULT_FIRST = 20

Node = TypeVar("Node")
Row = TypeVar("Row", bound=Answer)  # what the service's page holds (a model of contracts/api)


@strawberry.type(description="Where a page stands in its list")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to read the next page; null on an empty page"
    )


@strawberry.type(description="One item of a page and the cursor just after it")
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type(
    description="One page of a list: `edges`, `pageInfo` to read on, and `totalCount` (items "
    "matching the filter, all pages)"
)
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo
    total_count: int


def encode_cursor(kind: str, position: str) -> str:
    """An opaque cursor: the list it belongs to and the service's position in it."""
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    """The service position a cursor holds; a cursor from another list, or made up, is a
    user error naming ``after``."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix = f"{kind}:"
    if not text.startswith(prefix) or len(text) == len(prefix):
        message = f"after: not a cursor of this {kind} list; start again without after"
        raise UserInputError(message, [{"field": "after", "message": message}])
    return text[len(prefix) :]


def check_first(first: int) -> None:
    if not 1 <= first <= MAX_FIRST:
        message = f"first: must be between 1 and {MAX_FIRST}"
        raise UserInputError(message, [{"field": "first", "message": message}])


def connection_of(kind: str, answer: Page[Row], node: Callable[[Row], Node]) -> Connection[Node]:
    """A service's page answer (``kit.paging``) as a GraphQL connection."""
    edges = [
        Edge(cursor=encode_cursor(kind, edge.position), node=node(edge.node))
        for edge in answer.edges
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=answer.has_next, end_cursor=edges[-1].cursor if edges else None
        ),
        total_count=answer.total,
    )


async def read_connection(
    context: Context,
    service: str,
    path: str,
    kind: str,
    filters: dict[str, str | None],
    first: int,
    after: str | None,
    page: type[Page[Row]],
    node: Callable[[Row], Node],
) -> Connection[Node]:
    """One page of a service's list (its contract ``page``): ``filters`` (unset ones left
    out), ``first`` items after the cursor ``after``, each made a GraphQL ``node``."""
    check_first(first)
    params = {name: value for name, value in filters.items() if value is not None}
    params["first"] = str(first)
    if after:
        params["after"] = decode_cursor(kind, after)
    answer = await context.services.answer(
        page, service, "GET", path, authorization=context.authorization, params=params
    )
    return connection_of(kind, answer, node)
