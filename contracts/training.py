"""Events emitted by the training service on ``dn.training.events``, and partner requests
accepted on ``dn.intake.training``."""

from __future__ import annotations

from contracts.event import EventData

# Filled by the training service's issue (#4): every canonical event type, then every intake
# request type. The catalogue reads both tuples.
EVENTS: tuple[type[EventData], ...] = ()
INTAKE_REQUESTS: tuple[type[EventData], ...] = ()
