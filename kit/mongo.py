"""The async MongoDB client (PyMongo's async API), the one transaction helper, and the clean-up
of transactions a killed process left open."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern

from kit.telemetry import instrument_libraries

T = TypeVar("T")
Document = dict[str, Any]
Session = AsyncClientSession
log = logging.getLogger(__name__)

# How often a service looks for transactions its dead processes left open (see below).
ORPHANS_EVERY_S = 10.0


def connect(url: str, app_name: str | None = None) -> AsyncMongoClient[Document]:
    """A client for the current event loop; instrumentation must be registered before it exists.
    ``app_name`` names the process to the server (each service's processes share one), which
    is how :func:`abort_orphaned_transactions` finds what a dead one left open."""
    instrument_libraries()
    options: dict[str, Any] = {"appname": app_name} if app_name else {}
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=10_000, **options)


# The transaction a batch of work shares (kit.intake applies a whole batch of partner requests
# in one): set, every transaction this task opens joins it instead of committing on its own.
_shared: ContextVar[SharedBatch | None] = ContextVar("dn_shared_transaction", default=None)


@dataclass
class SharedBatch:
    """A batch's transaction and the inserts its requests deferred to its end: the outbox
    records, processed ids and access-log entries of hundreds of requests reach MongoDB as one
    insert per collection instead of one per request."""

    session: Session
    inserts: dict[str, tuple[AsyncCollection[Document], list[Document]]] = field(
        default_factory=dict
    )

    def defer(self, collection: AsyncCollection[Document], documents: list[Document]) -> None:
        _, pending = self.inserts.setdefault(collection.full_name, (collection, []))
        pending.extend(documents)

    async def flush(self) -> None:
        """Write what was deferred, each collection's documents in the order they came (a
        duplicate ``_id`` fails the batch as it would have failed the request)."""
        inserts, self.inserts = self.inserts, {}
        for collection, documents in inserts.values():
            await collection.insert_many(documents, session=self.session)


@contextlib.asynccontextmanager
async def sharing(session: Session) -> AsyncIterator[None]:
    """Within this block, :func:`in_transaction` runs its work in ``session``'s transaction,
    and :func:`insert_in` defers its inserts to the end of the block (written when it ends
    without error, before the transaction commits)."""
    batch = SharedBatch(session)
    token = _shared.set(batch)
    try:
        yield
        await batch.flush()
    finally:
        _shared.reset(token)


def shared_session() -> Session | None:
    """The transaction a batch shares in this task, if any (for writes that take no session)."""
    batch = _shared.get()
    return batch.session if batch is not None else None


async def insert_in(
    collection: AsyncCollection[Document], documents: list[Document], session: Session | None
) -> None:
    """Insert ``documents`` in ``session``'s transaction (None: on their own): now, or with the
    rest of the batch when the session is a batch's shared transaction (:func:`sharing`). Only
    for documents the transaction does not read back before it commits (outbox records,
    processed ids, access-log entries)."""
    if not documents:
        return
    batch = _shared.get()
    if session is not None and batch is not None and batch.session is session:
        batch.defer(collection, documents)
        return
    await collection.insert_many(documents, session=session)


async def in_transaction(
    client: AsyncMongoClient[Document], work: Callable[[Session], Awaitable[T]]
) -> T:
    """Run ``work`` in one majority-committed transaction, retried on transient errors; inside
    :func:`sharing`, in the shared transaction (committed with the rest of the batch)."""
    shared = shared_session()
    if shared is not None and shared.client is client:
        return await work(shared)
    async with client.start_session() as session:
        return await session.with_transaction(
            work,
            read_concern=ReadConcern("snapshot"),
            write_concern=WriteConcern("majority"),
        )


async def abort_orphaned_transactions(
    client: AsyncMongoClient[Document], app_name: str
) -> int | None:
    """Abort the open transactions of ``app_name``'s processes whose connection is gone; returns
    how many, or None when the server does not allow it (then its own time limit applies).

    MongoDB does not end a transaction when its client dies (SIGKILL, a crash): it keeps it, with
    its locks and uncommitted writes, until ``transactionLifetimeLimitSeconds`` has passed (60 s,
    checked every 30 s). Meanwhile the process restarted in its place waits behind it: its first
    index operation waits for the collection's lock, and every transaction writing the same
    documents (a projection's counters) meets a write conflict and retries. A transaction whose
    client connection is closed can never commit, so it is aborted now; aborting is always safe
    (a live client whose connection dropped finds its transaction gone and runs it again). On a
    server with access control this needs the ``inprog`` and ``killAnySession`` privileges."""
    try:
        cursor = await client.admin.aggregate(
            [
                {"$currentOp": {"allUsers": True, "idleConnections": True, "idleSessions": True}},
                {"$match": {"$or": [{"type": "op"}, {"type": "idleSession", "appName": app_name}]}},
                {
                    "$project": {
                        "type": 1,
                        "connectionId": 1,
                        "lsid.id": 1,
                        "open": {"$gt": ["$transaction", None]},
                    }
                },
            ]
        )
        found = await cursor.to_list()
    except OperationFailure as error:
        log.warning("cannot look for transactions left open by stopped processes: %s", error)
        return None
    # Every connection open now, idle ones included: a session whose last connection is not
    # among them has lost its client (the kernel closes a killed process's sockets at once).
    connections = {op.get("connectionId") for op in found if op["type"] == "op"}
    orphans = [
        {"id": op["lsid"]["id"]}
        for op in found
        if op["type"] == "idleSession" and op["open"] and op.get("connectionId") not in connections
    ]
    if orphans:
        try:
            await client.admin.command("killSessions", orphans)
        except OperationFailure as error:
            log.warning("cannot abort transactions left open by stopped processes: %s", error)
            return None
        log.warning(
            "aborted %d transactions a stopped %s process left open", len(orphans), app_name
        )
    return len(orphans)


async def abort_orphaned_transactions_forever(
    client: AsyncMongoClient[Document], app_name: str, every_s: float = ORPHANS_EVERY_S
) -> None:
    """:func:`abort_orphaned_transactions` every ``every_s`` while the server allows it: another
    process of the service that dies while this one runs holds this one up too."""
    while True:
        await asyncio.sleep(every_s)
        try:
            if await abort_orphaned_transactions(client, app_name) is None:
                return
        except PyMongoError as error:  # MongoDB away: the next turn looks again
            log.debug("looking for transactions left open failed: %s", error)
