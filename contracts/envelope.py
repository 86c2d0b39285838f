"""CloudEvents 1.0 envelope and its Kafka protocol binding (binary mode; structured accepted)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

JSON = "application/json"
STRUCTURED = "application/cloudevents+json"
# What can make a lone surrogate: a \u escape of one (\ud800 to \udfff), or its UTF-8-like
# bytes (ED A0-BF …), which json.loads takes in ("surrogatepass") though they are no UTF-8.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
CE_PREFIX = "ce_"
REQUIRED_ATTRIBUTES = ("id", "source", "type", "specversion")


class EnvelopeError(ValueError):
    """A Kafka record that is not a readable CloudEvent; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CloudEvent(BaseModel):
    """One event: CloudEvents attributes plus the JSON ``data`` of its type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = "1.0"
    id: UUID = Field(default_factory=uuid4)
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: str = JSON
    data: dict[str, Any]

    @field_validator("specversion")
    @classmethod
    def _only_1_0(cls, value: str) -> str:
        if value != "1.0":
            raise ValueError(f"specversion {value!r} is not supported; send '1.0'")
        return value

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a timezone (RFC 3339), e.g. 2026-01-31T09:00:00Z")
        offset = value.utcoffset()
        if offset is not None and offset % timedelta(minutes=1):
            # RFC 3339 offsets are whole minutes (historic local mean time is not): written
            # as is, the header would not parse back and the JSON form would shift the instant.
            return value.astimezone(UTC)
        return value

    # -- Kafka binary mode -------------------------------------------------------------------

    def to_kafka(self) -> tuple[bytes, dict[str, str]]:
        """The record value (the data as JSON) and the ``ce_*`` headers."""
        headers = {
            "ce_specversion": self.specversion,
            "ce_id": str(self.id),
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.isoformat(),
            "content-type": self.datacontenttype,
        }
        if self.subject is not None:
            headers["ce_subject"] = self.subject
        return json.dumps(self.data, separators=(",", ":")).encode(), headers

    @classmethod
    def from_kafka(
        cls, value: bytes | None, headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes]
    ) -> CloudEvent:
        """Read a record in binary or structured mode; raises :class:`EnvelopeError`."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        # Only our headers are read: a partner's own header need not even be UTF-8.
        decoded = {}
        for name, raw in pairs:
            lowered = name.lower()
            if lowered.startswith(CE_PREFIX) or lowered == "content-type":
                decoded[lowered] = _text(raw)
        content_type = decoded.get("content-type", "").split(";")[0].strip()
        body = _json_object(value)
        if content_type == STRUCTURED:
            return cls.from_structured(body)
        attributes: dict[str, Any] = {
            name[len(CE_PREFIX) :]: text
            for name, text in decoded.items()
            if name.startswith(CE_PREFIX)
        }
        missing = [a for a in REQUIRED_ATTRIBUTES if a not in attributes]
        if missing:
            raise EnvelopeError(
                "missing_attribute",
                "binary-mode record lacks header(s) "
                + ", ".join(CE_PREFIX + a for a in missing)
                + f"; or send content-type {STRUCTURED} with the whole event as JSON",
            )
        attributes["datacontenttype"] = content_type or JSON
        return _validate({**attributes, "data": body})

    @classmethod
    def from_structured(cls, event: Mapping[str, Any]) -> CloudEvent:
        """Read a structured-mode event (the whole CloudEvent as one JSON object)."""
        missing = [a for a in (*REQUIRED_ATTRIBUTES, "data") if a not in event]
        if missing:
            raise EnvelopeError("missing_attribute", "structured event lacks " + ", ".join(missing))
        fields = {k: v for k, v in event.items() if k in CloudEvent.model_fields}
        unknown = sorted(set(event) - set(fields))
        if unknown:
            raise EnvelopeError(
                "unknown_attribute",
                "unknown attribute(s) " + ", ".join(unknown) + "; extensions are not accepted",
            )
        if not isinstance(event["data"], dict):
            raise EnvelopeError("invalid_data", "data must be a JSON object")
        return _validate(fields)


def _validate(fields: Mapping[str, Any]) -> CloudEvent:
    try:
        return CloudEvent.model_validate(fields)
    except ValidationError as error:
        raise EnvelopeError("invalid_attribute", describe_validation_error(error)) from error


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each invalid field and what was wrong with it."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in error.errors()
    )


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode()
    except UnicodeDecodeError as error:
        raise EnvelopeError("invalid_header", "a header value is not UTF-8") from error


def _json_object(value: bytes | None) -> dict[str, Any]:
    if not value:
        raise EnvelopeError("empty_value", "the record has no value; send the event data as JSON")
    try:
        body = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EnvelopeError("invalid_json", f"the record value is not JSON ({error})") from error
    if not isinstance(body, dict):
        raise EnvelopeError("invalid_json", "the record value must be a JSON object")
    # Looked for in the raw bytes first, so the usual record is not encoded again to find out.
    if SURROGATE_ESCAPE.search(value) and _has_lone_surrogate(body):
        raise EnvelopeError(
            "invalid_json",
            "the record value escapes half a surrogate pair (\\ud800 to \\udfff alone), which is "
            "no Unicode text; send UTF-8, or both halves of the pair",
        )
    return body


def _has_lone_surrogate(body: dict[str, Any]) -> bool:
    """A lone surrogate is no Unicode text: no store or log could take it."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False
