"""How GraphQL values travel to the services: ids in paths, enums and filter values."""

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


def param_text(value: object) -> str | None:
    """A filter's value as a service's query parameter: enums by value, datetimes as ISO text;
    None stays None (the parameter is left out)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(enum_value(value))
