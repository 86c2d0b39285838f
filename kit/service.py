"""What every service process shares: its runtime (MongoDB, broker, outbox relay, dead letters,
access log), the FastAPI app with /healthz, /metrics and /audit, and the process entry point."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import uvicorn
from aiokafka import ConsumerRecord
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.api.intake import DeliveryLine
from contracts.envelope import CloudEvent
from contracts.errors import Conflict, InvalidInput, NotFound
from kit import outbox
from kit.audit import MAX_ENTRIES, Actor, Audit, AuditEntry, AuditLog
from kit.auth import AuthError, Principal, Role, principal_from_header
from kit.broker import KafkaTransport, build_broker
from kit.consumer import (
    BatchHandler,
    Fetching,
    IdempotentConsumer,
    RetryPolicy,
    subscribe_batch,
    subscribe_records,
)
from kit.deadletter import DeadLetters
from kit.deliveries import Deliveries
from kit.event_logs import EventLogReport
from kit.fetch_watch import watch_fetch_positions
from kit.heap import settle_after_start_up
from kit.intake import Intake, IntakeRules
from kit.log_positions import BrokerResets, LogPositions, positions_of
from kit.logs import configure_logging
from kit.metrics import HTTP_REQUEST_SECONDS
from kit.mongo import (
    Document,
    Session,
    abort_orphaned_transactions,
    abort_orphaned_transactions_forever,
    connect,
    in_transaction,
    shared_session,
    sharing,
)
from kit.parking import Parking
from kit.settings import Settings, get_settings
from kit.telemetry import current_trace_id, setup_telemetry
from kit.topics import ensure_topics

T = TypeVar("T")
log = logging.getLogger(__name__)
# What a caller told "the database is unavailable" should wait before trying again.
RETRY_AFTER_S = 5
# /healthz answers within about this (the gateway waits 2 s), saying which part is unreachable.
HEALTH_TIMEOUT_S = 1.5
# How long a stopping service waits for its background tasks after cancelling them; one that
# has not stopped by then is named in the log and the shutdown goes on without it.
STOP_TIMEOUT_S = 10.0


@dataclass
class Runtime:
    """The live connections of one service process."""

    name: str
    settings: Settings
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    broker: KafkaBroker
    dead_letters: DeadLetters
    relay: outbox.OutboxRelay
    transport: KafkaTransport
    audit: AuditLog
    resets: BrokerResets = field(default_factory=BrokerResets)
    positions: list[LogPositions] = field(default_factory=list)
    intake: Intake | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of events this service emits."""
        return f"dn/{self.name}"

    async def transact(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, then wake the relay for any event it enqueued.
        Inside a batch's shared transaction nothing has committed yet: the batch wakes the relay
        once it has (woken per request, the relay read the log hundreds of times for nothing)."""
        shared = shared_session()
        joined = shared is not None and shared.client is self.client
        result = await in_transaction(self.client, work)
        if not joined:
            self.committed()
        return result

    def committed(self) -> None:
        """A transaction of this service committed: the relay has events to publish, and what
        parked partner requests wait for may have arrived."""
        self.relay.notify()
        if self.intake is not None:
            self.intake.wake()

    def consume(
        self,
        *topics: str,
        group_id: str,
        handle: Callable[[CloudEvent], Awaitable[object]],
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        """Hand each event to ``handle``, a batch at a time in one transaction."""

        async def handle_together(events: list[CloudEvent]) -> None:
            # A batch's effects, processed ids and outbox records commit together (kit.mongo
            # sharing); should one event fail, kit.consumer applies the batch one by one.
            async def work(session: Session) -> None:
                async with sharing(session):
                    for event in events:
                        await handle(event)

            await in_transaction(self.client, work)
            self.committed()

        subscribe_batch(
            self.broker,
            *topics,
            group_id=group_id,
            handle=handle_together,
            dead_letters=self.dead_letters,
            retry=retry,
            fetching=self._fetching(group_id),
        )

    def consume_batches(
        self,
        *topics: str,
        group_id: str,
        handle: BatchHandler,
        max_records: int = 500,
        retry: RetryPolicy = RetryPolicy(),
        live: bool = False,
    ) -> None:
        """Hand events to ``handle`` a batch at a time. ``live``: a path whose freshness users
        see (reporting's projection) fetches with the short wait and never lingers; the others
        gather what trickles in for ``canonical_linger_ms``."""

        async def handle_then_wake(events: list[CloudEvent]) -> object:
            result = await handle(events)
            self.committed()
            return result

        subscribe_batch(
            self.broker,
            *topics,
            group_id=group_id,
            handle=handle_then_wake,
            dead_letters=self.dead_letters,
            retry=retry,
            fetching=self._fetching(group_id, max_records, live=live, linger=not live),
        )

    async def consume_intake(
        self, *topics: str, group_id: str, rules: IntakeRules, max_records: int = 500
    ) -> Intake:
        """Take partner requests in batches: applied, parked until what they name arrives
        (kit.parking), or refused; counted per partner in the delivery log."""
        parking = Parking(
            self.db,
            self.name,
            timedelta(seconds=self.settings.parked_max_wait_s),
            self.settings.parked_per_partner,
        )
        await parking.ensure_indexes()
        await parking.load()
        intake = Intake(
            self.client, rules, parking, Deliveries(self.db, self.name), self.dead_letters
        )
        self.intake = intake

        async def take(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
            await intake.take(records)
            self.relay.notify()

        subscribe_records(
            self.broker,
            *topics,
            group_id=group_id,
            take=take,
            fetching=self._fetching(group_id, max_records),
        )
        self.tasks.append(asyncio.create_task(intake.run(), name=f"{self.name}-parked-requests"))
        return intake

    def _fetching(
        self, group_id: str, max_records: int = 500, live: bool = False, linger: bool = False
    ) -> Fetching:
        """How ``group_id`` takes its records: ``live`` with the short fetch wait, lingering
        for ``canonical_linger_ms`` when ``linger``; its log positions kept in its database."""
        positions = LogPositions(self.db, group_id)
        self.positions.append(positions)
        settings = self.settings
        return Fetching(
            max_records=max_records,
            fetch_max_wait_ms=(
                settings.live_fetch_max_wait_ms if live else settings.fetch_max_wait_ms
            ),
            linger_ms=settings.canonical_linger_ms if linger else 0,
            positions=positions,
            resets=self.resets,
        )

    def idempotent(self, consumer_name: str) -> IdempotentConsumer:
        return IdempotentConsumer(self.client, self.db, consumer_name)


async def open_runtime(name: str, settings: Settings) -> Runtime:
    bootstrap = settings.resolved_kafka_bootstrap
    await ensure_topics(bootstrap, settings.kafka_partitions, settings.kafka_replication)
    client = connect(settings.resolved_mongodb_url, app_name=f"dn-{name}")
    # Before anything else: an index build would wait for a transaction the process this one
    # replaces left open when it was killed (see kit.mongo).
    await abort_orphaned_transactions(client, f"dn-{name}")
    db = client[f"{settings.database_prefix}{name}"]
    await outbox.ensure_indexes(db)
    audit = AuditLog(db, name)
    await audit.ensure_indexes()
    broker = build_broker(bootstrap, client_id=f"dn-{name}")
    transport = KafkaTransport(
        bootstrap, settings.kafka_partitions, settings.kafka_replication, client_id=f"dn-{name}"
    )
    resets = BrokerResets()
    return Runtime(
        name=name,
        settings=settings,
        client=client,
        db=db,
        broker=broker,
        dead_letters=DeadLetters(bootstrap, consumer=f"dn-{name}"),
        relay=outbox.OutboxRelay(db, transport, resets=resets),
        resets=resets,
        transport=transport,
        audit=audit,
    )


def parked_report(intake: Intake | None) -> dict[str, Any]:
    if intake is None:
        return {}
    oldest = intake.parking.oldest()
    return {
        "requests": len(intake.parking),
        "oldest_age_s": None if oldest is None else (datetime.now(UTC) - oldest).total_seconds(),
        "per_partner": intake.parking.waiting_per_partner(),
    }


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def any_caller(request: Request) -> Principal:
    """The verified identity behind the request, from a token signed for this service."""
    runtime = runtime_of(request)
    return principal_from_header(
        runtime.settings, request.headers.get("authorization"), audience=runtime.name
    )


def caller(request: Request) -> Principal:
    """The verified identity behind the request (FastAPI dependency). Ops (health and metrics,
    which need no token) and partners (intake only, at the gateway) are refused here; a route
    open to partners asks for :func:`any_caller` instead."""
    who = any_caller(request)
    if who.role in (Role.OPS, Role.PARTNER):
        raise AuthError(
            f"role {who.role.value!r} may not use the {runtime_of(request).name} API", 403
        )
    return who


def audit_of(request: Request, who: Annotated[Principal, Depends(caller)]) -> Audit:
    """The service's access log bound to this request's caller and route template (FastAPI
    dependency): ``audit(Action.READ, RecordKind.ATTENDANCE, ids)``."""
    route = getattr(request.scope.get("route"), "path", None) or request.url.path
    return runtime_of(request).audit.bound(Actor.of(who), f"{request.method} {route}")


ServiceSetup = Callable[[Runtime], Awaitable[None]]


async def stop_tasks(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait for them, at most :data:`STOP_TIMEOUT_S`: a task that does not
    stop must not hold the process's shutdown (and the broker's final positions) for ever."""
    for task in tasks:
        task.cancel()
    done, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("task %s had failed: %r", task.get_name(), error)
    if pending:
        log.error(
            "stopping without tasks that did not stop within %s s: %s",
            STOP_TIMEOUT_S,
            ", ".join(sorted(task.get_name() for task in pending)),
        )


def service_app(
    name: str,
    settings: Settings,
    *,
    router: APIRouter | None = None,
    setup: ServiceSetup | None = None,
) -> FastAPI:
    """A service's HTTP app; its lifespan opens the runtime, runs ``setup`` and the relay."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await open_runtime(name, settings)
        app.state.runtime = runtime
        if setup is not None:
            await setup(runtime)  # subscribers must exist before the broker starts
        await runtime.dead_letters.start()
        await runtime.broker.start()
        relay = asyncio.create_task(runtime.relay.run(), name=f"{name}-outbox-relay")
        runtime.tasks.append(
            asyncio.create_task(
                abort_orphaned_transactions_forever(runtime.client, f"dn-{name}"),
                name=f"{name}-orphaned-transactions",
            )
        )
        runtime.tasks.append(
            asyncio.create_task(
                watch_fetch_positions(runtime.broker.subscribers), name=f"{name}-fetch-positions"
            )
        )
        try:
            yield
        finally:
            await stop_tasks([relay, *runtime.tasks])
            await runtime.transport.close()
            await runtime.broker.stop()  # no record is handled after this: positions are final
            for positions in runtime.positions:
                with contextlib.suppress(Exception):
                    await positions.close()
            await runtime.dead_letters.stop()
            await runtime.client.close()

    app = FastAPI(title=f"Digital Neighbourhoods — {name}", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        runtime = runtime_of(request)

        async def mongodb_answers() -> bool:
            try:
                # Unbounded, the ping would wait out server selection (10 s) while MongoDB is away.
                await asyncio.wait_for(runtime.client.admin.command("ping"), HEALTH_TIMEOUT_S)
            except Exception:
                return False
            return True

        mongodb, kafka = await asyncio.gather(
            mongodb_answers(), runtime.broker.ping(timeout=HEALTH_TIMEOUT_S)
        )
        healthy = mongodb and kafka
        return JSONResponse(
            {
                "status": "ok" if healthy else "degraded",
                "service": name,
                "mongodb": mongodb,
                "kafka": kafka,
            },
            status_code=200 if healthy else 503,
        )

    @app.get("/log")
    async def event_log(request: Request) -> EventLogReport:
        """How far this service's event log goes, what it re-published after a broker lost it,
        and where its subscribers stand in the others' logs (counts only, no event)."""
        runtime = runtime_of(request)
        heads = await outbox.log_heads(runtime.db)
        return EventLogReport.model_validate(
            {
                "service": name,
                **heads.as_json(),
                "reseed": runtime.relay.reseed.as_json(),
                "subscribers": await positions_of(runtime.db),
                "parked": parked_report(runtime.intake),
            }
        )

    @app.get("/deliveries")
    async def delivery_log(
        request: Request, who: Annotated[Principal, Depends(any_caller)], partner: str | None = None
    ) -> list[DeliveryLine]:
        """Per partner: intake requests applied, refused (with the last reason) and waiting for
        what they name (``contracts.api.intake``). A partner or an association sees only its
        own line."""
        who.require(Role.COORDINATOR, Role.ASSOCIATION, Role.PARTNER)
        intake = runtime_of(request).intake
        if intake is None:
            return []
        # Staff and partners of an association see the lines of what was sent with its tokens.
        association = None if who.role is Role.COORDINATOR else who.association_id or "-"
        waiting = intake.parking.waiting_per_partner()
        return await intake.deliveries.lines(partner, waiting, association)

    @app.get("/audit")
    async def audit_log(
        request: Request,
        who: Annotated[Principal, Depends(caller)],
        beneficiary_id: str | None = None,
        actor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 100,
    ) -> list[AuditEntry]:
        """Who read or changed people's records in this service, newest first (coordinators)."""
        who.require(Role.COORDINATOR)
        return await runtime_of(request).audit.entries(beneficiary_id, actor, limit)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(AuthError)
    async def auth_error(_: Request, error: AuthError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, error: InvalidInput) -> JSONResponse:
        errors = [{"field": e.field, "message": e.message} for e in error.errors]
        body: dict[str, Any] = {"error": str(error), "errors": errors}
        if isinstance(error, Conflict):
            body["existing_id"] = error.existing_id
        return JSONResponse(body, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field_name(e["loc"]), "message": e["msg"]} for e in error.errors()]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"error": message, "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        # One error shape for every refusal, e.g. a body that is not UTF-8 JSON (400).
        message = str(error.detail)
        errors = [{"field": "body", "message": message}] if error.status_code == 400 else []
        return JSONResponse(
            {"error": message, "errors": errors},
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(ConnectionFailure)
    async def database_unavailable(request: Request, error: ConnectionFailure) -> JSONResponse:
        # The database is down or electing a primary: a refusal to retry, not a crash (500).
        log.warning(
            "%s %s: MongoDB unavailable (%s)",
            request.method,
            request.url.path,
            f"{type(error).__name__}: {error}"[:200],
        )
        return JSONResponse(
            {"error": f"the {name} service cannot reach its database; try again shortly"},
            status_code=503,
            headers={"retry-after": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=404)

    if router is not None:
        app.include_router(router)
    instrument_http_app(app)
    return app


class TraceIdHeader:
    """ASGI middleware: the request's trace id in the ``x-trace-id`` answer header, and its
    duration in the HTTP metrics. Plain ASGI, not Starlette's ``@app.middleware("http")``,
    which runs every request through a task group and a body stream (~15% of the CPU of a
    small GraphQL answer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                trace_id = current_trace_id()
                if trace_id:
                    headers = [*message.get("headers", ()), (b"x-trace-id", trace_id.encode())]
                    message = {**message, "headers": headers}
                # The route the router matched (it sets it in the shared scope).
                template = getattr(scope.get("route"), "path", None) or "unmatched"
                if template not in ("/healthz", "/metrics"):
                    HTTP_REQUEST_SECONDS.labels(
                        scope["method"], template, str(message["status"])
                    ).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, traced)


def instrument_http_app(app: FastAPI) -> None:
    """Trace every request (not health or metrics) and return its trace id to the caller."""

    app.add_middleware(TraceIdHeader)

    # The ASGI send/receive spans add a dozen children per request and say nothing.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,metrics", exclude_spans=["receive", "send"]
    )


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "first_name")`` → ``firstName``: the name the caller used in GraphQL."""
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(
        head + "".join(word.title() for word in rest)
        for head, *rest in (part.split("_") for part in parts)
    )


def run(name: str, build: Callable[[Settings], FastAPI]) -> None:
    """Process entry point: logging, telemetry, then serve the app on the service's port."""
    settings = get_settings()
    configure_logging(name, settings.log_level)
    setup_telemetry(name, settings.home, flush_ms=settings.trace_flush_ms)
    port = settings.gateway_port if name == "gateway" else settings.service_port(name)
    app = build(settings)
    settle_after_start_up()
    uvicorn.run(app, host=settings.host, port=port, log_config=None)
