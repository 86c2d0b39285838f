"""Every event type the platform knows, and decoding an envelope into its typed data."""

from __future__ import annotations

from pydantic import ValidationError

from contracts.envelope import CloudEvent, EnvelopeError, describe_validation_error
from contracts.event import EventData
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

EVENT_TYPES: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        BeneficiaryEnrolledV1,
        BeneficiaryUpdatedV1,
        BeneficiaryWithdrawnV1,
        BeneficiariesMergedV1,
        BeneficiaryErasedV1,
        ConsentChangedV1,
        DistrictUpsertedV1,
        AssociationUpsertedV1,
    )
}


def decode(event: CloudEvent) -> EventData:
    """The typed data of ``event``; raises :class:`EnvelopeError` for unknown or invalid data."""
    model = EVENT_TYPES.get(event.type)
    if model is None:
        raise EnvelopeError(
            "unknown_type",
            f"event type {event.type!r} is not in the catalogue; known: "
            + ", ".join(sorted(EVENT_TYPES)),
        )
    try:
        return model.model_validate(event.data)
    except ValidationError as error:
        raise EnvelopeError("invalid_data", describe_validation_error(error)) from error
