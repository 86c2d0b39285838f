"""The async MongoDB client (PyMongo's async API) and the one transaction helper."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
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


# The transaction a batch of work shares (kit.intake applies a whole batch of partner requests
# in one): set, every transaction this task opens joins it instead of committing on its own.
_shared: ContextVar[Session | None] = ContextVar("dn_shared_transaction", default=None)


@contextlib.contextmanager
def sharing(session: Session) -> Iterator[None]:
    """Within this block, :func:`in_transaction` runs its work in ``session``'s transaction."""
    token = _shared.set(session)
    try:
        yield
    finally:
        _shared.reset(token)


def shared_session() -> Session | None:
    """The transaction a batch shares in this task, if any (for writes that take no session)."""
    return _shared.get()


async def in_transaction(
    client: AsyncMongoClient[Document], work: Callable[[Session], Awaitable[T]]
) -> T:
    """Run ``work`` in one majority-committed transaction, retried on transient errors; inside
    :func:`sharing`, in the shared transaction (committed with the rest of the batch)."""
    shared = _shared.get()
    if shared is not None and shared.client is client:
        return await work(shared)
    async with client.start_session() as session:
        return await session.with_transaction(
            work,
            read_concern=ReadConcern("snapshot"),
            write_concern=WriteConcern("majority"),
        )
