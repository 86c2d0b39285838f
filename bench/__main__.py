"""``make bench``: every benchmark, one JSON report each in bench/results/, then a table.

    python -m bench                       # full sizes (about 20–25 minutes on 2 cores)
    python -m bench --quick               # small sizes (a few minutes)
    python -m bench --only freshness impact_query
    python -m bench --list
    python -m bench --table               # only the table, from the reports already written

Each benchmark runs in a process of its own on infrastructure (and, where it needs one, a
platform) of its own, so one failing does not stop the others and nothing is shared with a
`make up` or test run. bench/results/summary.json holds the table's rows, how long each took
and the machine's load average before and after each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.stats import load_average, machine
from bench.summary import Row, markdown, rows

RESULTS = Path(__file__).parent / "results"
QUICK_RESULTS = RESULTS / "quick"  # kept out of git: the committed figures are full runs
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str
    what: str
    full: str  # arguments, split on spaces
    quick: str


# Ordered cheapest first: the impact benchmark's full-size build is the long one.
BENCHMARKS = (
    Benchmark(
        "freshness",
        "bench.freshness",
        "event produced → visible through GraphQL impactUpdated, next to the broker round trip",
        "--rates 200 1000 --seconds 20 --base-events 10000",
        "--rates 200 1000 --seconds 3 --base-events 1000 --enrolments 5",
    ),
    Benchmark(
        "reporting_rebuild",
        "bench.reporting_rebuild",
        "projection catch-up (rebuild) next to the raw consume-only rate",
        # Live freshness is the freshness benchmark's (through GraphQL), not repeated here.
        "--events 200000 --steady-seconds 0",
        "--events 5000 --steady-seconds 0",
    ),
    Benchmark(
        "simulated_year",
        "bench.simulated_year",
        "partner ingestion: a simulated programme year through intake",
        "--own-platform --people 600 --rate 5000 --seed 1774",
        "--own-platform --people 20 --rate 300 --seed 1774",
    ),
    Benchmark(
        "intake_throughput",
        "bench.intake_throughput",
        "partner intake sent newest first: applied end to end next to the produce rate",
        "--own-platform --people 1000 --sessions 200 --per-person 8",
        "--own-platform --people 100 --sessions 20 --per-person 4",
    ),
    Benchmark(
        "impact_query",
        "bench.impact_query",
        "impact query under concurrent clients next to aggregating the raw records",
        "--people 100000 --attendance 20 --clients 50 --seconds 30 --runs 3",
        "--people 500 --attendance 20 --clients 50 --seconds 3 --runs 3",
    ),
)


def run(benchmark: Benchmark, quick: bool, console: Console) -> dict[str, Any]:
    """Run one benchmark in its own process; its report (or what went wrong) as a dict."""
    folder = QUICK_RESULTS if quick else RESULTS
    report_file = folder / f"{benchmark.name}.json"
    arguments = (benchmark.quick if quick else benchmark.full).split()
    command = [sys.executable, "-m", benchmark.module, *arguments]
    console.print(f"[bold]{benchmark.name}[/]: {benchmark.what}")
    console.print(f"  {' '.join(command[1:])}", style="dim")
    before = report_file.stat().st_mtime if report_file.exists() else None
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,  # the report is read from its file; progress goes to stderr
        env={**os.environ, "PYTHONPATH": str(ROOT), "DN_BENCH_RESULTS": str(folder)},
        check=False,
    )
    seconds = time.monotonic() - started
    fresh = report_file.exists() and report_file.stat().st_mtime != before
    if done.returncode != 0 or not fresh:
        tail = done.stdout.decode(errors="replace")[-500:]
        return {"error": f"exit code {done.returncode}, no new report; {tail}", "seconds": seconds}
    report: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
    report["seconds"] = round(seconds, 1)  # the whole run, platform start and stop included
    report_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def earlier_reports(folder: Path, chosen: list[Benchmark]) -> dict[str, dict[str, Any]]:
    """The reports already in ``folder`` (``--table``: nothing is run)."""
    found = {}
    for benchmark in chosen:
        path = folder / f"{benchmark.name}.json"
        if path.exists():
            found[benchmark.name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def render(table_rows: list[Row], console: Console) -> None:
    table = Table(title="Digital Neighbourhoods — benchmarks", show_lines=True)
    for column in ("benchmark", "measured", "figure", "next to", "note"):
        table.add_column(column, overflow="fold")
    for row in table_rows:
        table.add_row(row.benchmark, row.measured, row.figure, row.next_to, row.note)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument(
        "--only", nargs="+", choices=[b.name for b in BENCHMARKS], help="run only these"
    )
    parser.add_argument("--list", action="store_true", help="name the benchmarks and stop")
    parser.add_argument(
        "--table",
        action="store_true",
        help="run nothing: the table and summary.json from the reports already written",
    )
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    if args.list:
        for benchmark in BENCHMARKS:
            print(f"{benchmark.name:<18} {benchmark.what}")
        return 0
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    folder = QUICK_RESULTS if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    summary_file = folder / "summary.json"
    started = time.monotonic()
    loads = {"start": load_average()}
    reports: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    if args.table:
        reports = earlier_reports(folder, chosen)
        timings = {name: r["seconds"] for name, r in reports.items() if "seconds" in r}
    for benchmark in [] if args.table else chosen:
        report = run(benchmark, args.quick, console)
        reports[benchmark.name] = report
        timings[benchmark.name] = round(report["seconds"], 1)
        loads[f"after_{benchmark.name}"] = load_average()
        state = "[red]failed[/]" if "error" in report else "done"
        console.print(
            f"  {state} in {report['seconds']:.0f} s, load {loads[f'after_{benchmark.name}'][0]}"
        )
    table_rows = rows(reports)
    summary = {
        "at": datetime.now(UTC).isoformat(),
        "mode": "quick" if args.quick else "full",
        "benchmarks": [b.name for b in chosen if b.name in reports],
        "seconds": round(sum(timings.values()) if args.table else time.monotonic() - started, 1),
        "from_earlier_reports": args.table,
        "seconds_by_benchmark": timings,
        "failed": [name for name, report in reports.items() if "error" in report],
        "rows": [row.as_json() for row in table_rows],
        "markdown": markdown(table_rows),
        "machine": machine(loads),
    }
    summary_file.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    out = Console()
    render(table_rows, out if out.is_terminal else Console(width=160))
    print(
        f"{summary['mode']} run of {len(reports)} benchmark(s) in {summary['seconds']:.0f} s; "
        f"reports and {summary_file.name} in {folder.relative_to(ROOT)}/"
    )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
