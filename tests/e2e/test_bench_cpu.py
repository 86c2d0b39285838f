"""The simulated-year bench reads the CPU of this platform's processes, and only theirs."""

from __future__ import annotations

import pytest

from bench.cpu import platform_cpu_s
from dn.platform import Platform
from kit.settings import Settings

pytestmark = pytest.mark.e2e


def test_the_cpu_of_every_process_of_the_platform_is_read_and_of_no_other(
    settings: Settings, platform: Platform
) -> None:
    used = platform_cpu_s(settings)

    assert set(used) == {
        "mongodb",
        "broker",
        "registration",
        "training",
        "orientation",
        "reporting",
        "gateway",
    }, used
    assert all(seconds > 0 for seconds in used.values()), used
    # Another platform's settings (other ports, another home) find none of these processes.
    elsewhere = settings.model_copy(
        update={
            "mongodb_url": "mongodb://127.0.0.1:1/",
            "kafka_bootstrap": "127.0.0.1:1",
            "home": settings.home / "elsewhere",
        }
    )
    assert platform_cpu_s(elsewhere) == {}
