"""``dn simulate`` and the demo data of ``dn up``: plan a programme, send it, say what happened."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.maturity import (
    DEFAULT_STAFF_HOURS_FOR_FULL_POINTS,
    DEFAULT_UPSKILLED_POINTS,
    MaturityRule,
)
from dn.simulation.delivery import DeliveryError, DeliveryOptions, DeliveryReport, deliver
from dn.simulation.programme import ASSOCIATIONS, Programme, TrainedRule, plan_programme

DEMO_PEOPLE = 250
DEMO_DAYS = 365
DEMO_SEED = 2026
DEMO_RATE = 300.0


class TrainingRuleSettings(BaseSettings):
    """The trained and upskilled rules as the training service reads them (``DN_TRAINING_*``)."""

    model_config = SettingsConfigDict(env_prefix="DN_TRAINING_", extra="ignore")

    min_sessions: int = 4
    min_minutes: int = 720
    require_final_assessment: bool = False
    upskilled_points: int = DEFAULT_UPSKILLED_POINTS
    staff_hours_for_full_points: int = DEFAULT_STAFF_HOURS_FOR_FULL_POINTS

    def rule(self) -> TrainedRule:
        return TrainedRule(self.min_sessions, self.min_minutes, self.require_final_assessment)

    def maturity_rule(self) -> MaturityRule:
        return MaturityRule(self.upskilled_points, self.staff_hours_for_full_points)


def plan(seed: int, people: int, days: int, now: datetime | None = None) -> Programme:
    rules = TrainingRuleSettings()
    return plan_programme(seed, people, days, now, rules.rule(), rules.maturity_rule())


def expected_table(programme: Programme) -> Table:
    truth = programme.truth
    table = Table(title="expected on the platform (ground truth)", show_header=False)
    table.add_row("enrolled", str(truth.enrolled))
    table.add_row("trained (rule met)", str(truth.trained))
    table.add_row("directed towards employment", str(truth.directed_to_employment))
    share = truth.women_share_careers
    table.add_row("women among careers track", "–" if share is None else f"{share:.0%}")
    table.add_row("women overall", f"{truth.women / max(1, truth.enrolled):.0%}")
    table.add_row("sessions scheduled", str(truth.sessions))
    table.add_row("attendance present", f"{truth.present_share:.0%} of {truth.attendance_records}")
    table.add_row("drop-outs", str(truth.drop_outs))
    table.add_row("career workshops / referrals", f"{truth.workshops} / {truth.referrals}")
    table.add_row(
        "placements", ", ".join(f"{k} {n}" for k, n in truth.placements_by_kind.items()) or "–"
    )
    table.add_row("age bands", ", ".join(f"{k} {n}" for k, n in truth.by_age_band.items()))
    table.add_row(
        "associations upskilled",
        f"{truth.associations_upskilled} of {len(ASSOCIATIONS)} "
        f"({truth.maturity_assessments} self-assessments, {truth.staff_sessions} staff sessions)",
    )
    return table


def requests_table(programme: Programme, report: DeliveryReport | None) -> Table:
    table = Table(title=f"intake requests, {programme.starts:%Y-%m-%d} → {programme.ends:%Y-%m-%d}")
    table.add_column("type")
    table.add_column("planned", justify="right")
    if report is not None:
        table.add_column("sent", justify="right")
        table.add_column("dead-lettered", justify="right")
    dead = Counter(d.event_type for d in report.dead_lettered) if report else Counter()
    for event_type, count in sorted(programme.counts_by_type().items()):
        row = [event_type, str(count)]
        if report is not None:
            row += [str(report.sent[event_type]), str(dead.get(event_type, 0))]
        table.add_row(*row)
    return table


def delivery_lines(report: DeliveryReport) -> list[str]:
    """What became of the requests: sent (once each), applied, and whatever went wrong."""
    rate = report.sent_total / report.sending_s if report.sending_s else 0.0
    return [
        f"sent {report.sent_total} of {report.total}, each once, in {report.sending_s:.1f} s "
        f"({rate:.0f}/s); {report.confirmed} confirmed applied (by their canonical event) after "
        f"{report.total_s:.1f} s",
        *failure_lines(report),
    ]


def failure_lines(report: DeliveryReport) -> list[str]:
    """Dead letters of the run's own requests (there should be none: what names something not
    known yet waits on the platform), requests never confirmed, an interruption."""
    if report.dead_lettered:
        reasons = Counter(d.reason for d in report.dead_lettered)
        dead = len(report.dead_lettered)
        lines = [
            f"FAILED: {dead} {'request' if dead == 1 else 'requests'} dead-lettered: "
            + ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        ]
        lines += [
            f"  {d.event_type} {d.ce_id}: {d.reason}: {d.detail[:200]}"
            for d in report.dead_lettered[:10]
        ]
    else:
        lines = ["dead letters: none"]
    if report.resent:
        lines.append(f"FAILED: {report.resent} sends beyond the first of a request")
    if report.problem:
        lines.append(report.problem)
        lines += [f"  unconfirmed {t}: {n}" for t, n in sorted(report.unconfirmed.items())]
    if report.cancelled:
        lines.append("interrupted: the rest was not sent")
    return lines


def run(
    *,
    bootstrap: str,
    seed: int,
    people: int,
    days: int,
    rate: float,
    dry_run: bool,
    as_json: bool,
    console: Console,
) -> int:
    """Plan, then send each request once (unless ``dry_run``); exit 0 when everything was
    applied, 1 when some requests were dead-lettered or never confirmed, 2 when the broker or
    platform is not there."""
    programme = plan(seed, people, days)
    if dry_run:
        if as_json:
            print(json.dumps(_json(programme, None), indent=2))
        else:
            console.print(requests_table(programme, None))
            console.print(expected_table(programme))
        return 0
    options = DeliveryOptions(rate=rate)
    try:
        if as_json:
            report = asyncio.run(deliver(programme, bootstrap, options))
        else:
            report = _with_progress(programme, bootstrap, options, console)
    except DeliveryError as error:
        console.print(f"[red]error:[/red] {error}")
        return 2
    if as_json:
        print(json.dumps(_json(programme, report), indent=2))
    else:
        console.print(requests_table(programme, report))
        for line in delivery_lines(report):
            console.print(line)
        console.print(expected_table(programme))
    return 0 if report.ok else 1


def _json(programme: Programme, report: DeliveryReport | None) -> dict[str, object]:
    return {
        "seed": programme.seed,
        "people": programme.people,
        "days": programme.days,
        "from": programme.starts.isoformat(),
        "to": programme.ends.isoformat(),
        "planned": len(programme.requests),
        "planned_by_type": dict(sorted(programme.counts_by_type().items())),
        "expected": programme.truth.as_json(),
        "delivery": report.as_json() if report else None,
    }


def _with_progress(
    programme: Programme, bootstrap: str, options: DeliveryOptions, console: Console
) -> DeliveryReport:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("sending", total=len(programme.requests), status="")

        def progress(report: DeliveryReport) -> None:
            sent = report.sent_total >= report.total
            dead = len(report.dead_lettered)
            bar.update(
                task,
                completed=report.confirmed + dead if sent else report.sent_total,
                description="applied" if sent else "sent",
                status=f"applied {report.confirmed} · dead letters {dead}",
            )

        return asyncio.run(deliver(programme, bootstrap, options, progress))


def start_demo(bootstrap: str, home: Path, say: Callable[[str], None]) -> Callable[[], None]:
    """Play the demo programme in the background, once per ``DN_HOME`` (its data persists
    there); returns what stops it (waiting briefly)."""
    played = home / "demo.json"
    if played.exists():
        say(f"already played ({played}; remove it to play the demo again)")
        return lambda: None
    programme = plan(DEMO_SEED, DEMO_PEOPLE, DEMO_DAYS)
    truth = programme.truth
    cancel = threading.Event()
    say(
        f"simulating a programme year in the background: {truth.enrolled} people, "
        f"{len(programme.requests)} partner requests (DN_DEMO=0 to skip)"
    )

    def play() -> None:
        try:
            report = asyncio.run(
                deliver(programme, bootstrap, DeliveryOptions(rate=DEMO_RATE), cancel=cancel)
            )
        except DeliveryError as error:
            say(f"not sent: {error}")
            return
        except Exception as error:  # a background thread must say why it stopped
            say(f"stopped: {type(error).__name__}: {error}")
            return
        if report.cancelled:
            return
        if report.ok:
            played.write_text(json.dumps(_json(programme, report), indent=2))
        outcome = (
            f"done in {report.total_s:.0f} s ({report.sent_total} requests sent once each, "
            f"0 dead letters): {truth.enrolled} enrolled, {truth.trained} trained, "
            f"{truth.directed_to_employment} directed towards employment, "
            f"{truth.associations_upskilled} associations upskilled"
            if report.ok
            else "; ".join(failure_lines(report))
        )
        say(outcome)

    thread = threading.Thread(target=play, name="dn-demo", daemon=True)
    thread.start()

    def stop() -> None:
        cancel.set()
        thread.join(timeout=5.0)

    return stop
