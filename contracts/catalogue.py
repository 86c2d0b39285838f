"""Every event type the platform knows, and decoding an envelope into its typed data."""

from __future__ import annotations

from pydantic import ValidationError

from contracts import orientation, training
from contracts.envelope import CloudEvent, EnvelopeError, describe_validation_error
from contracts.event import EventData
from contracts.intake import EnrolmentRequestedV1
from contracts.registration import (
    AssociationUpsertedV1,
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    ConsentChangedV1,
    DistrictUpsertedV1,
)

REGISTRATION_EVENTS: tuple[type[EventData], ...] = (
    BeneficiaryEnrolledV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    BeneficiariesMergedV1,
    BeneficiaryErasedV1,
    ConsentChangedV1,
    DistrictUpsertedV1,
    AssociationUpsertedV1,
)
EVENT_TYPES: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (*REGISTRATION_EVENTS, *training.EVENTS, *orientation.EVENTS)
}


REGISTRATION_REQUESTS: tuple[type[EventData], ...] = (EnrolmentRequestedV1,)
# Partner requests, by intake topic (they may carry personal data; see contracts.intake).
INTAKE_TYPES: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (*REGISTRATION_REQUESTS, *training.INTAKE_REQUESTS, *orientation.INTAKE_REQUESTS)
}


ALL_TYPES: dict[str, type[EventData]] = {**EVENT_TYPES, **INTAKE_TYPES}


def intake_types(topic: str) -> dict[str, type[EventData]]:
    return {name: model for name, model in INTAKE_TYPES.items() if model.topic == topic}


def decode(event: CloudEvent, types: dict[str, type[EventData]] = EVENT_TYPES) -> EventData:
    """The typed data of ``event``; raises :class:`EnvelopeError` for unknown or invalid data."""
    model = types.get(event.type)
    if model is None:
        raise EnvelopeError(
            "unknown_type",
            f"event type {event.type!r} is not accepted here; known: " + ", ".join(sorted(types)),
        )
    try:
        return model.model_validate(event.data)
    except ValidationError as error:
        raise EnvelopeError("invalid_data", describe_validation_error(error)) from error
