"""The contracts' enums registered as GraphQL enums, exposed by member name (FEMALE…)."""

from __future__ import annotations

import strawberry

from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.maturity import MaturityQuestion
from contracts.orientation import OutcomeClass, PartnerKind, PlacementKind, ReferralOutcome
from contracts.registration import ConsentPurpose, ErasureReason
from contracts.training import AssessmentStage, AttendanceStatus, Autonomy, SessionKind
from kit.audit import RecordKind

__all__ = [
    "AgeBand",
    "AssessmentStage",
    "AttendanceStatus",
    "Autonomy",
    "ConsentPurpose",
    "EmploymentStatus",
    "ErasureReason",
    "Gender",
    "MaturityQuestion",
    "OutcomeClass",
    "PartnerKind",
    "PlacementKind",
    "RecordKind",
    "ReferralOutcome",
    "SessionKind",
    "Track",
]

strawberry.enum(Gender, description="Gender as the person declares it")
strawberry.enum(Track, description="Programme track")
strawberry.enum(EmploymentStatus, description="Employment status at entry")
strawberry.enum(AgeBand, description="Age band, from the birth year")
strawberry.enum(ConsentPurpose, description="What a person may consent to, purpose by purpose")
strawberry.enum(ErasureReason, description="Why a person's data was erased")
strawberry.enum(SessionKind, description="Who a session is for: one person, a group, or staff")
strawberry.enum(AttendanceStatus, description="Present, or absent with or without an excuse")
strawberry.enum(AssessmentStage, description="Assessment at the start or at the end of training")
strawberry.enum(Autonomy, description="How autonomous the person was during the assessment")
strawberry.enum(PlacementKind, description="What the person went on to (IAE exit kinds)")
strawberry.enum(OutcomeClass, description="IAE exit class of a placement")
strawberry.enum(PartnerKind, description="Who a beneficiary is referred to")
strawberry.enum(ReferralOutcome, description="What the partner answered a referral")
strawberry.enum(
    MaturityQuestion,
    description="A question of the association maturity self-assessment (maturityQuestionnaire "
    "gives its wording)",
)
strawberry.enum(
    RecordKind,
    name="AuditRecordKind",
    description="What kind of record about a person an audit entry is about",
)
