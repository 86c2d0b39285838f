"""Embedded infrastructure binaries per platform, and the infrastructure URLs in settings."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path

import pytest

from dn.infra import InfraError, mongod_binary, tansu_binary
from kit.settings import Settings

BINARIES = pytest.mark.parametrize("binary", [mongod_binary, tansu_binary])
X86_64_LINUX = platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


@BINARIES
@pytest.mark.parametrize(
    ("system", "machine"),
    [
        ("Linux", "arm64"),
        ("Linux", "aarch64"),
        ("Darwin", "x86_64"),
        ("Darwin", "arm64"),
        ("Windows", "AMD64"),
    ],
)
def test_embedded_binaries_are_refused_off_x86_64_linux_saying_what_to_use_instead(
    monkeypatch: pytest.MonkeyPatch, binary: Callable[[], Path], system: str, machine: str
) -> None:
    monkeypatch.setattr(platform, "system", lambda: system)
    monkeypatch.setattr(platform, "machine", lambda: machine)

    with pytest.raises(InfraError) as refused:
        binary()

    message = str(refused.value)
    assert "DN_MONGODB_URL" in message
    assert "DN_KAFKA_BOOTSTRAP" in message
    assert "DN_TEST_INFRA=containers" in message
    assert f"{system} {machine}" in message


@BINARIES
@pytest.mark.skipif(not X86_64_LINUX, reason="the embedded binaries ship for x86-64 Linux only")
def test_embedded_binaries_exist_and_are_executable_on_x86_64_linux(
    binary: Callable[[], Path],
) -> None:
    path = binary()

    assert path.is_file()
    assert os.access(path, os.X_OK)


# -- settings -------------------------------------------------------------------------------

INFRA_VARIABLES = ("DN_MONGODB_URL", "DN_KAFKA_BOOTSTRAP", "DN_MONGODB_PORT", "DN_KAFKA_PORT")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in INFRA_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_urls_fall_back_to_the_embedded_instances_on_the_default_ports(
    environment: pytest.MonkeyPatch,
) -> None:
    settings = Settings()

    assert settings.resolved_mongodb_url == "mongodb://127.0.0.1:27027/?replicaSet=rs0"
    assert settings.resolved_kafka_bootstrap == "127.0.0.1:19092"
    assert settings.uses_embedded_infra


def test_embedded_urls_are_built_from_the_configured_ports(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("DN_MONGODB_PORT", "28017")
    environment.setenv("DN_KAFKA_PORT", "29092")

    settings = Settings()

    assert settings.resolved_mongodb_url == "mongodb://127.0.0.1:28017/?replicaSet=rs0"
    assert settings.resolved_kafka_bootstrap == "127.0.0.1:29092"


def test_external_mongodb_url_is_used_when_set(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DN_MONGODB_URL", "mongodb://db.internal:27017/?replicaSet=prod")

    settings = Settings()

    assert settings.resolved_mongodb_url == "mongodb://db.internal:27017/?replicaSet=prod"
    assert settings.resolved_kafka_bootstrap == "127.0.0.1:19092"
    assert not settings.uses_embedded_infra


def test_external_kafka_bootstrap_is_used_when_set(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DN_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")

    settings = Settings()

    assert settings.resolved_kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert settings.resolved_mongodb_url == "mongodb://127.0.0.1:27027/?replicaSet=rs0"
    assert not settings.uses_embedded_infra
