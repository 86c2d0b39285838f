"""District and association names for the exports, read from the registration service.

Reporting keeps ids only; registration holds the reference data, and coordinators edit it at
run time (``PUT /districts/{id}``, ``PUT /associations/{id}``), so its shipped
``reference_data.json`` is only the seed: the names are asked over HTTP for each export (two
small reads; exports are rare), as the gateway does for each GraphQL request. When
registration does not answer, the report shows ids and says so (:attr:`Names.complete`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httpx

from kit.auth import service_token
from kit.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Names:
    districts: dict[str, str] = field(default_factory=dict)
    associations: dict[str, str] = field(default_factory=dict)
    complete: bool = True  # False: registration did not answer; ids stand in for names


async def reference_names(settings: Settings, timeout_s: float = TIMEOUT_S) -> Names:
    """Every district's and association's name by id, or empty maps (``complete=False``)."""
    headers = {"authorization": f"Bearer {service_token(settings, 'reporting', 'registration')}"}
    try:
        async with httpx.AsyncClient(
            base_url=settings.service_url("registration"), headers=headers, timeout=timeout_s
        ) as client:
            districts, associations = await asyncio.gather(
                client.get("/districts"), client.get("/associations")
            )
            return Names(_by_id(districts), _by_id(associations))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        log.warning("district and association names unavailable, ids shown: %s", error)
        return Names(complete=False)


def _by_id(response: httpx.Response) -> dict[str, str]:
    response.raise_for_status()
    return {str(row["id"]): str(row["name"]) for row in response.json()}
