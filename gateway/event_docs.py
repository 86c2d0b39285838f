"""The event catalogue served to partners at /docs/events: an HTML index of every event type
(description, topic, schema link), the AsyncAPI document and one JSON Schema per type. Public:
it holds the contracts, never data."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

import contracts

CONTRACTS = Path(contracts.__file__).parent
ASYNCAPI = CONTRACTS / "asyncapi.json"
SCHEMAS = CONTRACTS / "schemas"
PREFIX = "/docs/events"


@dataclass(frozen=True)
class EventType:
    type: str
    title: str
    description: str
    topic: str
    direction: str  # what the platform does with the topic: "publishes" or "receives"
    has_schema: bool


def catalogue(document: dict[str, Any], schema_dir: Path = SCHEMAS) -> list[EventType]:
    """Every message of the AsyncAPI document, with the topic it travels on, by topic then type."""
    messages = document["components"]["messages"]
    receiving = {
        operation["channel"]["$ref"].rsplit("/", 1)[-1]
        for operation in document.get("operations", {}).values()
        if operation.get("action") == "receive"
    }
    found: list[EventType] = []
    for channel_name, channel in document["channels"].items():
        for message_name in channel.get("messages", {}):
            message = messages.get(message_name, {})
            event_type = message.get("name", message_name)
            found.append(
                EventType(
                    type=event_type,
                    title=message.get("title", message_name),
                    description=message.get("summary") or message.get("description", ""),
                    topic=channel["address"],
                    direction="receives" if channel_name in receiving else "publishes",
                    has_schema=(schema_dir / f"{event_type}.json").is_file(),
                )
            )
    return sorted(found, key=lambda event: (event.topic, event.type))


def index_page(document: dict[str, Any], events: list[EventType]) -> str:
    info = document.get("info", {})
    rows = "\n".join(
        "<tr><td><code>{type}</code></td><td><code>{topic}</code> ({direction})</td>"
        "<td>{description}</td><td>{link}</td></tr>".format(
            type=html.escape(event.type),
            topic=html.escape(event.topic),
            direction=html.escape(event.direction),
            description=html.escape(event.description),
            link=(
                f'<a href="{PREFIX}/schemas/{html.escape(event.type)}.json">JSON Schema</a>'
                if event.has_schema
                else "—"
            ),
        )
        for event in events
    )
    title = html.escape(info.get("title", "Digital Neighbourhoods events"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} — event catalogue</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;
text-align:left;vertical-align:top}}code{{font-size:.9em}}
</style></head><body>
<h1>{title} — event catalogue</h1>
<p>Version {html.escape(str(info.get("version", "")))}. CloudEvents 1.0 over Kafka (binary mode
on canonical topics; intake topics also take structured mode). Partners send requests on the
<code>dn.intake.*</code> topics or to <code>POST /ingest/{{service}}</code> — see
<code>docs/partners.md</code>. Machine-readable:
<a href="{PREFIX}/asyncapi.json">AsyncAPI 3 document</a>.</p>
<table><thead><tr><th>type</th><th>topic</th><th>what it says</th><th>schema</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def event_docs_router() -> APIRouter:
    """Routes under /docs/events, reading the committed contracts once."""
    document = json.loads(ASYNCAPI.read_text(encoding="utf-8"))
    events = catalogue(document)
    page = index_page(document, events)
    schemas = {event.type: SCHEMAS / f"{event.type}.json" for event in events if event.has_schema}
    router = APIRouter()

    @router.get(PREFIX, response_class=HTMLResponse)
    async def index() -> str:
        return page

    @router.get(f"{PREFIX}/asyncapi.json")
    async def asyncapi() -> FileResponse:
        return FileResponse(ASYNCAPI, media_type="application/json")

    @router.get(PREFIX + "/schemas/{event_type}.json")
    async def schema(event_type: str) -> FileResponse:
        path = schemas.get(event_type)
        if path is None:
            raise HTTPException(404, f"no event type {event_type}; the list is at {PREFIX}")
        return FileResponse(path, media_type="application/schema+json")

    return router
