"""GraphQL output types: districts, associations, beneficiaries, receipts, logs and impact."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from contracts.api import registration
from contracts.api.intake import DeliveryLine
from contracts.api.orientation import PersonRecords
from kit import audit

from . import orientation, training
from .context import Context, context_of
from .enums import (
    AgeBand,
    EmploymentStatus,
    ErasureReason,
    Gender,
    OutcomeClass,
    RecordKind,
    Track,
)


@strawberry.type(description="A priority district (QPV) of Bordeaux Métropole")
class District:
    id: strawberry.ID
    name: str
    commune: str
    qpv_code: str
    insee_code: str

    @staticmethod
    def of(district: registration.DistrictView) -> District:
        return District(
            id=strawberry.ID(district.id),
            name=district.name,
            commune=district.commune,
            qpv_code=district.qpv_code,
            insee_code=district.insee_code,
        )


@strawberry.type(description="A neighbourhood association running the programme")
class Association:
    id: strawberry.ID
    name: str
    siret: str | None = strawberry.field(
        description="SIRET number of the association's establishment (14 digits), if known"
    )
    rna: str | None = strawberry.field(
        description="Number in the national register of associations (RNA, W + 9 digits), if known"
    )
    district_ids: strawberry.Private[list[str]]

    @strawberry.field(description="Districts the association serves")
    async def districts(self, info: Info[Context, Any]) -> list[District]:
        districts = await context_of(info).reference("districts")
        return [District.of(d) for d in districts if d.id in self.district_ids]

    @staticmethod
    def of(association: registration.AssociationView) -> Association:
        return Association(
            id=strawberry.ID(association.id),
            name=association.name,
            siret=association.siret,
            rna=association.rna,
            district_ids=list(association.districts),
        )


@strawberry.type
class Consent:
    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


@strawberry.type(description="One resident enrolled in the programme")
class Beneficiary:
    id: strawberry.ID
    association_id: strawberry.ID
    district_id: strawberry.ID
    first_name: str
    last_name: str
    birth_year: int | None
    phone: str | None = strawberry.field(description="null: the person has no phone")
    email: str | None
    street: str | None
    postcode: str | None
    insee_code: str | None = strawberry.field(description="INSEE code of the commune")
    qpv_resident: bool = strawberry.field(description="Lives inside a priority district")
    status: str = strawberry.field(description="active or withdrawn")
    gender: Gender
    age_band: AgeBand
    tracks: list[Track]
    employment_status: EmploymentStatus
    consent: Consent
    enrolled_at: dt.datetime
    last_contact_at: dt.datetime | None

    # The 360° view: each field below is one batched call per service for a whole page of
    # people (the request's loaders), never one call per person.

    @strawberry.field(description="The association that enrolled the person")
    async def association(self, info: Info[Context, Any]) -> Association | None:
        associations = await context_of(info).reference("associations")
        found = (a for a in associations if a.id == self.association_id)
        return next((Association.of(a) for a in found), None)

    @strawberry.field(description="The priority district the person belongs to")
    async def district(self, info: Info[Context, Any]) -> District | None:
        districts = await context_of(info).reference("districts")
        return next((District.of(d) for d in districts if d.id == self.district_id), None)

    @strawberry.field(
        description="Training: attendance totals, trained or not, assessments; null when "
        "training has not heard of the person yet"
    )
    async def progress(self, info: Info[Context, Any]) -> training.Progress | None:
        row = await context_of(info).loaders.progress.load(str(self.id))
        return training.Progress.of(row) if row else None

    @strawberry.field(description="Training: every attendance record, in session order")
    async def attendance(self, info: Info[Context, Any]) -> list[training.Attendance]:
        rows = await context_of(info).loaders.attendance.load(str(self.id))
        return [training.Attendance.of(row) for row in rows]

    async def _orientation(self, info: Info[Context, Any]) -> PersonRecords:
        """What orientation holds about the person; nothing when it holds nothing the caller
        may see."""
        records = await context_of(info).loaders.orientation.load(str(self.id))
        return records if records is not None else orientation.NO_RECORDS

    @strawberry.field(description="Orientation: career-discovery workshops attended")
    async def workshops(self, info: Info[Context, Any]) -> list[orientation.Workshop]:
        records = await self._orientation(info)
        return [orientation.Workshop.of(workshop) for workshop in records.workshops]

    @strawberry.field(description="Orientation: the job families the person is interested in")
    async def interests(self, info: Info[Context, Any]) -> orientation.Interests | None:
        interests = (await self._orientation(info)).interests
        return orientation.Interests.of(interests) if interests else None

    @strawberry.field(description="Orientation: referrals to partners, oldest first")
    async def referrals(self, info: Info[Context, Any]) -> list[orientation.Referral]:
        records = await self._orientation(info)
        return [orientation.Referral.of(referral) for referral in records.referrals]

    @strawberry.field(description="Orientation: what the person went on to, by start date")
    async def placements(self, info: Info[Context, Any]) -> list[orientation.Placement]:
        records = await self._orientation(info)
        return [orientation.Placement.of(placement) for placement in records.placements]

    @strawberry.field(description="Orientation: 3- and 6-month follow-ups recorded")
    async def follow_ups(self, info: Info[Context, Any]) -> list[orientation.FollowUp]:
        records = await self._orientation(info)
        return [orientation.FollowUp.of(follow_up) for follow_up in records.follow_ups]

    @staticmethod
    def of(person: registration.BeneficiaryView) -> Beneficiary:
        consent = person.consent
        return Beneficiary(
            id=strawberry.ID(person.id),
            association_id=strawberry.ID(person.association_id),
            district_id=strawberry.ID(person.district_id),
            first_name=person.first_name,
            last_name=person.last_name,
            birth_year=person.birth_year,
            phone=person.phone,
            email=person.email,
            street=person.street,
            postcode=person.postcode,
            insee_code=person.insee_code,
            qpv_resident=person.qpv_resident,
            status=person.status,
            gender=person.gender,
            age_band=person.age_band,
            tracks=list(person.tracks),
            employment_status=person.employment_status,
            consent=Consent(
                programme_follow_up=consent.programme_follow_up,
                share_with_partners=consent.share_with_partners,
                contact_for_surveys=consent.contact_for_surveys,
            ),
            enrolled_at=person.enrolled_at,
            last_contact_at=person.last_contact_at,
        )


@strawberry.type(description="Proof that a person's data was erased; it holds no personal data")
class ErasureReceipt:
    id: strawberry.ID
    beneficiary_id: strawberry.ID
    erased_at: dt.datetime
    reason: ErasureReason
    requested_by: str = strawberry.field(description="Who asked for the erasure (token subject)")
    erased: list[str] = strawberry.field(description="What was destroyed")

    @staticmethod
    def of(receipt: registration.ErasureReceiptView) -> ErasureReceipt:
        return ErasureReceipt(
            id=strawberry.ID(receipt.id),
            beneficiary_id=strawberry.ID(receipt.beneficiary_id),
            erased_at=receipt.erased_at,
            reason=receipt.reason,
            requested_by=receipt.requested_by,
            erased=list(receipt.erased),
        )


@strawberry.type(
    description="Who read or changed which kind of record about whom, when, in which service "
    "and through which route (ids only, never the record's content)"
)
class AuditEntry:
    at: dt.datetime
    service: str = strawberry.field(description="registration, training, orientation, reporting")
    actor: str = strawberry.field(
        description="Token subject of the caller, a partner's event source (role partner) or a "
        "job's name (role system)"
    )
    role: str
    action: str = strawberry.field(
        description="read, list, export, record, change, erase, or registration's own: enrol, "
        "rectify, withdraw, merge, merged, import, consent:<purpose>"
    )
    record: RecordKind
    beneficiary_id: strawberry.ID | None
    route: str = strawberry.field(
        description="The service's HTTP route (e.g. POST /sessions/{session_id}/attendance), "
        "`kafka <intake topic>` for a partner's request, or `job <name>`"
    )

    @staticmethod
    def of(entry: audit.AuditEntry) -> AuditEntry:
        return AuditEntry(
            at=entry.at,
            service=entry.service,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            record=entry.record,
            beneficiary_id=strawberry.ID(entry.beneficiary_id) if entry.beneficiary_id else None,
            route=entry.route,
        )


@strawberry.type(
    description="What one partner sent to one service's intake: applied (accepted), refused "
    "(rejected, with the last reason) and waiting for what it names"
)
class PartnerDelivery:
    service: str
    partner: str
    accepted: int
    rejected: int
    waiting: int
    last_error: str | None
    last_error_at: dt.datetime | None
    last_seen: dt.datetime | None

    @staticmethod
    def of(line: DeliveryLine) -> PartnerDelivery:
        return PartnerDelivery(
            service=line.service,
            partner=line.partner,
            accepted=line.accepted,
            rejected=line.rejected,
            waiting=line.waiting,
            last_error=line.last_error,
            last_error_at=line.last_error_at,
            last_seen=line.last_seen,
        )


@strawberry.type(description="People without contact for the period: listed, or anonymised")
class RetentionRun:
    dry_run: bool
    older_than_days: int
    beneficiary_ids: list[strawberry.ID]

    @staticmethod
    def of(run: registration.RetentionRun) -> RetentionRun:
        return RetentionRun(
            dry_run=run.dry_run,
            older_than_days=run.older_than_days,
            beneficiary_ids=[strawberry.ID(i) for i in run.beneficiary_ids],
        )


@strawberry.type
class Targets:
    trained: int
    directed_to_employment: int
    associations_upskilled: int


HIDDEN = (
    "Counts hidden from this audience (funders, public links), each null above, with what to "
    "show instead; empty for exact figures"
)


@strawberry.type(description="A count hidden from this audience, and what to show in its place")
class SuppressedCount:
    field: str = strawberry.field(description="The hidden field, e.g. enrolled, cumulativeTrained")
    shown: str = strawberry.field(
        description='"<5": between 1 and 4; "s": hidden so that a "<5" cannot be worked out '
        "by subtraction"
    )


@strawberry.type(description="Main figures of one cell of a breakdown (null: see suppressed)")
class CellFigures:
    enrolled: int | None
    attended: int | None = strawberry.field(description="People present at one session at least")
    trained: int | None
    directed_to_employment: int | None
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)
    attendance_rate: float | None = strawberry.field(
        description="Share of recorded attendances where the person was present (0–1)"
    )


PEOPLE_REACHED = (
    "People reached: enrolled plus anonymous attendees of collective sessions (a headcount per "
    "session: someone who came anonymously twice counts twice)"
)
ANONYMOUS_ATTENDEES = (
    "People not enrolled counted at collective sessions (each session's latest headcount)"
)


@strawberry.type(description="A breakdown cell with the people reached there")
class ReachCellFigures(CellFigures):
    people_reached: int | None = strawberry.field(description=PEOPLE_REACHED)
    anonymous_attendees: int | None = strawberry.field(description=ANONYMOUS_ATTENDEES)


@strawberry.type
class DistrictImpact(ReachCellFigures):
    district_id: strawberry.ID
    name: str


@strawberry.type
class AssociationImpact(ReachCellFigures):
    association_id: strawberry.ID
    name: str
    upskilled: bool = strawberry.field(description="Counted in associationsUpskilled")


@strawberry.type
class GenderImpact(CellFigures):
    gender: Gender


@strawberry.type
class AgeBandImpact(CellFigures):
    age_band: AgeBand


@strawberry.type
class TrackImpact(CellFigures):
    track: Track


@strawberry.type(description="People enrolled in one month, and how far they have gone since")
class CohortImpact(CellFigures):
    month: str = strawberry.field(description="Month of enrolment, YYYY-MM")


@strawberry.type(description="What happened in one ISO week, and the running totals")
class WeekImpact:
    week: str = strawberry.field(description="ISO week, e.g. 2026-W05")
    enrolled: int | None
    trained: int | None
    directed_to_employment: int | None
    sessions_present: int | None
    attending_new: int | None = strawberry.field(description="People attending for the first time")
    attending_returning: int | None = strawberry.field(description="People who had attended before")
    cumulative_enrolled: int | None
    cumulative_trained: int | None = strawberry.field(description="Baseline included")
    cumulative_directed_to_employment: int | None = strawberry.field(
        description="Baseline included"
    )
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)


@strawberry.type
class FunnelStage:
    stage: str = strawberry.field(
        description="enrolled, attended, trained, career_workshop, referred, placed, "
        "directed_to_employment, in_post_6m"
    )
    count: int | None
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)


@strawberry.type(description="One target: where the programme stands and when it gets there")
class TargetProgress:
    indicator: str = strawberry.field(
        description="trained, directed_to_employment or associations_upskilled"
    )
    target: int
    baseline: int = strawberry.field(description="Reached before the platform counted")
    actual: int | None = strawberry.field(description="Baseline + counted")
    share: float | None = strawberry.field(description="actual / target")
    weekly_pace: float | None = strawberry.field(
        description="Per week, over the last 4 complete weeks"
    )
    forecast_on: dt.date | None = strawberry.field(
        description="When the target is reached at that pace; null without a recent pace"
    )
    on_track: bool | None = strawberry.field(description="Forecast before the programme's end")
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)


@strawberry.type
class SkillGain:
    area: str = strawberry.field(description="Pix area, 1 to 5")
    average_levels_gained: float | None = strawberry.field(
        description="Average final − initial Pix level per competence assessed at both stages"
    )
    competences_assessed: int | None


@strawberry.type
class OutcomeCount:
    outcome_class: OutcomeClass
    people: int | None


@strawberry.type(description="How recent the figures are")
class Freshness:
    last_event_time: dt.datetime | None
    lag_seconds: float | None = strawberry.field(
        description="From the last event's time to its projection"
    )
    p50_seconds: float | None = strawberry.field(description="Median delay, recent events")
    p99_seconds: float | None


@strawberry.type(description="Programme figures against its targets, for one scope")
class Impact:
    enrolled: int | None = strawberry.field(description="Null only when hidden: see suppressed")
    trained: int | None
    directed_to_employment: int | None
    associations_upskilled: int
    people_reached: int | None = strawberry.field(description=PEOPLE_REACHED)
    anonymous_attendees: int | None = strawberry.field(description=ANONYMOUS_ATTENDEES)
    women_share_careers: float | None = strawberry.field(
        description="Share of women among careers-track participants (0–1); null when none"
    )
    women_share_goal: float | None = strawberry.field(description="From the targets file")
    targets: Targets
    progress: list[TargetProgress]
    funnel: list[FunnelStage]
    attendance_rate: float | None
    no_show_rate: float | None = strawberry.field(
        description="Share of recorded attendances missed without an excuse (0–1)"
    )
    withdrawn: int | None
    at_risk: int | None = strawberry.field(description="People flagged after repeated absences")
    directed_by_outcome: list[OutcomeCount]
    skill_gain: list[SkillGain]
    by_district: list[DistrictImpact]
    by_association: list[AssociationImpact]
    by_gender: list[GenderImpact]
    by_age_band: list[AgeBandImpact]
    by_track: list[TrackImpact]
    cohorts: list[CohortImpact]
    weekly: list[WeekImpact]
    freshness: Freshness
    updated_at: dt.datetime | None
    anonymised: bool = strawberry.field(
        default=False,
        description="Small counts are hidden for this audience (funders, public share links)",
    )
    suppressed: list[SuppressedCount] = strawberry.field(default_factory=list, description=HIDDEN)
