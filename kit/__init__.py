"""Runtime shared by every service: settings, infra, messaging, storage, telemetry, auth."""

# No client of the platform creates a topic by asking about it (kit.topics explains why).
from kit import topics as _topics  # noqa: F401
