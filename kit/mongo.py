"""The async MongoDB client (PyMongo's async API) and the one transaction helper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.read_concern import ReadConcern

from kit.telemetry import instrument_libraries

T = TypeVar("T")
Document = dict[str, Any]
Session = AsyncClientSession


def connect(url: str) -> AsyncMongoClient[Document]:
    """A client for the current event loop; instrumentation must be registered before it exists."""
    instrument_libraries()
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=10_000)


async def in_transaction(
    client: AsyncMongoClient[Document], work: Callable[[Session], Awaitable[T]]
) -> T:
    """Run ``work`` in one majority-committed transaction, retried on transient errors."""
    async with client.start_session() as session:
        return await session.with_transaction(
            work,
            read_concern=ReadConcern("snapshot"),
            write_concern=WriteConcern("majority"),
        )
