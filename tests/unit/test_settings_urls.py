"""Where a process dials each service: DN_<SERVICE>_URL when set, else DN_HOST and the port."""

from __future__ import annotations

import pytest

from kit.settings import SERVICE_NAMES, Settings

PORTS = {"registration": 8101, "training": 8102, "orientation": 8103, "reporting": 8104}


@pytest.fixture(autouse=True)
def no_service_urls_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in SERVICE_NAMES:
        monkeypatch.delenv(f"DN_{service.upper()}_URL", raising=False)


def test_without_urls_every_service_is_dialled_at_the_listen_host_and_its_port() -> None:
    settings = Settings(host="10.1.2.3")
    assert {s: settings.service_url(s) for s in SERVICE_NAMES} == {
        service: f"http://10.1.2.3:{port}" for service, port in PORTS.items()
    }


def test_a_configured_url_is_dialled_whatever_the_listen_host() -> None:
    settings = Settings(host="10.1.2.3", registration_url="http://registration:8101")
    assert settings.service_url("registration") == "http://registration:8101"
    assert settings.service_url("training") == "http://10.1.2.3:8102"


def test_urls_are_read_from_the_environment_without_their_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DN_TRAINING_URL", "https://training.example.org/")
    monkeypatch.setenv("DN_REPORTING_URL", "http://reporting.dn.svc.cluster.local:8104/")
    settings = Settings(host="10.1.2.3")
    assert settings.service_url("training") == "https://training.example.org"
    assert settings.service_url("reporting") == "http://reporting.dn.svc.cluster.local:8104"
    assert settings.service_url("orientation") == "http://10.1.2.3:8103"


def test_an_empty_url_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # compose interpolates an unset ${VARIABLE} to "": the process still reaches the service.
    monkeypatch.setenv("DN_ORIENTATION_URL", "")
    assert Settings(host="10.1.2.3").service_url("orientation") == "http://10.1.2.3:8103"


def test_a_changed_port_moves_the_default_address_but_not_a_configured_url() -> None:
    settings = Settings(host="10.1.2.3", reporting_port=9104, reporting_url="http://reporting:8104")
    assert settings.service_url("reporting") == "http://reporting:8104"
    assert Settings(host="10.1.2.3", reporting_port=9104).service_url("reporting") == (
        "http://10.1.2.3:9104"
    )
