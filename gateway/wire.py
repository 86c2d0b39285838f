"""How GraphQL values travel to and from the services: ids in paths, enums, datetimes."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any
from urllib.parse import quote


def path_segment(value: str) -> str:
    """An id as one URL path segment (an id with a slash must not reach another route)."""
    return quote(str(value), safe="")


def enum_value(value: Any) -> Any:
    """A GraphQL value as the services' JSON holds it: enums (also inside lists) by value."""
    if isinstance(value, list):
        return [enum_value(item) for item in value]
    return value.value if isinstance(value, Enum) else value


def parse_datetime(value: Any) -> dt.datetime | None:
    """A datetime from a service's answer (ISO text or already parsed); None stays None."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def required_datetime(value: Any) -> dt.datetime:
    """A datetime a service always sends (ISO text or already parsed)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
