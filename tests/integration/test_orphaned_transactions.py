"""A transaction left open by a process killed in the middle of it (SIGKILL) no longer holds up
the process that replaces it: MongoDB keeps such a transaction, and its locks, for 60 to 90 s;
kit.mongo aborts it as soon as its connection is gone (found by the short chaos run in CI: the
restarted training service waited 68 s at its first index operation, and a restarted reporting
stood still past the harness's minute of patience, ~450 attendance events short)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from kit.mongo import Document, Session, abort_orphaned_transactions, in_transaction
from tests.conftest import TestInfra
from tests.integration.test_reporting_crash import ReportingProcess
from tests.support import eventually

pytestmark = pytest.mark.integration

# A process that opens a transaction writing one document of a collection, says so, then dies
# (SIGKILL, no chance to abort it) or stays alive holding it.
HOLDER = """
import os, signal, sys, time
from pymongo import MongoClient
url, app, database, collection, then = sys.argv[1:]
client = MongoClient(url, appname=app)
target = client[database][collection]
session = client.start_session()
session.start_transaction()
target.insert_one({"_id": "held"}, session=session)
print("open", flush=True)
if then == "die":
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(600)
"""


class Holder:
    def __init__(self, url: str, app: str, database: str, collection: str, then: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, url, app, database, collection, then],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"open"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.kill()


async def fresh_collection(mongo: AsyncMongoClient[Document]) -> tuple[str, str]:
    database = f"orphans{uuid4().hex[:8]}"
    await mongo[database].create_collection("facts")
    return database, "facts"


async def test_a_killed_process_transaction_is_aborted_and_no_longer_holds_its_documents(
    infra: TestInfra, mongo: AsyncMongoClient[Document]
) -> None:
    app = f"dn-test-{uuid4().hex[:8]}"  # no running service looks for its orphans
    database, name = await fresh_collection(mongo)
    dead = Holder(infra.mongodb_url, app, database, name, "die")
    dead.process.wait(timeout=10)

    # The server learns that the dead process's connection closed a moment after it died (a
    # fresh-clone CI run once asked first): aborted once it knows, well before its own limit.
    aborted = await eventually(
        lambda: abort_orphaned_transactions(mongo, app),
        lambda count: count != 0,
        timeout_s=10,
        what="the dead process's transaction aborted",
    )
    assert aborted == 1

    async def write_the_same_document(session: Session) -> None:
        await mongo[database][name].insert_one({"_id": "held"}, session=session)

    # Without the abort, both would wait for the server's own limit (60 to 90 s).
    started = time.monotonic()
    await asyncio.wait_for(in_transaction(mongo, write_the_same_document), 15)
    await asyncio.wait_for(mongo[database][name].create_index("at"), 15)
    assert time.monotonic() - started < 15
    assert await abort_orphaned_transactions(mongo, app) == 0


async def test_a_live_process_transaction_is_left_alone(
    infra: TestInfra, mongo: AsyncMongoClient[Document], holders: list[Holder]
) -> None:
    app = f"dn-test-{uuid4().hex[:8]}"
    database, name = await fresh_collection(mongo)
    live = Holder(infra.mongodb_url, app, database, name, "live")
    holders.append(live)
    elsewhere = Holder(infra.mongodb_url, f"{app}-other", database, "others", "die")
    elsewhere.process.wait(timeout=10)

    assert await abort_orphaned_transactions(mongo, app) == 0  # its connection is open

    live.kill()
    assert await abort_orphaned_transactions(mongo, app) == 1
    assert await abort_orphaned_transactions(mongo, f"{app}-other") == 1  # not touched before


async def test_a_service_restarted_after_a_kill_mid_transaction_is_up_in_seconds(
    infra: TestInfra, mongo: AsyncMongoClient[Document], tmp_path: Path
) -> None:
    """The process it replaces died inside a transaction on its log (the outbox): its first
    index operation would wait for that transaction's lock until the server dropped it."""
    reporting = ReportingProcess(infra, tmp_path, f"orphan{uuid4().hex[:6]}_")
    database = f"{reporting.env['DN_DATABASE_PREFIX']}reporting"
    await mongo[database].create_collection("outbox")
    dead = Holder(infra.mongodb_url, "dn-reporting", database, "outbox", "die")
    dead.process.wait(timeout=10)

    started = time.monotonic()
    reporting.start()
    try:
        await eventually(reporting.healthy, bool, timeout_s=45, what="reporting up")
    finally:
        reporting.kill()
    # A new consumer group takes ~5 s on the embedded broker; the held lock took 60 to 90 s.
    assert time.monotonic() - started < 45
