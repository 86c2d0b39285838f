"""The ``dn`` command: run the platform, its embedded infrastructure, tokens, contracts and
spreadsheet imports."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from dn.already_running import busy_ports, claim, running_here
from dn.infra import EmbeddedInfra, InfraError
from dn.platform import Platform, PlatformError
from kit.auth import GATEWAY, AuthError, Role, issue_token
from kit.settings import SERVICE_NAMES, Settings

app = typer.Typer(help="Digital Neighbourhoods platform.", no_args_is_help=True)
infra_app = typer.Typer(help="Embedded MongoDB and Kafka-protocol broker.", no_args_is_help=True)
contracts_app = typer.Typer(help="The event catalogue's exported schemas.", no_args_is_help=True)
import_app = typer.Typer(help="Bring records in from partners' spreadsheets.", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
app.add_typer(contracts_app, name="contracts")
registration_app = typer.Typer(
    help="A person's rights and the retention of their data.", no_args_is_help=True
)
app.add_typer(import_app, name="import")
app.add_typer(registration_app, name="registration")
reporting_app = typer.Typer(help="Impact projections: rebuild, exports.", no_args_is_help=True)
app.add_typer(reporting_app, name="reporting")
console = Console()


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print("[red]error:[/red] ", Text(message), sep="")
    return typer.Exit(code)


@infra_app.command("up")
def infra_up() -> None:
    """Start (or reuse) the embedded MongoDB replica set and Kafka broker."""
    try:
        status, started = EmbeddedInfra(Settings()).up()
    except InfraError as error:
        raise _fail(str(error)) from error
    for part in (status.mongodb, status.kafka):
        how = "started" if part.name in started else ("reused" if part.embedded else "external")
        console.print(f"{part.name:8} {part.url}  ({how})")


@infra_app.command("down")
def infra_down() -> None:
    """Stop the embedded instances (their data stays under DN_HOME)."""
    stopped = EmbeddedInfra(Settings()).down()
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@infra_app.command("status")
def infra_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Whether MongoDB and Kafka answer, and where."""
    try:
        status = EmbeddedInfra(Settings()).status()
    except InfraError as error:
        raise _fail(str(error)) from error
    if as_json:
        print(json.dumps(status.as_json(), indent=2))
        return
    for part in (status.mongodb, status.kafka):
        state = "[green]running[/green]" if part.running else "[red]stopped[/red]"
        console.print(f"{part.name:8} {state}  {part.url}")
    if not status.ready:
        raise typer.Exit(1)


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="coordinator, association, funder, partner or ops")],
    association: Annotated[
        str | None, typer.Option(help="association id (association, partner)")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="who the token is for")] = None,
    audience: Annotated[
        str, typer.Option(help="the process it is for: gateway, or a service for direct calls")
    ] = GATEWAY,
) -> None:
    """Print a development JWT for the gateway (or, with --audience, for one service)."""
    if audience not in (GATEWAY, *SERVICE_NAMES):
        raise _fail(f"--audience must be one of: {', '.join((GATEWAY, *SERVICE_NAMES))}")
    try:
        print(
            issue_token(
                Settings(), role, association_id=association, subject=subject, audience=audience
            )
        )
    except AuthError as error:
        raise _fail(str(error)) from error


@app.command()
def up(
    demo: Annotated[bool | None, typer.Option(help="seed generated demo enrolments")] = None,
) -> None:
    """Start embedded infra, the four services and the gateway; Ctrl-C stops everything, after
    the services have applied what partners already sent (Ctrl-C again skips that wait)."""
    settings = Settings()
    infra = EmbeddedInfra(settings)
    _refuse_when_taken(settings, infra)
    with claim(settings):
        _run_platform(settings, infra, demo)


def _refuse_when_taken(settings: Settings, infra: EmbeddedInfra) -> None:
    """Touch nothing when a platform already runs on this home, or a port is held."""
    if (other := running_here(settings.home)) is not None:
        raise _fail(other.message(settings.home))
    try:
        before = infra.status()
    except InfraError as error:
        raise _fail(str(error)) from error
    busy = busy_ports(
        settings,
        start_mongodb=before.mongodb.embedded and before.mongodb.pid is None,
        start_kafka=before.kafka.embedded and before.kafka.pid is None,
    )
    if busy:
        raise _fail(
            "not started, nothing was touched:\n"
            + "\n".join(f"  {port.message()}" for port in busy)
            + "\n(`dn status` tells whether it is a Digital Neighbourhoods platform of this home)"
        )


def _run_platform(settings: Settings, infra: EmbeddedInfra, demo: bool | None) -> None:
    try:
        status, started = infra.up()
    except InfraError as error:
        raise _fail(str(error)) from error
    platform = Platform(settings, status.mongodb_url, status.kafka_bootstrap)
    signals = 0
    healthy = False
    stop_demo: Callable[[], None] | None = None

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal signals
        signals += 1

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        platform.start()
        seconds = platform.wait_healthy()
        healthy = True
        _print_urls(settings, status.mongodb_url, status.kafka_bootstrap, seconds)
        _wait_for_reseed(settings, broker_fresh="kafka" in started, give_up=lambda: signals > 0)
        if settings.demo if demo is None else demo:
            stop_demo = _seed_demo(settings, status.kafka_bootstrap)
        console.print("Ctrl-C stops everything.")
        while not signals:
            if dead := platform.dead():
                raise PlatformError(
                    f"{', '.join(dead)} stopped unexpectedly; see {platform.log_dir}"
                )
            time.sleep(0.5)
    except PlatformError as error:
        raise _fail(str(error)) from error
    finally:
        console.print("stopping…")
        if stop_demo is not None:
            stop_demo()  # before the platform: the demo's requests are not half-sent
        platform.stop(("gateway",))  # partner intake (/ingest) and GraphQL close first
        if healthy and not platform.dead():
            _drain(settings, status.kafka_bootstrap, skip=lambda: signals > 1)
        platform.stop()
        if started:
            infra.down(tuple(started))
        console.print("stopped.")


PROGRESS_EVERY_S = 5.0  # away from a terminal (a log file), a progress line this often


@contextlib.contextmanager
def _progress_line() -> Iterator[Callable[[str], None]]:
    """One line updated in place on a terminal; elsewhere, a line every few seconds."""
    if console.is_terminal:
        with console.status("") as status:
            yield lambda line: status.update(Text(line))
        return
    printed_at: float | None = None

    def say(line: str) -> None:
        nonlocal printed_at
        if printed_at is None or time.monotonic() - printed_at >= PROGRESS_EVERY_S:
            console.print(Text(line), soft_wrap=True)
            printed_at = time.monotonic()

    yield say


def _wait_for_reseed(
    settings: Settings, *, broker_fresh: bool, give_up: Callable[[], bool]
) -> None:
    """When the relays re-publish their logs to the broker, wait for it, then say so."""
    from dn.reseed import RESEED_TIMEOUT_S, wait_for_reseed

    with _progress_line() as say:
        state = wait_for_reseed(
            settings,
            broker_fresh=broker_fresh,
            progress=lambda state: say(f"  re-seeding  {state.progress_line()}"),
            give_up=give_up,
        )
    if state.done and state.events:
        console.print(
            f"  re-seeded   {state.summary_line(broker_fresh=broker_fresh)}", soft_wrap=True
        )
    elif not state.done and not give_up():
        console.print(f"  re-seeding  {state.late_line(RESEED_TIMEOUT_S)}", soft_wrap=True)


def _drain(settings: Settings, kafka_bootstrap: str, skip: Callable[[], bool]) -> None:
    """Let the services apply what the broker already accepted, bounded; Ctrl-C skips."""
    from dn.drain import drain

    with _progress_line() as say:
        outcome = drain(
            settings,
            kafka_bootstrap,
            timeout_s=settings.drain_timeout_s,
            progress=lambda backlog: say(f"{backlog.line()} (Ctrl-C again skips)"),
            skip=skip,
        )
    console.print(outcome.line(), soft_wrap=True)


def _print_urls(settings: Settings, mongodb_url: str, kafka: str, seconds: float) -> None:
    gateway = settings.gateway_url
    console.print(f"[green]Digital Neighbourhoods is up[/green] ({seconds:.1f} s)")
    if settings.environment == "development":  # a ready-to-open link with a local token
        dashboard_token = issue_token(settings, Role.COORDINATOR, subject="dev-dashboard")
        console.print(f"  dashboard   {gateway}/#token={dashboard_token}", soft_wrap=True)
        app_token = issue_token(
            settings, Role.ASSOCIATION, association_id=_first_association(), subject="dev-app"
        )
        console.print(f"  app         {gateway}/app/#token={app_token}", soft_wrap=True)
    else:
        console.print(f"  dashboard   {gateway}/")
        console.print(f"  app         {gateway}/app/")
    console.print(f"  GraphQL     {gateway}/graphql   (GraphiQL in a browser)")
    console.print(f"  health      {gateway}/healthz")
    for name in ("registration", "training", "orientation", "reporting"):
        console.print(f"  {name:<11} {settings.service_url(name)}/healthz")
    console.print(f"  MongoDB     {mongodb_url}")
    console.print(f"  Kafka       {kafka}")
    console.print(f"  logs        {settings.home / 'logs'}")
    console.print("  token       dn token --role coordinator")


def _first_association() -> str:
    """The first association of the shipped reference data: `dn up`'s app link signs in as its
    staff."""
    from services.registration.store import REFERENCE_FILE

    associations = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))["associations"]
    return str(associations[0]["id"])


def _seed_demo(settings: Settings, kafka_bootstrap: str) -> Callable[[], None]:
    """Demo data: a smaller programme year played by the partner simulator in the background."""
    from dn.simulation.command import start_demo

    def say(line: str) -> None:
        console.print(f"  demo        {line}")

    return start_demo(kafka_bootstrap, settings.home, say)


@app.command()
def simulate(
    days: Annotated[int, typer.Option(help="the simulated period: this many days to today")] = 365,
    people: Annotated[int, typer.Option(help="residents enrolled over the period")] = 600,
    rate: Annotated[float, typer.Option(help="requests sent per second at most")] = 200.0,
    seed: Annotated[int, typer.Option(help="same seed, same programme (and same event ids)")] = 1,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", "--summary", help="print the plan and figures; send nothing"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Play a programme year through the partner intake topics, as the five associations'
    systems would (each request sent once), then say what was applied or dead-lettered, and the
    figures to expect.

    Exit 0: everything applied; 1: some requests dead-lettered or never confirmed; 2: no platform.
    """
    from dn.simulation.command import run

    if not 1 <= people <= 20_000 or not 7 <= days <= 730 or rate <= 0:
        raise _fail("--people 1-20000, --days 7-730 and a positive --rate, please", 2)
    raise typer.Exit(
        run(
            bootstrap=Settings().resolved_kafka_bootstrap,
            seed=seed,
            people=people,
            days=days,
            rate=rate,
            dry_run=dry_run,
            as_json=as_json,
            console=console,
        )
    )


@app.command("trace")
def trace_command(
    trace_id: Annotated[
        str | None, typer.Argument(help="a trace id (x-trace-id header) or its first 8+ digits")
    ] = None,
    slowest: Annotated[
        int | None, typer.Option("--slowest", help="list the N slowest recent traces")
    ] = None,
    since: Annotated[
        str, typer.Option(help="with --slowest: traces started within (30m, 1h, 2d)")
    ] = "1h",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print one trace as a tree with timings, or (--slowest N) the slowest recent traces,
    from the span files under DN_HOME/traces.

    Exit 0: shown; 1: no such trace, or the prefix names several; 2: usage.
    """
    from dn.trace_command import show_slowest, show_trace

    home = Settings().home
    if (trace_id is None) == (slowest is None):
        raise _fail("give a trace id, or --slowest N (not both)", 2)
    if trace_id is not None:
        raise typer.Exit(show_trace(home, trace_id, as_json, console))
    assert slowest is not None
    raise typer.Exit(show_slowest(home, slowest, since, as_json, console))


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The whole platform's health on one screen: MongoDB, broker, every process's /healthz,
    key figures from its /metrics, consumer lag.

    Exit 0: every part answers healthy; 1: something is down (the output says what to run).
    """
    from dn.status_command import run_status

    raise typer.Exit(run_status(Settings(), as_json, console))


@contracts_app.command("export")
def contracts_export(
    check: Annotated[bool, typer.Option(help="only report drift; exit 1 if any")] = False,
) -> None:
    """Write one JSON Schema per event type and the AsyncAPI 3 document."""
    from contracts.export import drift, write_all

    if check:
        problems = drift()
        for problem in problems:
            console.print(problem)
        raise typer.Exit(1 if problems else 0)
    for path in write_all():
        console.print(f"wrote {path}")


@import_app.command("beneficiaries")
def import_beneficiaries(
    file: Annotated[Path, typer.Argument(help=".csv or .xlsx; the first row names the columns")],
    association: Annotated[str, typer.Option(help="id of the association enrolling them")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check every row, enrol nobody")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="write the row-by-row report to this CSV file")
    ] = None,
) -> None:
    """Enrol the people listed in a spreadsheet; running it again enrols nobody twice.

    Exit 0: every row enrolled or already enrolled; 1: some refused; 2: file or service fails.
    """
    # Service tools are imported only when their command runs: `dn --help` and `dn up` stay
    # quick to start.
    from dn import registration_commands as cli

    raise typer.Exit(cli.import_beneficiaries(file, association, dry_run, report))


DRY_RUN_OPTION = typer.Option("--dry-run", help="check every row, record nothing")
REPORT_OPTION = typer.Option(help="write the row-by-row report to this CSV file")
SHEET_ARGUMENT = typer.Argument(help=".csv or .xlsx; the first row names the columns")


@import_app.command("attendance")
def import_attendance(
    file: Annotated[Path, SHEET_ARGUMENT],
    dry_run: Annotated[bool, DRY_RUN_OPTION] = False,
    report: Annotated[Path | None, REPORT_OPTION] = None,
) -> None:
    """Record the attendance listed in a spreadsheet; running it again records nothing twice.

    Columns: session / séance, beneficiary / bénéficiaire, status / présence, minutes.

    Exit 0: every row recorded or already recorded; 1: some refused; 2: file or service fails.
    """
    from dn.sheet_upload import run_import
    from services.training.importer import ATTENDANCE

    raise typer.Exit(run_import(ATTENDANCE, file, dry_run=dry_run, report=report))


@import_app.command("placements")
def import_placements(
    file: Annotated[Path, SHEET_ARGUMENT],
    dry_run: Annotated[bool, DRY_RUN_OPTION] = False,
    report: Annotated[Path | None, REPORT_OPTION] = None,
) -> None:
    """Record the placements listed in a spreadsheet; running it again records nothing twice.

    Columns: beneficiary / bénéficiaire, kind / type de sortie, start / date de début,
    employer / employeur, digital / secteur numérique.

    Exit 0: every row recorded or already recorded; 1: some refused; 2: file or service fails.
    """
    from dn.sheet_upload import run_import
    from services.orientation.importer import PLACEMENTS

    raise typer.Exit(run_import(PLACEMENTS, file, dry_run=dry_run, report=report))


@registration_app.command("export")
def export_beneficiary(
    beneficiary_id: Annotated[str, typer.Argument(help="the beneficiary's id")],
    output: Annotated[Path | None, typer.Option(help="write to this file, not stdout")] = None,
) -> None:
    """Everything every service holds about one person, as one JSON document (right of access)."""
    from dn import registration_commands as cli

    raise typer.Exit(cli.export_beneficiary(beneficiary_id, output))


@registration_app.command("retention")
def retention(
    apply: Annotated[bool, typer.Option("--apply", help="anonymise; default lists only")] = False,
    older_than_days: Annotated[int, typer.Option(help="without contact for this long")] = 730,
) -> None:
    """List the people without contact for the retention period; --apply anonymises them."""
    from dn import registration_commands as cli

    raise typer.Exit(cli.run_retention(apply, older_than_days))


@reporting_app.command("rebuild")
def reporting_rebuild(
    force: Annotated[
        bool, typer.Option("--force", help="take over from a rebuild that has died")
    ] = False,
) -> None:
    """Replay the canonical topics into a fresh projection version, then switch reads to it.

    The running reporting service keeps answering from the current version meanwhile and
    feeds the new one with live events; the switch is one atomic update.
    """
    from services.reporting.rebuild import run_rebuild

    raise typer.Exit(run_rebuild(force=force))


@reporting_app.command("export")
def reporting_export(
    format: Annotated[str, typer.Option(help="csv, xlsx, html or pdf")],
    out: Annotated[Path, typer.Option(help="the file to write (a directory: the service's name)")],
    breakdown: Annotated[
        str | None,
        typer.Option(
            help="district, association, gender, age_band, track, careers_gender, "
            "cohort or month (csv: district by default; xlsx: every one by default)"
        ),
    ] = None,
    association: Annotated[str | None, typer.Option(help="only this association")] = None,
    district: Annotated[str | None, typer.Option(help="only this district")] = None,
    track: Annotated[str | None, typer.Option(help="only this track")] = None,
    lang: Annotated[str, typer.Option(help="fr or en")] = "fr",
    audience: Annotated[
        Role, typer.Option("--as", help="coordinator (exact), association, funder (<5 hidden)")
    ] = Role.COORDINATOR,
) -> None:
    """Write an impact export from the running reporting service (figures as --as sees them).

    Exit 0: written; 1: the service refused; 2: usage, no platform, or the file cannot be written.
    """
    from dn import reporting_commands as cli

    raise typer.Exit(
        cli.export(
            format,
            out,
            breakdown=breakdown,
            association=association,
            district=district,
            track=track,
            lang=lang,
            audience=audience,
        )
    )
