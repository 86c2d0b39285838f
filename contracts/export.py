"""JSON Schema and AsyncAPI 3 export of the catalogue, and the check that committed copies match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from contracts.catalogue import ALL_TYPES
from contracts.envelope import JSON, STRUCTURED
from contracts.event import EventData
from contracts.topics import CANONICAL, DEAD_LETTER, INTAKE

SCHEMA_DIR = Path(__file__).parent / "schemas"
ASYNCAPI_FILE = Path(__file__).parent / "asyncapi.json"

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://digital-neighbourhoods.example/schemas/"
PACKAGE = "digital-neighbourhoods"
KAFKA_BINDING_VERSION = "0.5.0"
REGENERATE = "run `make contracts` and commit the result"

_PYDANTIC_DEFS = "#/$defs/"
_COMPONENT_SCHEMAS = "#/components/schemas/"


def json_schemas() -> dict[str, dict[str, Any]]:
    """One standalone JSON Schema (draft 2020-12) per event type, keyed by type."""
    return {event_type: _json_schema(model) for event_type, model in sorted(ALL_TYPES.items())}


def _json_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema.update(
        {
            "$schema": SCHEMA_DIALECT,
            "$id": f"{SCHEMA_BASE_URL}{model.event_type}.json",
            "title": model.event_type,
            "description": _description(model),
        }
    )
    return schema


def _description(model: type[EventData]) -> str:
    # ``__doc__`` is not inherited, so this is the model's own docstring or None.
    if not model.__doc__:
        raise TypeError(
            f"{model.__name__} has no docstring; describe the fact it records, "
            "it becomes the description of the published schema"
        )
    return " ".join(model.__doc__.split())


# -- AsyncAPI ---------------------------------------------------------------------------------


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every topic, message and who sends or receives it."""
    models = [model for _, model in sorted(ALL_TYPES.items())]
    services = _services()
    misplaced = [m.__name__ for m in models if m.topic not in (*CANONICAL, *INTAKE)]
    if misplaced:
        raise ValueError(
            f"{', '.join(misplaced)} must name a canonical or intake topic "
            f"({', '.join((*CANONICAL, *INTAKE))})"
        )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for service, (canonical, intake) in services.items():
        message_names = [m.__name__ for m in models if m.topic == canonical]
        intake_names = [m.__name__ for m in models if m.topic == intake]
        canonical_id, intake_id = f"{service}Events", f"{service}Intake"
        channels[canonical_id] = {
            "address": canonical,
            "title": f"{service} events",
            "description": (
                f"Facts recorded by the {service} service, written only by it (through its "
                "outbox relay), in CloudEvents binary mode."
            ),
            "messages": _channel_messages(message_names),
        }
        channels[intake_id] = {
            "address": intake,
            "title": f"{service} intake",
            "description": (
                f"Requests from partner systems for the {service} service, in binary mode or "
                f"in structured mode (content-type {STRUCTURED}, the whole event as one JSON "
                "object); the service validates and applies each, then publishes the resulting "
                f"facts on {canonical}. Records that cannot be read, validated or applied go to "
                f"{DEAD_LETTER} with the reason. Intake requests may carry personal data."
            ),
            "messages": _channel_messages(intake_names),
        }
        operations[f"send{service.title()}Events"] = _operation(
            "send", canonical_id, message_names, f"The {service} service publishes its facts."
        )
        operations[f"receive{service.title()}Intake"] = _operation(
            "receive", intake_id, intake_names, f"The platform receives partner {service} requests."
        )
    channels["deadLetters"] = {
        "address": DEAD_LETTER,
        "title": "dead letters",
        "description": (
            "Records a consumer could not process, from any topic. The original value bytes and "
            "headers are kept unchanged, plus dn_error (a stable reason code), dn_error_detail "
            "(what was wrong, for a person), dn_source_topic (where the record was read) and "
            "dn_failed_at (when it failed, RFC 3339)."
        ),
        "messages": _channel_messages(["DeadLetter"]),
    }
    operations["sendDeadLetters"] = _operation(
        "send",
        "deadLetters",
        ["DeadLetter"],
        "A consumer sets aside a record it cannot process, instead of stalling or dropping it.",
    )

    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for model in models:
        _add_component_schemas(schemas, model)
        messages[model.__name__] = _message(model)
    messages["DeadLetter"] = _dead_letter_message()

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Digital Neighbourhoods events",
            "version": _package_version(),
            "description": (
                "Every event of the Digital Neighbourhoods platform. Events are CloudEvents 1.0 "
                "in Kafka binary mode: the record value is the event data as JSON "
                f"(content-type {JSON}) and the attributes travel as headers ce_specversion, "
                "ce_id, ce_source, ce_type, ce_time and ce_subject, next to the W3C traceparent "
                "and tracestate. The record key is the beneficiary_id wherever a person is "
                "involved (per-person order), otherwise the aggregate id; it equals ce_subject. "
                "Intake topics (dn.intake.*) also accept structured mode: content-type "
                f"{STRUCTURED} with the whole event, attributes and data, as one JSON object. "
                "Canonical events carry no personal data; intake requests may (a partner enrolling "
                "someone gives their name), and only the registration service reads them."
            ),
        },
        "defaultContentType": JSON,
        "servers": {
            "local": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "The embedded Kafka-protocol broker started by `make up`.",
            },
            "production": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Apache Kafka (KRaft); placeholder, set DN_KAFKA_BOOTSTRAP.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _services() -> dict[str, tuple[str, str]]:
    """Each service's canonical and intake topic, paired by the service name in the topic."""
    canonical = {topic.split(".")[1]: topic for topic in CANONICAL}  # dn.<service>.events
    intake = {topic.split(".")[2]: topic for topic in INTAKE}  # dn.intake.<service>
    if canonical.keys() != intake.keys():
        raise ValueError(
            f"canonical topics {sorted(canonical.values())} and intake topics "
            f"{sorted(intake.values())} must name the same services"
        )
    return {service: (topic, intake[service]) for service, topic in canonical.items()}


def _channel_messages(names: list[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/messages/{name}"} for name in names}


def _operation(action: str, channel_id: str, names: list[str], summary: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in names],
    }


def _add_component_schemas(schemas: dict[str, Any], model: type[EventData]) -> None:
    """Add the model's schema and its ``$defs`` under components/schemas, refs rewritten."""
    schema = _rewrite_refs(model.model_json_schema(mode="validation"))
    definitions: dict[str, Any] = schema.pop("$defs", {})
    schema.update({"title": model.event_type, "description": _description(model)})
    for name, definition in {**definitions, model.__name__: schema}.items():
        if name in schemas and schemas[name] != definition:
            raise ValueError(
                f"two different schemas are both named {name!r} (in {model.__name__}); "
                "rename one so AsyncAPI components/schemas can hold both"
            )
        schemas[name] = definition


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                _COMPONENT_SCHEMAS + value.removeprefix(_PYDANTIC_DEFS)
                if key == "$ref" and isinstance(value, str) and value.startswith(_PYDANTIC_DEFS)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _message(model: type[EventData]) -> dict[str, Any]:
    key = _key_schema(model)
    return {
        "name": model.event_type,
        "title": model.__name__,
        "summary": _description(model),
        "contentType": JSON,
        "headers": _cloudevent_headers(model.event_type, key["description"]),
        "payload": {"$ref": _COMPONENT_SCHEMAS + model.__name__},
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _key_schema(model: type[EventData]) -> dict[str, Any]:
    # The key is whatever ``subject()`` returns; by the catalogue's rule that is the
    # beneficiary_id whenever the event carries one.
    if "beneficiary_id" in model.model_fields:
        return {
            "type": "string",
            "format": "uuid",
            "description": "the beneficiary_id, so each person's events stay in order",
        }
    return {"type": "string", "description": "the id of the aggregate the event is about"}


def _cloudevent_headers(event_type: str, subject: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"],
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {
                "type": "string",
                "format": "uuid",
                "description": "Unique per event; consumers use it to ignore redeliveries.",
            },
            "ce_source": {
                "type": "string",
                "minLength": 1,
                "description": "URI reference naming the producer: a service or a partner system.",
            },
            "ce_type": {"type": "string", "const": event_type},
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "When the fact happened, RFC 3339 with a timezone.",
            },
            "ce_subject": {"type": "string", "description": f"Same as the record key: {subject}."},
            "content-type": {"type": "string", "const": JSON},
            "traceparent": {"type": "string", "description": "W3C trace context."},
            "tracestate": {"type": "string", "description": "W3C trace context."},
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead_letter",
        "title": "DeadLetter",
        "summary": "A record set aside with the reason it could not be processed.",
        "headers": {
            "type": "object",
            "required": ["dn_error", "dn_error_detail", "dn_source_topic", "dn_failed_at"],
            "properties": {
                "dn_error": {
                    "type": "string",
                    "description": "Stable reason code, e.g. invalid_json, unknown_type, "
                    "invalid_data.",
                },
                "dn_error_detail": {
                    "type": "string",
                    "description": "What was wrong, which field, what is accepted.",
                },
                "dn_source_topic": {
                    "type": "string",
                    "enum": [*CANONICAL, *INTAKE],
                    "description": "The topic the record was read from.",
                },
                "dn_failed_at": {"type": "string", "format": "date-time"},
            },
            "description": "The dn_* headers below, plus the record's original headers unchanged.",
        },
        "contentType": "application/octet-stream",
        "payload": {"description": "The original record value, byte for byte (may not be JSON)."},
    }


def _package_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "1.0.0"


# -- files ------------------------------------------------------------------------------------


def write_all(schema_dir: Path = SCHEMA_DIR, asyncapi_file: Path = ASYNCAPI_FILE) -> list[Path]:
    """Write every schema and the AsyncAPI document, remove stale schemas; the paths written."""
    schema_dir.mkdir(parents=True, exist_ok=True)
    asyncapi_file.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_files(schema_dir, asyncapi_file):
        stale.unlink()
    written = []
    for path, document in _expected_files(schema_dir, asyncapi_file):
        path.write_text(_render(document), encoding="utf-8")
        written.append(path)
    return written


def drift(schema_dir: Path = SCHEMA_DIR, asyncapi_file: Path = ASYNCAPI_FILE) -> list[str]:
    """How the committed files differ from what the models produce; empty when in sync."""
    differences = []
    for path, document in _expected_files(schema_dir, asyncapi_file):
        if not path.exists():
            differences.append(f"{path} is missing; {REGENERATE}")
            continue
        try:
            committed = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            differences.append(f"{path} is not valid JSON ({error}); {REGENERATE}")
            continue
        where = _first_difference(document, committed)
        if where is not None:
            differences.append(
                f"{path} differs from the models at {where or 'the top level'}; {REGENERATE}"
            )
    differences.extend(
        f"{path} is stale: its event type is not in the catalogue; {REGENERATE}"
        for path in _stale_files(schema_dir, asyncapi_file)
    )
    return differences


def _expected_files(schema_dir: Path, asyncapi_file: Path) -> Iterator[tuple[Path, Any]]:
    for event_type, schema in json_schemas().items():
        yield schema_dir / f"{event_type}.json", schema
    yield asyncapi_file, asyncapi_document()


def _stale_files(schema_dir: Path, asyncapi_file: Path) -> list[Path]:
    if not schema_dir.is_dir():
        return []
    return sorted(
        path
        for path in schema_dir.glob("*.json")
        if path.stem not in ALL_TYPES and path.resolve() != asyncapi_file.resolve()
    )


def _render(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _first_difference(expected: Any, actual: Any, pointer: str = "") -> str | None:
    """The JSON pointer of the first place ``actual`` differs from ``expected``, else None."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys()):
            child = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            if key not in expected or key not in actual:
                return child
            where = _first_difference(expected[key], actual[key], child)
            if where is not None:
                return where
        return None
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            where = _first_difference(left, right, f"{pointer}/{index}")
            if where is not None:
                return where
        return None
    # type(...) too, so that 1 and 1.0 or true and 1 count as different
    return None if type(expected) is type(actual) and expected == actual else pointer
