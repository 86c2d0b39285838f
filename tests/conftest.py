"""Real infrastructure for the integration and end-to-end tiers, started once per session.

``DN_TEST_INFRA=embedded`` (default) runs the mongod and Tansu wheels; ``containers`` runs
Apache Kafka and a MongoDB replica set on testcontainers, and skips where Docker is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from pymongo import AsyncMongoClient

from dn.infra import EmbeddedInfra, InfraError
from dn.platform import Platform, free_port, free_process_ports, running
from kit.mongo import Document, connect
from kit.settings import Settings

# Property tests check results, not speed: Hypothesis's default 200 ms deadline per example
# fails them on a loaded CI machine (two did, under load 10-15) though nothing is wrong.
hypothesis_settings.register_profile("dn", deadline=None)
hypothesis_settings.load_profile("dn")


@dataclass(frozen=True)
class TestInfra:
    __test__ = False

    mongodb_url: str
    kafka_bootstrap: str
    home: Path
    # DN_* variables that make `dn` address these same embedded instances (None: containers).
    embedded_env: dict[str, str] | None = None


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestInfra]:
    home = tmp_path_factory.mktemp("dn-home")
    mode = os.environ.get("DN_TEST_INFRA", "embedded")
    if mode == "containers":
        yield from _containers(home)
        return
    if mode != "embedded":
        pytest.fail(f"DN_TEST_INFRA={mode!r} is not a mode; use 'embedded' or 'containers'")
    ports = {"DN_MONGODB_PORT": str(free_port()), "DN_KAFKA_PORT": str(free_port())}
    embedded = EmbeddedInfra(
        Settings(
            home=home,
            mongodb_port=int(ports["DN_MONGODB_PORT"]),
            kafka_port=int(ports["DN_KAFKA_PORT"]),
        )
    )
    try:
        status, _ = embedded.up()
    except InfraError as error:
        pytest.fail(str(error))
    try:
        yield TestInfra(
            status.mongodb_url, status.kafka_bootstrap, home, {"DN_HOME": str(home), **ports}
        )
    finally:
        embedded.down()


def _containers(home: Path) -> Iterator[TestInfra]:
    try:
        import docker

        docker.from_env().ping()
    except Exception as error:
        pytest.skip(f"DN_TEST_INFRA=containers needs a reachable Docker engine ({error})")
    import asyncio

    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    from dn.infra import initiate_replica_set
    from kit.topics import ensure_topics

    # A plain MongoDB container is standalone (no transactions): run it as a one-node set.
    mongo = DockerContainer("mongo:7.0").with_command("--replSet rs0 --bind_ip_all")
    mongo.with_exposed_ports(27017)
    kafka = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft()
    with mongo, kafka:
        wait_for_logs(mongo, "Waiting for connections")
        host, port = mongo.get_container_host_ip(), int(mongo.get_exposed_port(27017))
        initiate_replica_set(host, port, member_host="127.0.0.1:27017")
        bootstrap = kafka.get_bootstrap_server()
        asyncio.run(ensure_topics(bootstrap, partitions=6, replication=1))
        yield TestInfra(f"mongodb://{host}:{port}/?directConnection=true", bootstrap, home)


PARKED_WAIT_S = 20.0


@pytest.fixture(scope="session")
def settings(infra: TestInfra) -> Settings:
    """Settings for in-process code and child processes, on free ports."""
    return Settings(
        home=infra.home,
        mongodb_url=infra.mongodb_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        **free_process_ports(),
        jwt_secret="test-signing-key-" + "x" * 32,
        trace_flush_ms=100,
        # Partner requests naming what never arrives are dead-lettered after this (7 days in
        # production), so tests of those refusals finish.
        parked_max_wait_s=PARKED_WAIT_S,
    )


@pytest.fixture(scope="session")
async def mongo(infra: TestInfra) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = connect(infra.mongodb_url)
    yield client
    await client.close()


# One running platform for the whole session, shared by the e2e and browser tiers (defined here,
# not in a tier's conftest: a fixture imported into two conftests would start twice).
@pytest.fixture(scope="session")
def platform(settings: Settings, infra: TestInfra) -> Iterator[Platform]:
    """Every process of the platform, started once and shared by the e2e and browser tiers."""
    with running(Platform(settings, infra.mongodb_url, infra.kafka_bootstrap), 90) as started:
        yield started


@pytest.fixture(scope="session")
def coordinator_token(settings: Settings) -> str:
    """A token from the `dn token` command, as a coordinator would get one."""
    dn = Path(sys.executable).with_name("dn")
    env = {"DN_HOME": str(settings.home), "DN_JWT_SECRET": settings.jwt_secret or "", "PATH": ""}
    result = subprocess.run(
        [str(dn), "token", "--role", "coordinator"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.fixture(scope="session")
def gateway(platform: Platform, coordinator_token: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {coordinator_token}"}
    with httpx.Client(base_url=platform.settings.gateway_url, headers=headers) as client:
        yield client
