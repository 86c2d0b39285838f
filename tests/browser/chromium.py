"""Debian's Chromium for the browser tier: found at /usr/bin/chromium, or installed with apt-get
when missing and we are root (``python -m tests.browser.chromium``, run by ``make test``).
Playwright's own browser download cannot work on our machines, so it is never used."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root needs --no-sandbox; the rest keeps it off a network it cannot reach.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class ChromiumMissing(RuntimeError):
    pass


def ensure() -> Path:
    """The Chromium executable, installed from Debian's packages first if needed."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise ChromiumMissing(
            f"{CHROMIUM} is missing and this is not a Debian-like system: install Chromium "
            "so that /usr/bin/chromium exists to run the browser tests (tests/browser)"
        )
    if os.geteuid() != 0:
        raise ChromiumMissing(
            f"{CHROMIUM} is missing: run `sudo apt-get install -y chromium` "
            "(the browser tests need Debian's chromium; installing it needs root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("browser tests: installing Debian's chromium (apt-get)…", file=sys.stderr, flush=True)
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium"],  # recommends bring its fonts
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-15:]
            raise ChromiumMissing(
                f"`{' '.join(command)}` failed (exit {result.returncode}); the browser tests "
                "need Debian's chromium:\n" + "\n".join(output)
            )
    if not CHROMIUM.exists():
        raise ChromiumMissing(f"apt-get installed chromium but {CHROMIUM} is still missing")
    return CHROMIUM


if __name__ == "__main__":
    try:
        path = ensure()
    except ChromiumMissing as error:
        sys.exit(f"error: {error}")
    print(f"browser tests: using {path}")
