"""`dn status`: asks MongoDB, the broker, every process's /healthz and /metrics and the consumer
groups' offsets, all at once and briefly, then prints the platform's health on one screen."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta

import httpx
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from dn.infra import EmbeddedInfra, InfraError
from dn.status import (
    GroupLag,
    PartHealth,
    PlatformHealth,
    ServiceHealth,
    figures_from_exposition,
    group_lag,
)
from kit.auth import AuthError, Role, issue_token
from kit.event_logs import read_event_logs
from kit.parking import describe_wait
from kit.settings import SERVICE_NAMES, Settings

PROCESSES = (*SERVICE_NAMES, "gateway")
HTTP_TIMEOUT_S = 3.0
LAG_TIMEOUT_S = 6.0
GROUP_PREFIX = "dn-"


def run_status(settings: Settings, as_json: bool, console: Console) -> int:
    """Print the platform's health; 0 when every part answers healthy, 1 otherwise."""
    health = asyncio.run(probe(settings))
    if as_json:
        print(json.dumps(health.as_json(), indent=2))
    else:
        console.print(render(health))
    return 0 if health.healthy else 1


async def probe(settings: Settings) -> PlatformHealth:
    infra = asyncio.create_task(asyncio.to_thread(_infra, settings))
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        services, logs = await asyncio.gather(
            asyncio.gather(*(_service(client, settings, name) for name in PROCESSES)),
            read_event_logs(settings, client),
        )
    parts = await infra
    kafka = next(part for part in parts if part.name == "kafka")
    lag: tuple[GroupLag, ...] | None = None
    lag_error: str | None = None
    if kafka.up:
        try:
            lag = await asyncio.wait_for(
                consumer_lag(kafka.url, known_groups(settings)), LAG_TIMEOUT_S
            )
        except TimeoutError:
            lag_error = f"the broker did not give the offsets within {LAG_TIMEOUT_S:.0f} s"
        except Exception as error:  # an admin API the broker lacks: lag is a nice-to-have
            lag_error = f"{type(error).__name__}: {error}"
    else:
        lag_error = "the broker is down"
    return PlatformHealth(tuple(parts), tuple(services), lag, lag_error, logs)


def _infra(settings: Settings) -> list[PartHealth]:
    try:
        status = EmbeddedInfra(settings).status()
    except InfraError:  # no embedded wheels here, and no external URL: nothing to reach
        return [
            PartHealth(
                "mongodb", settings.resolved_mongodb_url, False, settings.mongodb_url is None
            ),
            PartHealth(
                "kafka", settings.resolved_kafka_bootstrap, False, settings.kafka_bootstrap is None
            ),
        ]
    return [
        PartHealth(part.name, part.url, part.running, part.embedded)
        for part in (status.mongodb, status.kafka)
    ]


async def _service(client: httpx.AsyncClient, settings: Settings, name: str) -> ServiceHealth:
    url = settings.gateway_url if name == "gateway" else settings.service_url(name)
    try:
        response = await client.get(f"{url}/healthz")
    except httpx.ConnectError:
        return ServiceHealth(name, url, False, False, "down (connection refused)")
    except httpx.TimeoutException:
        return ServiceHealth(name, url, False, False, f"no answer within {HTTP_TIMEOUT_S:.0f} s")
    except httpx.HTTPError as error:
        return ServiceHealth(name, url, False, False, f"not answering ({error})")
    healthy = response.status_code == 200
    detail = _health_detail(response)
    headers = {}
    if name == "gateway":  # the gateway's metrics are for ops: a locally signed ops token
        try:
            token = os.environ.get("DN_TOKEN") or issue_token(
                settings, Role.OPS, subject="dn-status"
            )
        except AuthError as error:
            return ServiceHealth(name, url, True, healthy, detail, None, str(error))
        headers["authorization"] = f"Bearer {token}"
    try:
        metrics = await client.get(f"{url}/metrics", headers=headers)
        metrics.raise_for_status()
        figures = figures_from_exposition(metrics.text)
    except (httpx.HTTPError, ValueError) as error:
        return ServiceHealth(name, url, True, healthy, detail, None, f"/metrics: {error}")
    return ServiceHealth(name, url, True, healthy, detail, figures)


def _health_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    if response.status_code == 200:
        return "ok"
    failing = [
        key for key, value in {**body, **(body.get("services") or {})}.items() if value is False
    ]
    return "degraded: " + (", ".join(failing) + " unreachable" if failing else str(body))


def known_groups(settings: Settings) -> list[str]:
    """The consumer groups the services declare (a broker may not list its groups: the embedded
    one does not)."""
    from dn.drain import platform_subscriptions

    subscriptions = platform_subscriptions(settings)
    return [sub.group for sub in (*subscriptions.intake, *subscriptions.canonical)]


async def consumer_lag(bootstrap: str, groups: list[str]) -> tuple[GroupLag, ...]:
    """Committed vs true end offsets (see ``kit.kafka_ends``) on the platform's topics, for
    ``groups`` and any other group named dn-* the broker lists."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from contracts.topics import ALL_TOPICS
    from kit.kafka_ends import true_end_offsets

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=4000)
    # A short fetch wait: an empty partition's end comes from a fetch that waits that long.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, request_timeout_ms=4000, fetch_max_wait_ms=100
    )
    await admin.start()
    try:
        try:
            await consumer.start()
            await consumer.topics()  # refreshes the metadata partitions_for_topic reads
            partitions = [
                TopicPartition(topic, number)
                for topic in ALL_TOPICS
                for number in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            found = await true_end_offsets(consumer, partitions)
        finally:
            await consumer.stop()
        ends = {(p.topic, p.partition): offset for p, offset in found.items()}
        listed = {str(entry[0]) for entry in await admin.list_consumer_groups()}
        names = sorted({*groups, *(g for g in listed if g.startswith(GROUP_PREFIX))})
        lags = []
        for group in names:
            # Partitions named: the "all partitions" form is one the embedded broker garbles.
            offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
            committed = {
                (partition.topic, partition.partition): meta.offset
                for partition, meta in offsets.items()
                if meta.offset >= 0
            }
            lags.append(group_lag(group, committed, ends))
    finally:
        await admin.close()
    return tuple(lags)


def render(health: PlatformHealth) -> Group:
    verdict = (
        Text("platform healthy", style="bold green")
        if health.healthy
        else Text("platform NOT healthy", style="bold red")
    )
    infra = Table(title="infrastructure", title_justify="left")
    infra.add_column("part")
    infra.add_column("state")
    infra.add_column("address", overflow="fold")
    for part in health.infra:
        infra.add_row(
            part.name,
            _state(part.up, "reachable" if part.up else "down"),
            part.url + ("  (embedded)" if part.embedded else ""),
        )
    services = Table(
        title="processes (figures since each started)",
        title_justify="left",
        caption="in: events consumed, out: published, dead: dead-lettered, "
        "outbox: not yet published, fresh p50: projection freshness median",
        caption_justify="left",
    )
    services.add_column("process", no_wrap=True)
    services.add_column("health")
    for column in ("in", "out", "dead", "outbox", "fresh p50"):
        services.add_column(column, justify="right", no_wrap=True)
    for service in health.services:
        figures = service.figures
        if figures is None:
            numbers = ["–"] * 5
        else:
            dead = sum(figures.dead_letters.values())
            numbers = [
                f"{figures.consumed_total:,.0f}",
                f"{figures.published:,.0f}",
                f"{dead:,.0f}",
                "–" if figures.outbox_backlog is None else f"{figures.outbox_backlog:,.0f}",
                "–"
                if figures.freshness_p50_s is None
                else f"{figures.freshness_p50_s * 1000:.0f} ms",
            ]
        services.add_row(
            service.name,
            _state(service.healthy, service.detail),
            *numbers,
        )
    notes: list[Text] = []
    for service in health.services:
        if service.figures and service.figures.dead_letters:
            reasons = ", ".join(
                f"{reason} {count:,.0f}"
                for reason, count in sorted(service.figures.dead_letters.items())
            )
            notes.append(Text(f"dead letters from {service.name}: {reasons}"))
        if service.metrics_error:
            notes.append(
                Text(f"{service.name} metrics unavailable: {service.metrics_error}", "yellow")
            )
    notes += [Text(line) for line in waiting_lines(health)]
    parts: list[Table | Text] = [verdict, infra, services, *notes]
    if any(log is not None and log.events for log in health.logs.values()):
        parts.append(_event_logs(health))
    if health.lag is not None:
        lag = Table(title="consumer lag", title_justify="left")
        lag.add_column("group")
        lag.add_column("records behind", justify="right")
        lag.add_column("partitions", justify="right")
        for group in health.lag:
            if group.partitions:
                lag.add_row(group.group, f"{group.lag:,}", str(group.partitions))
            else:
                lag.add_row(group.group, Text("nothing committed yet", style="dim"), "0")
        parts.append(lag)
    else:
        parts.append(Text(f"consumer lag unavailable: {health.lag_error}", style="dim"))
    for line in health.advice():
        parts.append(Text("→ " + line, style="bold"))
    return Group(*parts)


def waiting_lines(health: PlatformHealth) -> list[str]:
    """Per service, the partner requests waiting for what they name (kit.parking), the oldest's
    age and how many per partner: they are applied when it arrives, or dead-lettered after
    ``DN_PARKED_MAX_WAIT_S``."""
    lines = []
    for name, log in health.logs.items():
        if log is None or not log.parked.requests:
            continue
        parked = log.parked
        oldest = (
            ""
            if parked.oldest_age_s is None
            else f", the oldest for {describe_wait(timedelta(seconds=parked.oldest_age_s))}"
        )
        partners = ", ".join(f"{who} {n:,}" for who, n in sorted(parked.per_partner.items()))
        lines.append(
            f"waiting in {name} for what they name: {parked.requests:,} partner requests"
            f"{oldest} ({partners})"
        )
    return lines


def _event_logs(health: PlatformHealth) -> Table:
    table = Table(
        title="event logs (kept in each service's MongoDB; the broker is re-seeded from them)",
        title_justify="left",
    )
    table.add_column("service")
    for column in ("events", "unpublished", "re-published"):
        table.add_column(column, justify="right")
    for name, log in health.logs.items():
        if log is None:
            table.add_row(name, Text("no answer", style="red"), "", "")
        elif log.events:
            reseed = log.reseed
            again = f"{reseed.events:,}" + (
                f" ({reseed.pending:,} to go)" if reseed.running else f" in {reseed.seconds:.1f} s"
            )
            table.add_row(
                name,
                f"{log.events:,}",
                f"{log.unsent:,}",
                again if reseed.events or reseed.running else "–",
            )
    return table


def _state(good: bool, label: str) -> Text:
    return Text(label, style="green" if good else "red")
