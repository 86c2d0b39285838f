"""The headline figures of every benchmark's JSON report, as rows of one table (pure: no I/O).

Each row names what was measured, the figure, what it stands next to (the raw ceiling measured
in the same run) and a note (checks, load). ``rows`` skips a benchmark that has no report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

Report = Mapping[str, Any]


@dataclass(frozen=True)
class Row:
    benchmark: str
    measured: str
    figure: str
    next_to: str
    note: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def _ms(value: Any) -> str:
    if value is None:
        return "–"
    number = float(value)
    if number >= 10_000:
        return f"{number / 1000:.1f} s"
    return f"{number:,.0f} ms" if number >= 10 else f"{number:.1f} ms"


def p50_p99(summary: Mapping[str, Any] | None) -> str:
    """``p50 X / p99 Y`` of a latency summary (bench/stats.py ``latency_ms``)."""
    if not summary:
        return "–"
    return f"p50 {_ms(summary.get('p50_ms'))} / p99 {_ms(summary.get('p99_ms'))}"


def _rate(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.0f}/s"


def _load(report: Report) -> str:
    """The 1-minute load average at the start of a report, and its highest along the way."""
    loads = report.get("machine", {}).get("load_average_1_5_15") or report.get("machine", {}).get(
        "load"
    )
    if isinstance(loads, Mapping):
        firsts = [values[0] for values in loads.values() if values]
        if not firsts:
            return "load –"
        return f"load {firsts[0]:.1f}–{max(firsts):.1f}"
    if isinstance(loads, list | tuple) and loads:
        return f"load {float(loads[0]):.1f}"
    return "load –"


def freshness_rows(report: Report) -> list[Row]:
    rows = []
    for phase in report.get("rates", []):
        seen = phase.get("graphql_visible") or {}
        projection = phase.get("projection_commit") or {}
        shown = "all shown" if phase.get("all_shown") else "NOT all shown"
        rows.append(
            Row(
                "freshness",
                f"event → GraphQL impactUpdated at {phase['rate']:g} events/s",
                p50_p99(seen),
                f"broker round trip {p50_p99(phase.get('broker_round_trip'))}",
                f"{seen.get('samples', 0)} markers, {shown}; projection commit "
                f"{p50_p99(projection)}; load {phase.get('load_after', ['–'])[0]}",
            )
        )
    enrolments = report.get("enrolment_push")
    if enrolments:
        rows.append(
            Row(
                "freshness",
                "GraphQL enrolment → impactUpdated push with the new count, idle",
                p50_p99(enrolments.get("graphql_push")),
                f"the mutation's own answer {p50_p99(enrolments.get('mutation_answer'))}",
                f"{enrolments.get('enrolments', 0)} enrolments one after another",
            )
        )
    return rows


def rebuild_rows(report: Report) -> list[Row]:
    check = report.get("rebuild_check", {})
    return [
        Row(
            "reporting_rebuild",
            f"projection catch-up, {report.get('events', 0):,} events",
            _rate(report.get("rebuild_events_per_s")),
            f"consume only {_rate(report.get('consume_only_events_per_s'))}",
            f"totals check {'ok' if check.get('ok') else 'FAILED'}; {_load(report)}",
        )
    ]


def impact_query_rows(report: Report) -> list[Row]:
    queries = report.get("graphql_impact", {})
    aggregation = report.get("raw_aggregation", {})
    floor = report.get("graphql_floor", {})
    agree = "figures agree" if report.get("figures_agree") else "figures DIFFER"
    return [
        Row(
            "impact_query",
            f"GraphQL impact, {queries.get('clients', '?')} clients, "
            f"{report.get('people', 0):,} people / {report.get('attendance_events', 0):,} "
            "attendance",
            f"{queries.get('queries_per_s', '–')} answers/s, {p50_p99(queries)}",
            f"`{{ __typename }}` {floor.get('queries_per_s', '–')} answers/s, "
            f"{p50_p99(floor)}; raw aggregation {p50_p99(aggregation)}",
            f"{agree}; {queries.get('errors', 0)} errors; {_load(report)}",
        )
    ]


def simulated_year_rows(report: Report) -> list[Row]:
    delivery = report.get("delivery", {})
    match = "figures match" if report.get("figures_match") else "figures DO NOT match"
    confirmed, total = delivery.get("confirmed", 0), delivery.get("total_s")
    applied = confirmed / total if total else None
    # Reports before partner requests waited on the platform listed dead letters as "refused".
    dead = len(delivery.get("dead_letters", delivery.get("refused", [])))
    return [
        Row(
            "simulated_year",
            f"partner ingestion, {report.get('people', 0)} people, "
            f"{delivery.get('sent', 0):,} requests: applied end to end",
            _rate(applied),
            f"sent at {_rate(delivery.get('rate'))} ({delivery.get('sending_s', '–')} s)",
            f"{match} after {report.get('figures_right_after_s', '–')} s; "
            f"{delivery.get('resent', 0):,} re-sent, {dead:,} dead letters; "
            f"{_cpu(report)}{_load(report)}",
        )
    ]


def _cpu(report: Report) -> str:
    """Where the CPU went (reports before it was measured have none)."""
    used = report.get("cpu_s")
    if not used:
        return ""
    services = sum(
        used.get(role, 0.0)
        for role in ("registration", "training", "orientation", "reporting", "gateway")
    )
    ceiling = report.get("requests_per_s_if_services_cost_nothing")
    return (
        f"CPU {used.get('total', 0):.1f} s ({report.get('cpu_ms_per_request')} ms a request): "
        f"services {services:.1f} s, MongoDB {used.get('mongodb', 0):.1f} s, "
        f"broker {used.get('broker', 0):.1f} s, load generator {used.get('simulator', 0):.1f} s "
        f"(with free services: {_rate(ceiling)}); "
    )


def intake_rows(report: Report) -> list[Row]:
    refused = sum((report.get("refused") or {}).values())
    return [
        Row(
            "intake_throughput",
            f"partner intake, {report.get('requests', 0):,} requests sent newest first "
            "(every attendance before its session and enrolment): applied end to end",
            _rate(report.get("applied_per_s")),
            f"produced at {_rate(report.get('produce_per_s'))}",
            f"up to {report.get('most_waiting', 0):,} waiting at once; {refused:,} refused; "
            f"{_load(report)}",
        )
    ]


ROWS = {
    "freshness": freshness_rows,
    "reporting_rebuild": rebuild_rows,
    "impact_query": impact_query_rows,
    "simulated_year": simulated_year_rows,
    "intake_throughput": intake_rows,
}


def rows(reports: Mapping[str, Report]) -> list[Row]:
    """Every benchmark's rows, in the order of ``ROWS``; a report with ``error`` gets one row
    saying so."""
    found: list[Row] = []
    for name, make in ROWS.items():
        report = reports.get(name)
        if report is None:
            continue
        if "error" in report:
            found.append(Row(name, "did not complete", "–", "–", str(report["error"])[:200]))
            continue
        found += make(report)
    return found


def markdown(table: list[Row]) -> str:
    """The rows as a Markdown table (for the README)."""
    lines = [
        "| benchmark | measured | figure | next to | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.benchmark} | {r.measured} | {r.figure} | {r.next_to} | {r.note} |" for r in table
    ]
    return "\n".join(lines)
