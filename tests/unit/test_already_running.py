"""`dn up` refuses before touching anything: a platform on this home, a port held elsewhere."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from dn.already_running import CLAIM_FILE, busy_ports, claim, running_here
from dn.platform import free_port, free_process_ports
from kit.settings import Settings


def settings_in(home: Path) -> Settings:
    return Settings(
        home=home, mongodb_port=free_port(), kafka_port=free_port(), **free_process_ports()
    )


def test_a_home_claimed_by_a_live_process_is_running(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / CLAIM_FILE).write_text(
            json.dumps({"pid": sleeper.pid, "started": "today", "gateway_url": "http://g"})
        )
        found = running_here(tmp_path)
        assert found is not None
        assert found.pid == sleeper.pid
        assert f"kill {sleeper.pid}" in found.message(tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert running_here(tmp_path) is None, "a claim left by a dead process is stale"


def test_the_claim_is_ours_while_running_and_gone_after(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    with claim(settings):
        assert json.loads((tmp_path / CLAIM_FILE).read_text())["pid"] == os.getpid()
        assert running_here(tmp_path) is None, "our own claim does not refuse us"
    assert not (tmp_path / CLAIM_FILE).exists()


def test_a_held_port_is_named_with_the_setting_that_moves_it(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    assert busy_ports(settings, start_mongodb=True, start_kafka=True) == []
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.training_port))
        holder.listen()
        busy = busy_ports(settings, start_mongodb=True, start_kafka=True)
    assert [(port.what, port.port, port.setting) for port in busy] == [
        ("training", settings.training_port, "DN_TRAINING_PORT")
    ]
    assert "set DN_TRAINING_PORT" in busy[0].message()


def test_an_embedded_part_reused_from_this_home_is_not_refused(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.kafka_port))
        holder.listen()
        assert busy_ports(settings, start_mongodb=True, start_kafka=False) == []
        refused = busy_ports(settings, start_mongodb=True, start_kafka=True)
    assert [port.setting for port in refused] == ["DN_KAFKA_PORT"]
