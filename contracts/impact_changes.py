"""What reporting's change stream (``GET /impact/changes``) tells the gateway.

Each ``changed`` notice lists the scopes a committed projection change touched (``all``,
``association:<id>``, ``district:<id>``, ``track:<value>``), and :data:`NAMES` when registration
saved a district or an association: every answer names them, so every cached name and every
answer is to be read again.
"""

from __future__ import annotations

NAMES = "names"
