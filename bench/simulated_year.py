"""A simulated programme year through partner intake on a running platform, printed as JSON.

Runs `dn simulate` (the associations' systems sending enrolments, sessions, attendance,
assessments, workshops, referrals, placements and follow-ups over the intake topics), then
measures how long the platform takes until GraphQL `impact` shows the simulator's expected
figures. Start the platform first without its own demo (`DN_DEMO=0 make up`), then:

    python -m bench.simulated_year [--people 600] [--rate 300] [--seed N]

or, with ``--own-platform``, on a platform of its own started for the run (bench/stack.py;
what ``make bench`` does).

Reports, from the same run: the requests applied end to end per second (each confirmed by its
canonical event, from the first send to the last confirmation) next to the raw produce rate
(requests sent per second), re-sends (0: each request is sent once; what names something not
known yet waits on the platform), dead letters of the run's own requests (none expected), and
the time until the figures are right, and the CPU seconds each process used until then (with
the rate MongoDB, the broker and the load generator alone would allow).
Writes bench/results/simulated_year.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import platform_cpu_s, used_between
from bench.stats import report_path
from kit.auth import Role, issue_token
from kit.settings import Settings

IMPACT = "{ impact { enrolled trained directedToEmployment } }"
RESULTS = report_path("simulated_year")


def impact(client: httpx.Client) -> dict[str, int]:
    answer = client.post("/graphql", json={"query": IMPACT}).json()
    figures: dict[str, int] = answer["data"]["impact"]
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--own-platform", action="store_true", help="start a platform for it")
    args = parser.parse_args(argv)
    if args.own_platform:
        from bench.stack import platform_stack

        with platform_stack() as stack:
            os.environ.update(stack.environment())
            return measure(args)
    return measure(args)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_at_start = os.getloadavg()
    settings = Settings()
    headers = {"authorization": f"Bearer {issue_token(settings, Role.COORDINATOR)}"}
    with httpx.Client(base_url=settings.gateway_url, headers=headers, timeout=30) as client:
        before = impact(client)
        cpu_before = platform_cpu_s(settings)
        simulator_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("dn")),
                "simulate",
                "--json",
                f"--people={args.people}",
                f"--days={args.days}",
                f"--rate={args.rate}",
                f"--seed={args.seed}",
            ],
            capture_output=True,
            text=True,
            env=os.environ,
            check=False,
        )
        confirmed_s = time.perf_counter() - started
        report = json.loads(run.stdout)
        expected = report["expected"]
        target = {
            "enrolled": before["enrolled"] + expected["enrolled"],
            "trained": before["trained"] + expected["trained"],
            "directedToEmployment": before["directedToEmployment"]
            + expected["directed_to_employment"],
        }
        deadline = time.monotonic() + 300
        figures = impact(client)
        while figures != target and time.monotonic() < deadline:
            time.sleep(0.5)
            figures = impact(client)
        visible_s = time.perf_counter() - started
        cpu_s = used_between(cpu_before, platform_cpu_s(settings))
    simulator_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s["simulator"] = round(
        simulator_after.ru_utime
        - simulator_before.ru_utime
        + simulator_after.ru_stime
        - simulator_before.ru_stime,
        2,
    )
    delivery = report.get("delivery") or {}
    dead_letters = delivery.get("dead_letters") or []
    return {
        "benchmark": "simulated_year",
        "at": datetime.now(UTC).isoformat(),
        "people": args.people,
        "days": args.days,
        "seed": args.seed,
        "requests_planned": report["planned"],
        "delivery": delivery,
        "simulate_exit_code": run.returncode,
        "requests_applied_per_s": delivery.get("applied_rate"),
        "requests_produced_per_s": delivery.get("rate"),
        "resent": delivery.get("resent"),
        "dead_letters": len(dead_letters),
        "all_requests_confirmed_s": round(confirmed_s, 1),
        "figures_right_after_s": round(visible_s, 1),
        "figures_expected": target,
        "figures_seen": figures,
        "figures_match": figures == target,
        **cpu_summary(cpu_s, int(delivery.get("confirmed") or 0)),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1_5_15": {
                "start": [round(v, 2) for v in load_at_start],
                "end": [round(v, 2) for v in os.getloadavg()],
            },
        },
    }


def cpu_summary(cpu_s: dict[str, float], requests: int) -> dict[str, Any]:
    """Where the machine's time went until the figures were right, and the rate the machine
    would allow if the four services and the gateway cost nothing: the requests over the CPU
    time of MongoDB, the broker and the load generator alone, spread over every core."""
    total = sum(cpu_s.values())
    infrastructure = sum(cpu_s.get(role, 0.0) for role in ("mongodb", "broker", "simulator"))
    cores = os.cpu_count() or 1
    return {
        "cpu_s": {**cpu_s, "total": round(total, 2)},
        "cpu_ms_per_request": round(1000 * total / requests, 3) if requests else None,
        "requests_per_s_if_services_cost_nothing": (
            round(requests * cores / infrastructure) if requests and infrastructure else None
        ),
    }


if __name__ == "__main__":
    result = main()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
