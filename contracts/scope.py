"""Whose records a partner's request names: which existing records each intake type refers to,
and the models of the question the gateway asks the owning service about them
(``POST /intake/scope``) before it accepts the request over HTTP.

A partner token speaks for one association. A request that carries ``association_id`` says
whose it is; the others (an attendance, an assessment, a referral's resolution…) only name
records — a session, a person, a referral, a placement — and belong to the association those
records belong to, which only the service that keeps them knows. Ids a request *creates* (a
partner's chosen ``session_id``, ``beneficiary_id``, ``referral_id`` or ``placement_id`` for a
new record) are not references: a clash with an existing record is the service's duplicate
rule, not a question of scope.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.event import EventData
from contracts.intake import EnrolmentRequestedV1
from contracts.orientation import (
    FollowUpReportedV1,
    InterestsReportedV1,
    PlacementReportedV1,
    ReferralRequestedV1,
    ReferralResolutionReportedV1,
    WorkshopReportedV1,
)
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AttendanceReportedV1,
    MaturityAssessmentReportedV1,
    SessionReportedV1,
)

MAX_REFERENCES = 500  # a workshop names at most 200 participants


class ReferenceKind(StrEnum):
    """The kinds of record a request may name, each owned by one association."""

    SESSION = "session"
    BENEFICIARY = "beneficiary"
    REFERRAL = "referral"
    PLACEMENT = "placement"


class Reference(BaseModel):
    """One record a request names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ReferenceKind
    id: str = Field(min_length=1, max_length=100)


class Owner(Reference):
    """A named record the service knows, and the association it belongs to."""

    association_id: str


class ScopeQuestion(BaseModel):
    """``POST /intake/scope``: who owns these records?"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    references: list[Reference] = Field(max_length=MAX_REFERENCES)

    def ids(self, kind: ReferenceKind) -> list[str]:
        """The ids named of one kind, each once, in the order first named."""
        return list(dict.fromkeys(r.id for r in self.references if r.kind is kind))


class ScopeAnswer(BaseModel):
    """The owners of the named records the service knows; records it does not know (yet, or
    any more) are left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owners: list[Owner]

    @staticmethod
    def of(question: ScopeQuestion, found: dict[ReferenceKind, dict[str, str]]) -> ScopeAnswer:
        """The answer from what the service found: for each kind, the association of each
        known id."""
        owners = [
            Owner(kind=kind, id=record_id, association_id=association_id)
            for kind in ReferenceKind
            for record_id in question.ids(kind)
            if (association_id := found.get(kind, {}).get(record_id)) is not None
        ]
        return ScopeAnswer(owners=owners)


def _named(kind: ReferenceKind, identifier: object) -> Reference:
    # Built without validating again: the ids come from an event's data, validated already
    # (the intake asks this for every partner request).
    return Reference.model_construct(kind=kind, id=str(identifier))


def _person(data: Any) -> list[Reference]:
    return [_named(ReferenceKind.BENEFICIARY, data.beneficiary_id)]


def _session(data: Any) -> list[Reference]:
    return [_named(ReferenceKind.SESSION, data.session_id)]


# Every intake type, and the existing records it names (tests/unit/test_intake_scope.py checks
# that none is missing).
REFERENCES: dict[type[EventData], Callable[[Any], list[Reference]]] = {
    EnrolmentRequestedV1: lambda _: [],
    SessionReportedV1: lambda _: [],
    MaturityAssessmentReportedV1: lambda _: [],
    AttendanceReportedV1: lambda data: [*_session(data), *_person(data)],
    AnonymousAttendanceReportedV1: _session,
    AssessmentReportedV1: _person,
    WorkshopReportedV1: lambda data: [
        _named(ReferenceKind.BENEFICIARY, participant) for participant in data.participants
    ],
    InterestsReportedV1: _person,
    ReferralRequestedV1: _person,
    PlacementReportedV1: _person,
    ReferralResolutionReportedV1: lambda data: [_named(ReferenceKind.REFERRAL, data.referral_id)],
    FollowUpReportedV1: lambda data: [_named(ReferenceKind.PLACEMENT, data.placement_id)],
}


def references_of(data: EventData) -> list[Reference]:
    """The existing records ``data`` names, each once, in the order named."""
    named = REFERENCES.get(type(data))
    if named is None:  # an intake type added to the contracts but not here: a bug
        raise TypeError(f"no references known for {type(data).__name__}")
    return list(dict.fromkeys(named(data)))
