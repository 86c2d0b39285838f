"""Runtime shared by every service: settings, infra, messaging, storage, telemetry, auth."""
