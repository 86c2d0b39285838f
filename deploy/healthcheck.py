"""Container health check: GET /healthz on the port of the process this container runs.

PID 1 is ``python -m services.<name>.app`` or ``python -m gateway.app``; its port comes from the
same ``DN_*`` settings the process reads. Exit 0 when healthy, 1 otherwise."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from kit.settings import SERVICE_NAMES, get_settings


def main() -> int:
    argv = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    module = next((a.decode() for a in argv if a.endswith(b".app")), "gateway.app")
    name = module.split(".")[-2] if module.startswith("services.") else "gateway"
    settings = get_settings()
    port = settings.service_port(name) if name in SERVICE_NAMES else settings.gateway_port
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as answer:
            return 0 if answer.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
