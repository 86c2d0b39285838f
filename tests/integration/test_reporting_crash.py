"""The reporting process killed (SIGKILL) in the middle of a stream, then restarted: the
figures equal a from-scratch computation of every event (nothing lost, nothing counted twice)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from kit.mongo import Document
from services.reporting.store import Versions
from tests.conftest import TestInfra, free_port
from tests.histories import from_scratch
from tests.integration.conftest import Projection
from tests.integration.test_reporting_rebuild import (
    counters_in,
    programme,
    scope_counters,
    send,
)
from tests.support import eventually

pytestmark = pytest.mark.integration


class ReportingProcess:
    """The real reporting service (python -m services.reporting.app) on its own database."""

    def __init__(self, infra: TestInfra, home: Path, prefix: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "DN_MONGODB_URL": infra.mongodb_url,
            "DN_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "DN_DATABASE_PREFIX": prefix,
            "DN_REPORTING_PORT": str(self.port),
            "DN_HOME": str(home),
            "DN_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.reporting.app"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def healthy(self) -> bool:
        try:
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return answer.status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture
def reporting(infra: TestInfra, tmp_path: Path) -> Iterator[ReportingProcess]:
    process = ReportingProcess(infra, tmp_path, f"crash{uuid4().hex[:6]}_")
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()


async def test_figures_equal_the_ground_truth_after_a_kill_mid_stream_and_a_restart(
    reporting: ReportingProcess, projection: Projection, mongo: AsyncMongoClient[Document]
) -> None:
    versions = Versions(mongo[f"{reporting.env['DN_DATABASE_PREFIX']}reporting"])
    association = f"asso-{uuid4().hex[:8]}"
    scope = f"association:{association}"
    deliveries = programme(association, [uuid4() for _ in range(120)])
    chunks = [deliveries[n : n + 40] for n in range(0, len(deliveries), 40)]
    # The process reads the shared topics from the start: other tests' events count too.
    mine = list({str(d.ce.id) for d in deliveries})

    async def processed() -> int:
        store = await versions.active_store()
        return await store.processed.count_documents({"_id": {"$in": mine}})

    reporting.start()
    await eventually(reporting.healthy, bool, timeout_s=60, what="reporting up")
    await send(projection, chunks[0])
    applied_before_kill = await eventually(
        processed, lambda n: n > 0, timeout_s=90, what="first events applied"
    )
    await send(projection, chunks[1])
    reporting.kill()  # mid-stream: the second chunk is in flight or half applied
    for chunk in chunks[2:]:
        await send(projection, chunk)
    await send(projection, chunks[1][:10])  # and some delivered again
    reporting.start()

    expected = scope_counters(from_scratch(deliveries), scope)

    async def figures() -> dict[tuple[str | None, str | None, str], int]:
        return await counters_in(await versions.active_store(), scope)

    try:
        final = await eventually(figures, lambda f: f == expected, timeout_s=120, what="truth")
    except AssertionError:
        found = await figures()
        differences = {
            key: (found.get(key), expected.get(key))
            for key in {*found, *expected}
            if found.get(key) != expected.get(key)
        }
        raise AssertionError(f"(found, expected) where they differ: {differences}") from None
    assert applied_before_kill < len(mine), "the kill came before the stream was applied"
    assert final[(None, None, "enrolled")] == 119  # one of the 120 records merged
    assert await processed() == len(mine)
