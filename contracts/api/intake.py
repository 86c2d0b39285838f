"""What every service taking partner requests (registration, training, orientation) answers on
``GET /deliveries`` (``kit.service``, from ``kit.deliveries``): per partner, what became of
what it sent."""

from __future__ import annotations

from datetime import datetime

from . import Answer


class DeliveryLine(Answer):
    """One partner's line in one service's delivery log."""

    service: str
    partner: str  # the CloudEvents source the partner sends from
    accepted: int  # requests applied
    rejected: int  # requests refused (dead-lettered)
    waiting: int  # requests parked now, waiting for a record they name
    last_error: str | None  # the last refusal, "<reason>: <detail>"
    last_error_at: datetime | None
    last_seen: datetime | None  # None: only waiting requests so far
