"""Runs the platform's processes (four services and the gateway) and stops them cleanly."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kit.settings import SERVICE_NAMES, Settings

MODULES = {
    **{name: f"services.{name}.app" for name in SERVICE_NAMES},
    "gateway": "gateway.app",
}
STOP_GRACE_S = 10.0


def free_port() -> int:
    """A port nothing listens on now (the OS picks it), for a platform of its own."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_process_ports() -> dict[str, Any]:  # Any: spread into Settings(...)
    """``Settings`` keywords giving every process (each service and the gateway) a free port."""
    return {f"{name}_port": free_port() for name in MODULES}


class PlatformError(RuntimeError):
    """A process did not start or died; the message names it and points at its log."""


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor is killed outright: no orphans. The kernel ties
    this to the thread that forked the child, not to the process (see ``start_one``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_environment(settings: Settings, mongodb_url: str, kafka_bootstrap: str) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"DN_{name.upper()}"] = str(value)
    env["DN_HOME"] = str(settings.home.resolve())
    env["DN_MONGODB_URL"] = mongodb_url
    env["DN_KAFKA_BOOTSTRAP"] = kafka_bootstrap
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Platform:
    settings: Settings
    mongodb_url: str
    kafka_bootstrap: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.settings.home / "logs"

    def start(self, names: tuple[str, ...] = tuple(MODULES)) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = child_environment(self.settings, self.mongodb_url, self.kafka_bootstrap)
        for name in names:
            self.start_one(name, env)

    def start_one(self, name: str, env: dict[str, str] | None = None) -> None:
        """Start (or restart) one process. Call it from a thread that lives as long as the
        platform: the child gets SIGTERM when the *thread* that started it ends."""
        env = env or child_environment(self.settings, self.mongodb_url, self.kafka_bootstrap)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", MODULES[name]],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                preexec_fn=_die_with_parent,
                # A group of its own: Ctrl-C in the terminal reaches only the supervisor, which
                # closes intake and drains before it stops the processes (see dn/drain.py).
                process_group=0,
            )

    def dead(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def wait_healthy(self, timeout_s: float = 60.0) -> float:
        """Wait until the gateway reports every service healthy; returns the seconds taken."""
        started = time.monotonic()
        url = f"{self.settings.gateway_url}/healthz"
        while time.monotonic() - started < timeout_s:
            if dead := self.dead():
                raise PlatformError(self._died_message(dead))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.25)
        raise PlatformError(
            f"the platform was not healthy within {timeout_s:.0f} s; see the logs in {self.log_dir}"
        )

    def _died_message(self, names: list[str]) -> str:
        lines = []
        for name in names:
            log = self.log_dir / f"{name}.log"
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            lines.append(f"{name} exited ({log}):\n  " + "\n  ".join(tail))
        return "\n".join(lines)

    def stop(self, names: tuple[str, ...] | None = None) -> None:
        """Stop the processes named (all by default): SIGTERM, then SIGKILL after a grace."""
        stopping = {
            name: process
            for name, process in self.processes.items()
            if names is None or name in names
        }
        for process in stopping.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for name, process in stopping.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            del self.processes[name]

    def kill(self, name: str) -> None:
        """SIGKILL one process (fault tests)."""
        process = self.processes[name]
        process.kill()
        process.wait()


@contextlib.contextmanager
def running(platform: Platform, timeout_s: float = 60.0) -> Iterator[Platform]:
    platform.start()
    try:
        platform.wait_healthy(timeout_s)
        yield platform
    finally:
        platform.stop()
