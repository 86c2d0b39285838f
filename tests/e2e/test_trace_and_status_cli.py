"""`dn trace` and `dn status` against the running platform, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dn.platform import Platform, child_environment
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.conftest import TestInfra, free_port
from tests.e2e.conftest import enrolment, graphql, until

pytestmark = pytest.mark.e2e
ENROL = "mutation E($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"
DN = str(Path(sys.executable).with_name("dn"))


def dn(
    settings: Settings, infra: TestInfra, *args: str, **variables: str
) -> subprocess.CompletedProcess[str]:
    env = {**child_environment(settings, infra.mongodb_url, infra.kafka_bootstrap), **variables}
    env["COLUMNS"] = "160"
    return subprocess.run([DN, *args], capture_output=True, text=True, env=env, timeout=60)


def spans_below(span: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for child in span["children"]:
        found += [child, *spans_below(child)]
    return found


def test_one_request_is_one_tree_from_the_gateway_into_a_service_and_among_the_slowest(
    gateway: httpx.Client, platform: Platform, settings: Settings, infra: TestInfra
) -> None:
    started = time.time()
    response = graphql(gateway, ENROL, input=enrolment())
    assert "errors" not in response.json(), response.text
    trace_id = response.headers["x-trace-id"]

    def shown() -> subprocess.CompletedProcess[str]:
        return dn(settings, infra, "trace", trace_id, "--json")

    # Spans reach the files every DN_TRACE_FLUSH_MS (100 ms here), each process on its own.
    result = until(
        shown,
        lambda r: r.returncode == 0 and "dn-registration" in json.loads(r.stdout)["services"],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tree = json.loads(result.stdout)
    assert tree["trace_id"] == trace_id
    [root] = tree["spans"]
    assert root["service"] == "dn-gateway"
    assert root["name"] == "POST /graphql"
    below = spans_below(root)
    assert {"dn-gateway", "dn-registration"} <= {span["service"] for span in below}
    assert not any(span["orphan"] for span in below)
    assert all(span["offset_ms"] >= 0 for span in below)

    text = dn(settings, infra, "trace", trace_id[:12])  # a prefix will do
    assert text.returncode == 0, text.stdout + text.stderr
    assert "POST /graphql" in text.stdout
    assert "dn-registration" in text.stdout

    window = f"{int(time.time() - started) + 5}s"

    # Other tests' traces (a simulated year's intake) end in the same window on the shared
    # platform: ask for enough of them that this one is among them, then check the order.
    def ranking() -> subprocess.CompletedProcess[str]:
        return dn(settings, infra, "trace", "--slowest", "500", "--since", window, "--json")

    ranked = until(
        ranking,
        lambda r: r.returncode == 0 and trace_id in r.stdout,
        timeout_s=30,
    )
    assert ranked.returncode == 0, ranked.stdout + ranked.stderr
    traces = json.loads(ranked.stdout)["traces"]
    listed = {entry["trace_id"]: entry for entry in traces}
    assert trace_id in listed, listed
    durations = [entry["duration_ms"] for entry in traces]
    assert durations == sorted(durations, reverse=True)
    assert listed[trace_id]["root"] == "POST /graphql"
    assert "dn-registration" in listed[trace_id]["services"]
    assert dn(settings, infra, "trace", "--slowest", "3").returncode == 0


def test_broken_span_lines_are_skipped_and_counted(
    gateway: httpx.Client, platform: Platform, settings: Settings, infra: TestInfra
) -> None:
    trace_id = graphql(gateway, "{ impact { enrolled } }").headers["x-trace-id"]
    broken = settings.home / "traces" / "broken-by-test.jsonl"
    broken.write_text('{"trace_id": "half a li\n', encoding="utf-8")
    try:
        result = until(
            lambda: dn(settings, infra, "trace", trace_id, "--json"), lambda r: r.returncode == 0
        )
    finally:
        broken.unlink()

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["broken_lines"] >= 1


def test_an_unknown_trace_id_fails_clearly(
    platform: Platform, settings: Settings, infra: TestInfra
) -> None:
    result = dn(settings, infra, "trace", "0123456789abcdef")

    assert result.returncode == 1
    assert "no trace 0123456789abcdef" in result.stdout


def test_status_reports_every_process_and_the_infrastructure_healthy(
    platform: Platform, settings: Settings, infra: TestInfra
) -> None:
    result = dn(settings, infra, "status", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert status["healthy"] is True
    assert {name for name, part in status["infra"].items() if part["up"]} == {"mongodb", "kafka"}
    services = status["services"]
    assert set(services) == {"registration", "training", "orientation", "reporting", "gateway"}
    for name, service in services.items():
        assert service["healthy"], (name, service)
        assert service["figures"] is not None, (name, service["metrics_error"])
    # Reporting has projected the events of the earlier tests.
    assert services["reporting"]["figures"]["consumed_total"] > 0
    assert status["advice"] == []

    screen = dn(settings, infra, "status")
    assert screen.returncode == 0, screen.stdout + screen.stderr
    assert "platform healthy" in screen.stdout


def test_status_without_a_platform_says_what_to_run(settings: Settings, infra: TestInfra) -> None:
    nowhere = {
        f"DN_{name.upper()}_PORT": str(free_port())
        for name in ("gateway", "registration", "training", "orientation", "reporting")
    }
    result = dn(
        settings,
        infra,
        "status",
        DN_MONGODB_URL=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        DN_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
        **nowhere,
    )

    assert result.returncode == 1
    assert "platform NOT healthy" in result.stdout
    assert "start it with `dn up`" in result.stdout


def graphql_latency_counts(settings: Settings) -> dict[tuple[str, ...], float]:
    """Observation counts of the gateway's GraphQL histograms, by their labels."""
    ops = issue_token(settings, Role.OPS)
    text = httpx.get(
        f"{settings.gateway_url}/metrics", headers={"authorization": f"Bearer {ops}"}, timeout=10
    ).text
    counts = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (
                "dn_graphql_operation_seconds_count",
                "dn_graphql_root_field_seconds_count",
            ):
                counts[(sample.name, *sorted(sample.labels.values()))] = sample.value
    return counts


def test_graphql_latency_is_measured_per_operation_type_and_root_field(
    gateway: httpx.Client, settings: Settings
) -> None:
    before = graphql_latency_counts(settings)
    assert "errors" not in graphql(gateway, "{ impact { enrolled } districts { id } }").json()
    assert "errors" not in graphql(gateway, ENROL, input=enrolment()).json()
    refused = graphql(gateway, "{ nosuchfield }").json()
    assert refused["errors"]
    after = graphql_latency_counts(settings)

    def grew(*key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    operations = "dn_graphql_operation_seconds_count"
    fields = "dn_graphql_root_field_seconds_count"
    assert grew(operations, "ok", "query") >= 1
    assert grew(operations, "mutation", "ok") >= 1
    assert grew(operations, "error", "query") >= 1, "the invalid query is counted as an error"
    assert grew(fields, "impact", "ok", "query") >= 1
    assert grew(fields, "districts", "ok", "query") >= 1
    assert grew(fields, "enrolBeneficiary", "mutation", "ok") >= 1
    assert not any("nosuchfield" in key for key in after), "only schema fields become labels"
