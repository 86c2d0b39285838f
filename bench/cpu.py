"""CPU seconds each process of one platform has used, read from /proc (Linux only): what a run
cost, process by process, so a throughput figure comes with where the machine's time went.

The platform is the one ``settings`` address: its MongoDB and broker by the ports of their
resolved addresses on their command lines, its services and gateway by the DN_HOME in their
environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from kit.settings import Settings

PROC = Path("/proc")
# The services and the gateway by the module each process runs.
MODULES = {
    "services.registration.app": "registration",
    "services.training.app": "training",
    "services.orientation.app": "orientation",
    "services.reporting.app": "reporting",
    "gateway.app": "gateway",
}
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def platform_cpu_s(settings: Settings) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process of the platform, by role;
    empty where /proc cannot be read."""
    home = str(settings.home.resolve())
    ports = (_port_of(settings.resolved_mongodb_url), _port_of(settings.resolved_kafka_bootstrap))
    used: dict[str, float] = {}
    if not PROC.is_dir():
        return used
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            role = _role(command, ports, home, entry)
            if role is None:
                continue
            # Fields after the command name in parentheses: utime and stime are the 12th and
            # 13th of them (man proc: /proc/pid/stat fields 14 and 15).
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            used[role] = used.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS_PER_S
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile, or is not ours to read
    return used


def _port_of(address: str) -> int | None:
    """The (first) port of a MongoDB URL or a bootstrap list (``host:port,…``)."""
    first = address.split(",")[0]
    try:
        return urlsplit(first if "://" in first else f"//{first}").port
    except ValueError:
        return None


def _role(
    command: list[bytes], ports: tuple[int | None, int | None], home: str, entry: Path
) -> str | None:
    words = [part.decode(errors="replace") for part in command if part]
    if not words:
        return None
    program = Path(words[0]).name
    mongodb, broker = ports
    if program == "mongod" and str(mongodb) in words:
        return "mongodb"
    if program == "tansu" and any(w.endswith(f":{broker}") for w in words):
        return "broker"
    module = next((MODULES[w] for w in words if w in MODULES), None)
    if module is None:
        return None
    environment = (entry / "environ").read_bytes().split(b"\0")
    return module if f"DN_HOME={home}".encode() in environment else None


def used_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each role used between two readings, rounded to 10 ms."""
    return {
        role: round(after[role] - before.get(role, 0.0), 2)
        for role in sorted(after)
        if after[role] - before.get(role, 0.0) > 0
    }
