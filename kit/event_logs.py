"""Every service's ``GET /log`` answer, read by the ``dn`` command: how far each service's event
log goes, what its relay re-published, where its subscribers stand in the others' logs."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import BaseModel, ConfigDict

from kit.settings import SERVICE_NAMES, Settings

LOG_TIMEOUT_S = 3.0


class ReseedReport(BaseModel):
    """What the relay re-published since it found the broker without its log."""

    events: int
    seconds: float
    pending: int  # still to re-publish
    running: bool
    # The relay has had the broker's answer on every partition since it started (False from a
    # service that does not say): any re-seed needed is running.
    checked: bool = False


class SubscriberPosition(BaseModel):
    """The last position one consumer group handled in one partition of another service's log."""

    model_config = ConfigDict(extra="ignore")

    group: str
    topic: str
    partition: int
    log_id: str
    position: int


class ParkedReport(BaseModel):
    """Partner requests waiting for what they name (kit.parking); zero when the service has no
    partner intake."""

    requests: int = 0
    oldest_age_s: float | None = None
    per_partner: dict[str, int] = {}


class EventLogReport(BaseModel):
    """One service's ``GET /log``."""

    model_config = ConfigDict(extra="ignore")

    service: str
    log_id: str
    topic: str | None  # None while the log has no placed event
    events: int
    unsent: int
    partitions: dict[int, int]  # the last position given in each partition of ``topic``
    reseed: ReseedReport
    subscribers: list[SubscriberPosition]
    parked: ParkedReport = ParkedReport()

    @property
    def published_before(self) -> int:
        """Events marked sent: what a broker that starts empty has lost."""
        return self.events - self.unsent


async def read_event_logs(
    settings: Settings, client: httpx.AsyncClient
) -> dict[str, EventLogReport | None]:
    """Each service's log, by name; None for a service that does not answer now."""

    async def one(name: str) -> EventLogReport | None:
        try:
            response = await client.get(f"{settings.service_url(name)}/log", timeout=LOG_TIMEOUT_S)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return EventLogReport.model_validate_json(response.content)

    found = await asyncio.gather(*(one(name) for name in SERVICE_NAMES))
    return dict(zip(SERVICE_NAMES, found, strict=True))
