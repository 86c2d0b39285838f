"""Keyset pages over a MongoDB collection: a filter, a sort field, and the position to read after.

A position is the sort value and the ``_id`` of the last record a caller saw, as JSON text
(``["2026-03-01T09:00:00+00:00", "id"]``): reading after it neither repeats nor skips a record,
however many records arrive meanwhile. Services answer a ``contracts.api.Page`` (``total``,
``has_next``, ``edges`` of ``position`` and ``node``); the gateway wraps positions into opaque
GraphQL cursors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from contracts import api
from contracts.api import Node
from contracts.errors import FieldError, InvalidInput
from kit.mongo import Document

MAX_PAGE = 200


@dataclass(frozen=True)
class Position:
    value: datetime
    id: str

    def text(self) -> str:
        return json.dumps([self.value.isoformat(), self.id])


def parse_position(text: str | None) -> Position | None:
    """The position a caller sent as ``after``; refused with a message naming ``after``."""
    if text is None or text == "":
        return None
    try:
        value, record_id = json.loads(text)
        when = datetime.fromisoformat(value)
    except (ValueError, TypeError) as error:
        raise InvalidInput(
            FieldError("after", "not a position this list gave; start again without after")
        ) from error
    if when.tzinfo is None or not isinstance(record_id, str):
        raise InvalidInput(
            FieldError("after", "not a position this list gave; start again without after")
        )
    return Position(when, record_id)


def check_first(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(FieldError("first", f"must be between 1 and {MAX_PAGE}"))


@dataclass(frozen=True)
class Page:
    """The documents of one page, the total matching the filter, and whether more follow."""

    documents: list[Document]
    positions: list[str]
    total: int
    has_next: bool

    def answer(self, nodes: list[Node]) -> api.Page[Node]:
        """The page as a route answers it, ``nodes`` being the documents' views in order."""
        edges = [
            api.Edge[Node](position=position, node=node)
            for position, node in zip(self.positions, nodes, strict=True)
        ]
        return api.Page[Node](total=self.total, has_next=self.has_next, edges=edges)


async def read_page(
    collection: AsyncCollection[Document],
    query: dict[str, Any],
    field: str,
    after: Position | None,
    first: int,
) -> Page:
    """One page of ``query`` in (``field``, ``_id``) order after ``after``, with the total."""
    check_first(first)
    total = await collection.count_documents(query)
    page_query = query
    if after is not None:
        page_query = {
            "$and": [
                query,
                {
                    "$or": [
                        {field: {"$gt": after.value}},
                        {field: after.value, "_id": {"$gt": after.id}},
                    ]
                },
            ]
        }
    cursor = collection.find(page_query).sort([(field, ASCENDING), ("_id", ASCENDING)])
    documents = await cursor.limit(first + 1).to_list()
    shown = documents[:first]
    return Page(
        documents=shown,
        positions=[Position(doc[field], str(doc["_id"])).text() for doc in shown],
        total=total,
        has_next=len(documents) > first,
    )
