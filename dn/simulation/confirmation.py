"""How a partner knows a request was applied: the canonical event it makes, matched by key.

Each intake request the simulator sends names what it creates (a person, a session, a
placement…); the owning service's canonical event about that same thing confirms it. Pure.
"""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.event import EventData
from contracts.intake import EnrolmentRequestedV1
from contracts.orientation import (
    FollowUpRecordedV1,
    FollowUpReportedV1,
    InterestRecordedV1,
    InterestsReportedV1,
    PlacementRecordedV1,
    PlacementReportedV1,
    ReferralMadeV1,
    ReferralRequestedV1,
    ReferralResolutionReportedV1,
    ReferralResolvedV1,
    WorkshopAttendedV1,
    WorkshopReportedV1,
)
from contracts.registration import BeneficiaryEnrolledV1
from contracts.training import (
    AnonymousAttendanceRecordedV1,
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AssociationMaturityAssessedV2,
    AttendanceRecordedV1,
    AttendanceReportedV1,
    MaturityAssessmentReportedV1,
    SessionReportedV1,
    SessionScheduledV1,
    SkillAssessedV1,
)


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def expected_fact(request: EventData) -> str:
    """The key of the canonical fact that shows ``request`` was applied."""
    match request:
        case EnrolmentRequestedV1(beneficiary_id=person) if person is not None:
            return f"enrolled:{person}"
        case SessionReportedV1(session_id=session) if session is not None:
            return f"session:{session}"
        case AttendanceReportedV1():
            return f"attendance:{request.session_id}:{request.beneficiary_id}"
        case AnonymousAttendanceReportedV1():
            return f"headcount:{request.session_id}"
        case AssessmentReportedV1():
            stage = request.stage.value
            return f"assessment:{request.beneficiary_id}:{request.competence}:{stage}"
        case WorkshopReportedV1():
            return f"workshop:{request.association_id}:{_instant(request.held_at)}"
        case InterestsReportedV1():
            return f"interests:{request.beneficiary_id}"
        case ReferralRequestedV1(referral_id=referral) if referral is not None:
            return f"referral:{referral}"
        case ReferralResolutionReportedV1():
            return f"resolution:{request.referral_id}"
        case PlacementReportedV1(placement_id=placement) if placement is not None:
            return f"placement:{placement}"
        case FollowUpReportedV1():
            return f"follow-up:{request.placement_id}:{request.months}"
        case MaturityAssessmentReportedV1(assessment_id=assessment) if assessment is not None:
            return f"maturity:{assessment}"
    raise ValueError(f"{type(request).__name__} names nothing a canonical event confirms")


# The canonical events that confirm a request, by ``ce_type``: the run decodes only these.
CONFIRMING: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        BeneficiaryEnrolledV1,
        SessionScheduledV1,
        AttendanceRecordedV1,
        AnonymousAttendanceRecordedV1,
        SkillAssessedV1,
        WorkshopAttendedV1,
        InterestRecordedV1,
        ReferralMadeV1,
        ReferralResolvedV1,
        PlacementRecordedV1,
        FollowUpRecordedV1,
        AssociationMaturityAssessedV2,
    )
}


def confirmed_fact(event: EventData) -> str | None:
    """The key of the fact a canonical event reports (None: nothing a request waits for)."""
    match event:
        case BeneficiaryEnrolledV1():
            return f"enrolled:{event.beneficiary_id}"
        case SessionScheduledV1():
            return f"session:{event.session_id}"
        case AttendanceRecordedV1():
            return f"attendance:{event.session_id}:{event.beneficiary_id}"
        case AnonymousAttendanceRecordedV1():
            return f"headcount:{event.session_id}"
        case SkillAssessedV1():
            return f"assessment:{event.beneficiary_id}:{event.competence}:{event.stage.value}"
        case WorkshopAttendedV1():
            return f"workshop:{event.association_id}:{_instant(event.held_at)}"
        case InterestRecordedV1():
            return f"interests:{event.beneficiary_id}"
        case ReferralMadeV1():
            return f"referral:{event.referral_id}"
        case ReferralResolvedV1():
            return f"resolution:{event.referral_id}"
        case PlacementRecordedV1():
            return f"placement:{event.placement_id}"
        case FollowUpRecordedV1():
            return f"follow-up:{event.placement_id}:{event.months}"
        case AssociationMaturityAssessedV2():
            return f"maturity:{event.assessment_id}"
    return None
