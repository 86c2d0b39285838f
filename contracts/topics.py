"""Kafka topic names: canonical (one writer each), partner intake, dead letters."""

from __future__ import annotations

REGISTRATION_EVENTS = "dn.registration.events"
TRAINING_EVENTS = "dn.training.events"
ORIENTATION_EVENTS = "dn.orientation.events"

INTAKE_REGISTRATION = "dn.intake.registration"
INTAKE_TRAINING = "dn.intake.training"
INTAKE_ORIENTATION = "dn.intake.orientation"

DEAD_LETTER = "dn.deadletter"

CANONICAL = (REGISTRATION_EVENTS, TRAINING_EVENTS, ORIENTATION_EVENTS)
INTAKE = (INTAKE_REGISTRATION, INTAKE_TRAINING, INTAKE_ORIENTATION)
ALL_TOPICS = (*CANONICAL, *INTAKE, DEAD_LETTER)
