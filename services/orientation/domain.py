"""Orientation rules: workshops, interest profiles, referrals, placements and their IAE outcome
class, follow-ups at 3 and 6 months — decisions only, no I/O (clocks are arguments)."""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from contracts.errors import Conflict, FieldError, InvalidInput
from contracts.orientation import (
    FollowUpDueV1,
    FollowUpMonths,
    FollowUpRecordedV1,
    InterestRecordedV1,
    OutcomeClass,
    PartnerKind,
    PlacementKind,
    PlacementRecordedV1,
    ReferralMadeV1,
    ReferralOutcome,
    ReferralResolvedV1,
    WorkshopAttendedV1,
)
from contracts.text import MARKUP, is_plain_text

MAX_EMPLOYER_LENGTH = 200
MAX_PARTICIPANTS = 200
FOLLOW_UP_MONTHS: tuple[FollowUpMonths, ...] = (3, 6)
# A follow-up call a few days early is ordinary practice; weeks early it says nothing yet.
FOLLOW_UP_EARLIEST = timedelta(days=14)
# Placements are recorded after the fact or shortly before a start; further out is a typo.
PLACEMENT_MAX_AHEAD = timedelta(days=366)
PLACEMENT_MAX_BEHIND = timedelta(days=5 * 366)


# -- what orientation knows about a person (from registration's events) --------------------


class PersonStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Person:
    """The facts orientation keeps about a beneficiary: no personal data."""

    id: str
    association_id: str
    shares_with_partners: bool = False
    status: PersonStatus = PersonStatus.ACTIVE


def require_active(person: Person) -> None:
    if person.status is not PersonStatus.ACTIVE:
        raise InvalidInput(
            FieldError(
                "beneficiaryId",
                f"beneficiary {person.id} has left the programme ({person.status.value}); "
                "nothing new can be recorded for them",
            ),
            status=409,
        )


# -- reference data --------------------------------------------------------------------------


@dataclass(frozen=True)
class JobFamily:
    code: str
    title: str
    rome_codes: tuple[str, ...]


@dataclass(frozen=True)
class ReferenceData:
    job_families: dict[str, JobFamily]
    refusal_reasons: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReferenceData:
        families = {
            row["code"]: JobFamily(row["code"], row["title"], tuple(row["rome_codes"]))
            for row in data["job_families"]
        }
        return cls(job_families=families, refusal_reasons=tuple(data["refusal_reasons"]))


def check_job_families(
    codes: Sequence[str], reference: ReferenceData, field: str = "jobFamilies"
) -> tuple[str, ...]:
    """The codes without repeats, or :class:`InvalidInput` naming the unknown ones."""
    unknown = [code for code in codes if code not in reference.job_families]
    if unknown:
        known = ", ".join(
            f"{f.code} ({f.title})" for f in sorted(reference.job_families.values(), key=_code)
        )
        raise InvalidInput(
            FieldError(field, f"unknown job famil(ies) {', '.join(unknown)}; known: {known}")
        )
    return tuple(dict.fromkeys(codes))


def _code(family: JobFamily) -> str:
    return family.code


# -- workshops -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkshopRequest:
    association_id: str
    held_at: datetime
    job_families: tuple[str, ...]
    women_focused: bool
    participants: tuple[str, ...]


@dataclass(frozen=True)
class Workshop:
    id: UUID
    association_id: str
    held_at: datetime
    job_families: tuple[str, ...]
    women_focused: bool
    participants: tuple[str, ...]
    recorded_at: datetime

    def attended_events(self) -> list[WorkshopAttendedV1]:
        return [
            WorkshopAttendedV1(
                workshop_id=self.id,
                beneficiary_id=UUID(participant),
                association_id=self.association_id,
                job_families=list(self.job_families),
                women_focused=self.women_focused,
                held_at=self.held_at,
            )
            for participant in self.participants
        ]


class UnknownParticipants(InvalidInput):
    """A workshop names participants orientation does not know (not enrolled, or their
    enrolment has not reached orientation yet): partner intake may retry it later."""


def record_workshop(
    request: WorkshopRequest,
    people: Mapping[str, Person],
    reference: ReferenceData,
    *,
    workshop_id: UUID,
    now: datetime,
) -> Workshop:
    """A workshop that took place; every participant must be a known, active beneficiary."""
    errors: list[FieldError] = []
    participants = tuple(dict.fromkeys(request.participants))
    if not participants:
        errors.append(FieldError("participants", "list at least one participant (their ids)"))
    elif len(participants) > MAX_PARTICIPANTS:
        errors.append(FieldError("participants", f"at most {MAX_PARTICIPANTS} participants"))
    unknown = [p for p in participants if p not in people]
    if unknown:
        errors.append(
            FieldError(
                "participants",
                f"unknown beneficiar(ies) {', '.join(unknown)}; enrol them first",
            )
        )
    inactive = [
        p for p in participants if p in people and people[p].status is not PersonStatus.ACTIVE
    ]
    if inactive:
        errors.append(
            FieldError("participants", f"no longer in the programme: {', '.join(inactive)}")
        )
    if request.held_at > now:
        errors.append(
            FieldError("heldAt", "record a workshop once it has taken place (not in the future)")
        )
    try:
        families = check_job_families(request.job_families, reference)
    except InvalidInput as invalid:
        errors.extend(invalid.errors)
        families = ()
    if errors:
        raise UnknownParticipants(*errors) if unknown else InvalidInput(*errors)
    return Workshop(
        id=workshop_id,
        association_id=request.association_id,
        held_at=request.held_at,
        job_families=families,
        women_focused=request.women_focused,
        participants=participants,
        recorded_at=now,
    )


# -- interests -------------------------------------------------------------------------------


def record_interests(
    person: Person, job_families: Sequence[str], reference: ReferenceData, now: datetime
) -> InterestRecordedV1:
    """The person's interest profile, replacing any earlier one."""
    require_active(person)
    if not job_families:
        raise InvalidInput(
            FieldError("jobFamilies", "choose at least one job family (GET /job-families)")
        )
    families = check_job_families(job_families, reference)
    return InterestRecordedV1(
        beneficiary_id=UUID(person.id), job_families=list(families), recorded_at=now
    )


# -- referrals -------------------------------------------------------------------------------


class ReferralStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True)
class Referral:
    id: UUID
    beneficiary_id: str
    partner_kind: PartnerKind
    made_at: datetime
    status: ReferralStatus = ReferralStatus.OPEN
    refusal_reason: str | None = None
    resolved_at: datetime | None = None


class ConsentMissing(InvalidInput):
    """A referral for someone who has not consented to sharing with partners."""


def make_referral(
    person: Person, partner_kind: PartnerKind, *, referral_id: UUID, now: datetime
) -> tuple[Referral, ReferralMadeV1]:
    """A referral to a partner, only with the person's current consent to share with partners.

    Consent withdrawn later does not undo referrals already made.
    """
    require_active(person)
    if not person.shares_with_partners:
        raise ConsentMissing(
            FieldError(
                "beneficiaryId",
                "this person has not consented to sharing with orientation partners "
                "(consent purpose share_with_partners); record their consent in registration "
                "before referring them",
            )
        )
    referral = Referral(
        id=referral_id, beneficiary_id=person.id, partner_kind=partner_kind, made_at=now
    )
    event = ReferralMadeV1(
        referral_id=referral_id,
        beneficiary_id=UUID(person.id),
        partner_kind=partner_kind,
        made_at=now,
    )
    return referral, event


def resolve_referral(
    referral: Referral,
    outcome: ReferralOutcome,
    refusal_reason: str | None,
    reference: ReferenceData,
    now: datetime,
) -> tuple[Referral, ReferralResolvedV1]:
    """Open → accepted, or → refused with a reason from the configured list."""
    if referral.status is not ReferralStatus.OPEN:
        raise InvalidInput(
            FieldError("outcome", f"this referral is already {referral.status.value}"),
            status=409,
        )
    accepted = ", ".join(reference.refusal_reasons)
    if outcome is ReferralOutcome.REFUSED:
        if not refusal_reason:
            raise InvalidInput(
                FieldError("refusalReason", f"say why it was refused; one of: {accepted}")
            )
        if refusal_reason not in reference.refusal_reasons:
            raise InvalidInput(
                FieldError(
                    "refusalReason", f"unknown reason {refusal_reason!r}; one of: {accepted}"
                )
            )
    elif refusal_reason is not None:
        raise InvalidInput(
            FieldError("refusalReason", "only a refused referral has a refusal reason")
        )
    resolved = replace(
        referral,
        status=ReferralStatus(outcome.value),
        refusal_reason=refusal_reason,
        resolved_at=now,
    )
    event = ReferralResolvedV1(
        referral_id=referral.id,
        beneficiary_id=UUID(referral.beneficiary_id),
        outcome=outcome,
        refusal_reason=refusal_reason,
        resolved_at=now,
    )
    return resolved, event


# -- placements ------------------------------------------------------------------------------

OUTCOME_CLASSES: dict[PlacementKind, OutcomeClass] = {
    PlacementKind.CDI: OutcomeClass.DURABLE_EMPLOYMENT,
    PlacementKind.CDD_6M_PLUS: OutcomeClass.DURABLE_EMPLOYMENT,
    PlacementKind.INTERIM_6M_PLUS: OutcomeClass.DURABLE_EMPLOYMENT,
    PlacementKind.BUSINESS_CREATION: OutcomeClass.DURABLE_EMPLOYMENT,
    PlacementKind.CDD_UNDER_6M: OutcomeClass.TRANSITIONAL_EMPLOYMENT,
    PlacementKind.INTERIM_UNDER_6M: OutcomeClass.TRANSITIONAL_EMPLOYMENT,
    PlacementKind.SUBSIDISED_CONTRACT: OutcomeClass.TRANSITIONAL_EMPLOYMENT,
    PlacementKind.QUALIFYING_TRAINING: OutcomeClass.POSITIVE_EXIT,
    PlacementKind.APPRENTICESHIP: OutcomeClass.POSITIVE_EXIT,
    PlacementKind.SIAE_HIRING: OutcomeClass.POSITIVE_EXIT,
    PlacementKind.OTHER: OutcomeClass.OTHER,
}


def outcome_class(kind: PlacementKind) -> OutcomeClass:
    """The IAE exit class of a placement kind."""
    return OUTCOME_CLASSES[kind]


def directed_to_employment(kind: PlacementKind) -> bool:
    """Whether a placement counts towards the 50 directed towards employment: all but OTHER."""
    return outcome_class(kind) is not OutcomeClass.OTHER


@dataclass(frozen=True)
class PlacementRequest:
    beneficiary_id: str
    kind: PlacementKind
    starts_on: date
    digital_sector: bool = False
    employer: str | None = None
    partner_reference: str | None = None


@dataclass(frozen=True)
class Placement:
    id: UUID
    beneficiary_id: str
    kind: PlacementKind
    starts_on: date
    digital_sector: bool
    recorded_at: datetime
    employer: str | None = None  # kept here only, never emitted
    partner_reference: str | None = None

    @property
    def outcome_class(self) -> OutcomeClass:
        return outcome_class(self.kind)

    @property
    def directed_to_employment(self) -> bool:
        return directed_to_employment(self.kind)

    def recorded_event(self) -> PlacementRecordedV1:
        return PlacementRecordedV1(
            placement_id=self.id,
            beneficiary_id=UUID(self.beneficiary_id),
            kind=self.kind,
            outcome_class=self.outcome_class,
            directed_to_employment=self.directed_to_employment,
            digital_sector=self.digital_sector,
            starts_on=self.starts_on,
            recorded_at=self.recorded_at,
        )


def record_placement(
    person: Person, request: PlacementRequest, *, placement_id: UUID, now: datetime
) -> Placement:
    """A placement, or :class:`InvalidInput` listing every problem with the request."""
    require_active(person)
    errors: list[FieldError] = []
    employer = (request.employer or "").strip() or None
    if employer is not None:
        if len(employer) > MAX_EMPLOYER_LENGTH:
            errors.append(FieldError("employer", f"at most {MAX_EMPLOYER_LENGTH} characters"))
        elif not is_plain_text(employer):
            errors.append(
                FieldError("employer", f"a name in letters, digits and punctuation; not {MARKUP}")
            )
    today = now.date()
    if request.starts_on > today + PLACEMENT_MAX_AHEAD:
        errors.append(
            FieldError(
                "startsOn",
                f"at most a year ahead (on or before {today + PLACEMENT_MAX_AHEAD})",
            )
        )
    elif request.starts_on < today - PLACEMENT_MAX_BEHIND:
        errors.append(
            FieldError("startsOn", f"on or after {today - PLACEMENT_MAX_BEHIND}; check the year")
        )
    if errors:
        raise InvalidInput(*errors)
    return Placement(
        id=placement_id,
        beneficiary_id=person.id,
        kind=request.kind,
        starts_on=request.starts_on,
        digital_sector=request.digital_sector,
        recorded_at=now,
        employer=employer,
        partner_reference=request.partner_reference,
    )


def refuse_duplicate_placement(existing_id: str | None) -> None:
    """The same person, kind and start date is one placement recorded twice."""
    if existing_id is not None:
        raise Conflict(
            existing_id,
            f"this placement is already recorded (placement {existing_id}); "
            "a follow-up is recorded on it, not as a new placement",
        )


# -- follow-ups ------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later, clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def follow_up_due_on(starts_on: date, months: int) -> date:
    return add_months(starts_on, months)


def follows_up(placement: Placement) -> bool:
    """Follow-ups check employment lasts: every placement directed towards employment."""
    return placement.directed_to_employment


@dataclass(frozen=True)
class FollowUpDue:
    placement_id: UUID
    beneficiary_id: str
    months: FollowUpMonths
    due_on: date

    def event(self) -> FollowUpDueV1:
        return FollowUpDueV1(
            placement_id=self.placement_id,
            beneficiary_id=UUID(self.beneficiary_id),
            months=self.months,
            due_on=self.due_on,
        )


def due_follow_ups(
    placements: Iterable[Placement],
    recorded: Collection[tuple[str, int]],
    today: date,
) -> list[FollowUpDue]:
    """Follow-ups due on or before ``today`` and not recorded yet, earliest first.

    ``recorded`` holds (placement id, months) of follow-ups already recorded.
    """
    due = [
        FollowUpDue(placement.id, placement.beneficiary_id, months, on)
        for placement in placements
        if follows_up(placement)
        for months in FOLLOW_UP_MONTHS
        if (on := follow_up_due_on(placement.starts_on, months)) <= today
        and (str(placement.id), months) not in recorded
    ]
    return sorted(due, key=lambda d: (d.due_on, str(d.placement_id), d.months))


def record_follow_up(
    placement: Placement,
    months: int,
    still_in_post: bool,
    already_recorded: bool,
    now: datetime,
) -> FollowUpRecordedV1:
    """Whether the person was still in post at the 3- or 6-month follow-up (once each)."""
    if months not in FOLLOW_UP_MONTHS:
        raise InvalidInput(FieldError("months", "3 or 6"))
    if not follows_up(placement):
        raise InvalidInput(
            FieldError(
                "placementId",
                "only placements directed towards employment are followed up "
                f"(this one is {placement.kind.value})",
            )
        )
    if already_recorded:
        raise InvalidInput(
            FieldError("months", f"the {months}-month follow-up of this placement is recorded"),
            status=409,
        )
    due_on = follow_up_due_on(placement.starts_on, months)
    if now.date() < due_on - FOLLOW_UP_EARLIEST:
        raise InvalidInput(
            FieldError(
                "months",
                f"the {months}-month follow-up is due on {due_on}; it can be recorded from "
                f"{due_on - FOLLOW_UP_EARLIEST}",
            )
        )
    return FollowUpRecordedV1(
        placement_id=placement.id,
        beneficiary_id=UUID(placement.beneficiary_id),
        months=3 if months == 3 else 6,
        still_in_post=still_in_post,
        recorded_at=now,
    )
