"""Base class of every event payload: its type name, topic, key, and envelope building."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import CloudEvent


class EventData(BaseModel):
    """The ``data`` of one event type. Subclasses name their type and topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    topic: ClassVar[str]

    def subject(self) -> str:
        """The aggregate id; also the Kafka key (per-person order where a person is involved)."""
        raise NotImplementedError

    def to_event(self, source: str, **attributes: Any) -> CloudEvent:
        return CloudEvent(
            source=source,
            type=self.event_type,
            subject=self.subject(),
            data=self.model_dump(mode="json"),
            **attributes,
        )


class AboutBeneficiary(EventData):
    """An event about one person: keyed by their pseudonymous id, for per-person order."""

    beneficiary_id: UUID = Field(description="Pseudonymous id; the only link to the person")

    def subject(self) -> str:
        return str(self.beneficiary_id)
