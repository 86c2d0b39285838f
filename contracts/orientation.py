"""Events emitted by the orientation service on ``dn.orientation.events``, and partner
requests accepted on ``dn.intake.orientation``."""

from __future__ import annotations

from contracts.event import EventData

# Filled by the orientation service's issue (#4): every canonical event type, then every intake
# request type. The catalogue reads both tuples.
EVENTS: tuple[type[EventData], ...] = ()
INTAKE_REQUESTS: tuple[type[EventData], ...] = ()
