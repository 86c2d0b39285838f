"""Partner intake over HTTP: ``POST /ingest/{service}`` takes one CloudEvent in structured mode,
checks it (a partner token sends only for its own association and names only its records: see
``intake_scope``), and publishes it in binary mode on the service's intake topic."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from contracts.catalogue import decode, intake_types
from contracts.envelope import JSON as JSON_MEDIA_TYPE
from contracts.envelope import STRUCTURED, CloudEvent, EnvelopeError
from contracts.event import EventData
from contracts.topics import INTAKE
from kit.auth import AuthError, Principal, Role, principal_from_header
from kit.intake import PARTNER_HEADER
from kit.settings import Settings

from .intake_scope import ScopeUnavailable, foreign_record
from .limits import TokenBucket
from .services import Services

MAX_EVENT_BYTES = 64 * 1024
INTAKE_PREFIX = "dn.intake."
SERVICES = tuple(topic.removeprefix(INTAKE_PREFIX) for topic in INTAKE)
MEDIA_TYPES = (STRUCTURED, JSON_MEDIA_TYPE)
PUBLISH_TIMEOUT_S = 10.0
RETRY_AFTER_S = 5  # when the broker or a service did not answer

tracer = trace.get_tracer(__name__)


class Refused(Exception):
    """The event is not accepted: an HTTP status and what the sender should change."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": str(self)}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class IntakePublisher:
    """The gateway's producer for the intake topics (acks=all); started with the app."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds a producer to the running loop: create it in the app's lifespan.
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all")
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        """Send one record and wait for every in-sync replica to acknowledge it."""
        if self._producer is None:
            raise RuntimeError("the intake publisher is not started")
        await self._producer.send_and_wait(
            topic,
            value=value,
            key=key.encode(),
            headers=[(name, text.encode()) for name, text in headers.items()],
        )


def ingest_router(
    settings: Settings,
    publisher: IntakePublisher,
    services: Services,
    rate: TokenBucket | None = None,
) -> APIRouter:
    router = APIRouter()
    bucket = rate or TokenBucket(settings.ingest_rate_per_s, settings.ingest_burst)

    @router.post("/ingest/{service}", status_code=202)
    async def ingest(service: str, request: Request) -> JSONResponse:
        """One partner event, checked like the consumer will check it, then published."""
        try:
            who = _sender(settings, request.headers.get("authorization"))
            _within_rate(bucket, who)
            topic = _intake_topic(service)
            _require_json(request.headers.get("content-type"))
            event = _envelope(await _body(request))
            data = _data(event, topic)
            _require_own_association(who, data)
            await _require_own_records(services, service, who, data)
            await _publish(publisher, topic, event, data, who)
            return JSONResponse({"id": str(event.id), "topic": topic}, status_code=202)
        except Refused as refusal:
            return refusal.response()

    return router


def _sender(settings: Settings, authorization: str | None) -> Principal:
    try:
        who = principal_from_header(settings, authorization)
        who.require(Role.PARTNER, Role.COORDINATOR)
    except AuthError as error:
        raise Refused(error.status, str(error)) from error
    return who


def _within_rate(bucket: TokenBucket, who: Principal) -> None:
    """Each token subject (per association) sends at most DN_INGEST_RATE_PER_S events a second,
    in bursts of DN_INGEST_BURST; beyond, 429 with Retry-After (whole seconds, at least 1)."""
    wait = bucket.take(f"{who.subject}|{who.association_id or ''}")
    if wait > 0:
        raise Refused(
            429,
            f"too many events from this token: at most {bucket.rate:g} a second in bursts of "
            f"{bucket.burst}; send this one again in {wait:.2f} s",
            headers={"retry-after": str(max(1, math.ceil(wait)))},
        )


def _intake_topic(service: str) -> str:
    if service not in SERVICES:
        raise Refused(404, f"no intake for {service!r}; send to one of: {', '.join(SERVICES)}")
    return INTAKE_PREFIX + service


def _require_json(content_type: str | None) -> None:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise Refused(
            415,
            f"content-type {media_type or '(none)'!r} is not accepted; send one CloudEvent in "
            f"structured mode as {' or '.join(MEDIA_TYPES)}",
        )


async def _body(request: Request) -> bytes:
    """The body, refused as soon as it is known to exceed the limit (before any parsing)."""
    too_large = f"an event may be at most {MAX_EVENT_BYTES} bytes (64 KiB); send one per request"
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "the Content-Length header is not a number of bytes")
        if int(declared) > MAX_EVENT_BYTES:
            raise Refused(413, too_large)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_EVENT_BYTES:
            raise Refused(413, too_large)
    return bytes(body)


def _envelope(body: bytes) -> CloudEvent:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Refused(400, f"the body is not JSON ({error})") from error
    if isinstance(parsed, list):
        raise Refused(400, "batches are not accepted; send one CloudEvent per request")
    if not isinstance(parsed, dict):
        raise Refused(400, "the body must be one CloudEvent, as a JSON object")
    try:
        event = CloudEvent.from_structured(parsed)
    except EnvelopeError as error:
        raise Refused(400, error.detail, _field_errors(error, "")) from error
    if event.datacontenttype.split(";")[0].strip().lower() != JSON_MEDIA_TYPE:
        raise Refused(
            400,
            f"datacontenttype must be {JSON_MEDIA_TYPE} (or left out)",
            [{"field": "datacontenttype", "message": f"send {JSON_MEDIA_TYPE}"}],
        )
    return event


def _data(event: CloudEvent, topic: str) -> EventData:
    types = intake_types(topic)
    if not types:
        raise Refused(400, f"{topic} accepts no event types yet")
    try:
        return decode(event, types)
    except EnvelopeError as error:
        if error.reason == "unknown_type":
            raise Refused(
                400,
                f"event type {event.type!r} is not accepted on {topic}; accepted: "
                + ", ".join(sorted(types)),
                [{"field": "type", "message": "accepted: " + ", ".join(sorted(types))}],
            ) from error
        raise Refused(400, error.detail, _field_errors(error, "data.")) from error


def _field_errors(error: EnvelopeError, prefix: str) -> list[dict[str, str]] | None:
    """One entry per invalid field, when the error comes from a model's validation."""
    cause = error.__cause__
    if not isinstance(cause, ValidationError):
        return None
    return [
        {"field": prefix + ".".join(str(part) for part in e["loc"]), "message": e["msg"]}
        for e in cause.errors()
    ]


def _require_own_association(who: Principal, data: EventData) -> None:
    """A partner speaks only for its own association; coordinators for every one. A request
    without ``association_id`` is scoped by the records it names (below)."""
    if who.role is not Role.PARTNER:
        return
    association_id = getattr(data, "association_id", None)
    if association_id is not None and association_id != who.association_id:
        raise Refused(
            403,
            f"this token may send events only for association {who.association_id!r}; "
            f"data.association_id is {association_id!r}",
        )


async def _require_own_records(
    services: Services, service: str, who: Principal, data: EventData
) -> None:
    """A partner may name only its own association's sessions, people, referrals and
    placements (as far as ``service`` knows them: what it does not know yet is accepted)."""
    if who.role is not Role.PARTNER or who.association_id is None:
        return
    try:
        reason = await foreign_record(services, service, who.association_id, data)
    except ScopeUnavailable as unavailable:
        raise Refused(
            503, str(unavailable), headers={"retry-after": str(RETRY_AFTER_S)}
        ) from unavailable
    if reason is not None:
        raise Refused(403, reason)


async def _publish(
    publisher: IntakePublisher, topic: str, event: CloudEvent, data: EventData, who: Principal
) -> None:
    value, headers = event.to_kafka()
    headers[PARTNER_HEADER] = who.association_id or who.subject
    attributes = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation": "publish",
        "messaging.message.id": str(event.id),
    }
    with tracer.start_as_current_span(
        f"{topic} publish", kind=SpanKind.PRODUCER, attributes=attributes
    ):
        propagate.inject(headers)  # traceparent: the consumer's span continues this trace
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await publisher.publish(topic, event.subject or data.subject(), value, headers)
        except (KafkaError, TimeoutError) as error:
            raise Refused(
                503,
                "the event broker did not acknowledge the event; send it again with the same "
                "id (a repeated id is applied once)",
                headers={"retry-after": str(RETRY_AFTER_S)},
            ) from error
