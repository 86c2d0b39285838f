"""A whole platform of its own for one benchmark: embedded MongoDB and broker on free ports, the
four services and the gateway on free ports, in a temporary DN_HOME, without demo data.

Nothing is shared with `make up` or a test run going on at the same time on this machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dn.infra import EmbeddedInfra
from dn.platform import Platform, child_environment, free_port, free_process_ports, running
from kit.auth import Role, issue_token
from kit.settings import Settings

START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Stack:
    settings: Settings
    mongodb_url: str
    kafka_bootstrap: str

    @property
    def gateway_url(self) -> str:
        return self.settings.gateway_url

    def token(self, role: Role = Role.COORDINATOR) -> str:
        return issue_token(self.settings, role)

    def environment(self) -> dict[str, str]:
        """DN_* variables that make `dn` and the bench scripts address this platform."""
        return child_environment(self.settings, self.mongodb_url, self.kafka_bootstrap)


def bench_settings(home: Path) -> Settings:
    return Settings(
        home=home,
        mongodb_port=free_port(),
        kafka_port=free_port(),
        **free_process_ports(),
        jwt_secret="bench-signing-key-" + os.urandom(16).hex(),
        demo=False,
        log_level="WARNING",
    )


@contextlib.contextmanager
def embedded_infra() -> Iterator[tuple[Settings, str, str]]:
    """(settings, MongoDB URL, bootstrap) of embedded infrastructure started for the caller."""
    home = Path(tempfile.mkdtemp(prefix="dn-bench-"))
    settings = bench_settings(home)
    infra = EmbeddedInfra(settings)
    try:
        status, _ = infra.up()
        # The services and the CLI read these (a Settings() made in a child process).
        settings = settings.model_copy(
            update={"mongodb_url": status.mongodb_url, "kafka_bootstrap": status.kafka_bootstrap}
        )
        yield settings, status.mongodb_url, status.kafka_bootstrap
    finally:
        infra.down()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def platform_stack() -> Iterator[Stack]:
    """Infrastructure, then every process of the platform, healthy; all stopped on exit."""
    with embedded_infra() as (settings, mongodb_url, bootstrap):
        platform = Platform(settings, mongodb_url, bootstrap)
        with running(platform, START_TIMEOUT_S):
            yield Stack(settings, mongodb_url, bootstrap)
