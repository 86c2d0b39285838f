"""Before ``dn up`` starts anything: is a platform already running on this home or its ports?

A second ``dn up`` in another terminal used to read the first one's ``/healthz``, say it was
up, start four services that could not bind their ports and fail. Now ``dn up`` claims its home
with a small file holding its pid and addresses, and checks every port it is about to use; when
either is taken it says by what and touches nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dn.infra import process_alive
from kit.settings import SERVICE_NAMES, Settings

CLAIM_FILE = "dn-up.json"


@dataclass(frozen=True)
class RunningPlatform:
    """The ``dn up`` already running on this home."""

    pid: int
    started: str
    gateway_url: str

    def message(self, home: Path) -> str:
        return (
            f"Digital Neighbourhoods is already running on this home ({home}): dn up, pid "
            f"{self.pid}, started {self.started}; dashboard {self.gateway_url}/\n"
            f"Use that one, or stop it first (Ctrl-C in its terminal, or `kill {self.pid}`); "
            "for a second platform beside it, set DN_HOME and the DN_*_PORT settings."
        )


@dataclass(frozen=True)
class BusyPort:
    what: str  # the process that would listen there
    port: int
    setting: str  # the environment variable that moves it

    def message(self) -> str:
        return f"port {self.port} ({self.what}) is taken by another program; set {self.setting}"


def running_here(home: Path) -> RunningPlatform | None:
    """The ``dn up`` that claimed ``home`` and still runs; None when there is none (a claim left
    by one that was killed outright is stale and ignored)."""
    try:
        claim = json.loads((home / CLAIM_FILE).read_text())
        pid = int(claim["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid() or not process_alive(pid):
        return None
    return RunningPlatform(pid, str(claim.get("started", "?")), str(claim.get("gateway_url", "")))


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def busy_ports(settings: Settings, *, start_mongodb: bool, start_kafka: bool) -> list[BusyPort]:
    """Ports ``dn up`` is about to listen on that something else holds. The embedded MongoDB
    and broker count only when they are to be started now (an instance of this home that
    ``dn infra up`` started is reused, not refused)."""
    wanted = [("gateway", settings.gateway_port, "DN_GATEWAY_PORT")]
    wanted += [
        (name, settings.service_port(name), f"DN_{name.upper()}_PORT") for name in SERVICE_NAMES
    ]
    if start_mongodb:
        wanted.append(("embedded MongoDB", settings.mongodb_port, "DN_MONGODB_PORT"))
    if start_kafka:
        wanted.append(("embedded broker", settings.kafka_port, "DN_KAFKA_PORT"))
    return [BusyPort(what, port, setting) for what, port, setting in wanted if _taken(port)]


@contextlib.contextmanager
def claim(settings: Settings) -> Iterator[None]:
    """Mark ``settings.home`` as run by this process for as long as the block lasts."""
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / CLAIM_FILE
    path.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                "gateway_url": settings.gateway_url,
            }
        )
    )
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
