"""The reporting figures a simulated programme must produce, worked out from its own requests.

Independent of the platform: each person's facts are folded from the intake requests the
simulator planned (enrolment, attendance, assessments, workshops, referrals, placements,
follow-ups), then counted per indicator, in the totals and in every attribute breakdown
(district, association, gender, track, careers track by gender, enrolment cohort). The age band
comes from the simulator's own ground truth (registration derives it from the birth year), and
so do the associations upskilled (training scores the self-assessments with the staff sessions'
headcounts; the truth applies the same rule): in the total and in each one's association row.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from contracts.dimensions import Track
from contracts.intake import EnrolmentRequestedV1
from contracts.orientation import (
    FollowUpReportedV1,
    PlacementKind,
    PlacementReportedV1,
    ReferralRequestedV1,
    WorkshopReportedV1,
)
from contracts.training import (
    AssessmentReportedV1,
    AssessmentStage,
    AttendanceReportedV1,
    AttendanceStatus,
    SessionReportedV1,
)
from dn.simulation.programme import Programme, TrainedRule
from services.orientation.domain import OUTCOME_CLASSES

# Reporting's name for each attendance status in its counters.
STATUS_INDICATOR = {
    AttendanceStatus.PRESENT: "sessions_present",
    AttendanceStatus.EXCUSED_ABSENCE: "sessions_excused",
    AttendanceStatus.UNEXCUSED_ABSENCE: "sessions_unexcused",
}
# Best first: a person directed by several placements counts under the best class.
OUTCOMES = ("durable_employment", "transitional_employment", "positive_exit")
ATTRIBUTES = ("district", "association", "gender", "track", "careers_gender", "cohort")

UNKNOWN = "unknown"  # reporting's value for a dimension it does not know yet
Cell = tuple[str, str]  # (dimension, value)


@dataclass
class Person:
    """What the requests say about one person, folded in the order they were planned."""

    enrolled: bool = False
    association: str = UNKNOWN
    district: str = UNKNOWN
    gender: str = UNKNOWN
    tracks: tuple[str, ...] = (UNKNOWN,)
    enrolled_on: str = UNKNOWN
    attendances: dict[str, tuple[AttendanceStatus, int]] = field(default_factory=dict)
    assessments: dict[tuple[str, AssessmentStage], int] = field(default_factory=dict)
    workshop: bool = False
    referred: bool = False
    placements: dict[str, PlacementKind] = field(default_factory=dict)
    in_post_6m: bool = False

    def counts(self, rule: TrainedRule) -> Counter[str]:
        present = [
            m for status, m in self.attendances.values() if status is AttendanceStatus.PRESENT
        ]
        directed = [k for k in self.placements.values() if k is not PlacementKind.OTHER]
        reached = {
            "enrolled": self.enrolled,
            "attended": bool(present),
            "trained": len(present) >= rule.min_sessions and sum(present) >= rule.min_minutes,
            "career_workshop": self.workshop,
            "referred": self.referred,
            "placed": bool(self.placements),
            "directed_to_employment": bool(directed),
            "in_post_6m": self.in_post_6m,
        }
        counts: Counter[str] = Counter(name for name, yes in reached.items() if yes)
        classes = {OUTCOME_CLASSES[kind].value for kind in directed}
        best = next((outcome for outcome in OUTCOMES if outcome in classes), None)
        if best is not None:
            counts[f"directed_{best}"] += 1
        for status, minutes in self.attendances.values():
            counts[STATUS_INDICATOR[status]] += 1
            counts["minutes_present"] += minutes
        for (competence, stage), initial in self.assessments.items():
            final = self.assessments.get((competence, AssessmentStage.FINAL))
            if stage is AssessmentStage.INITIAL and final is not None:
                area = competence.split(".")[0]
                counts[f"skill_gain_sum_{area}"] += final - initial
                counts[f"skill_gain_count_{area}"] += 1
        return counts

    def cells(self) -> list[Cell]:
        careers = Track.DIGITAL_CAREERS.value in self.tracks
        return [
            ("district", self.district),
            ("association", self.association),
            ("gender", self.gender),
            *(("track", track) for track in self.tracks),
            *((("careers_gender", self.gender),) if careers else ()),
            ("cohort", self.enrolled_on[:7]),
        ]


@dataclass(frozen=True)
class ExpectedFigures:
    """Every indicator's count in the totals and in each attribute cell."""

    totals: dict[str, int]
    cells: dict[Cell, dict[str, int]]
    by_age_band: dict[str, int]
    women_share_careers: float | None

    @property
    def indicators(self) -> tuple[str, ...]:
        return tuple(sorted(self.totals))


def expected_figures(programme: Programme, rule: TrainedRule) -> ExpectedFigures:
    people: defaultdict[str, Person] = defaultdict(Person)
    durations: dict[str, int] = {}
    placement_owner: dict[str, str] = {}
    for request in programme.requests:
        data = request.data
        if isinstance(data, EnrolmentRequestedV1):
            person = people[str(data.beneficiary_id)]
            person.enrolled = True
            person.association, person.district = data.association_id, data.district_id
            person.gender = data.gender.value
            person.tracks = tuple(track.value for track in data.tracks)
            person.enrolled_on = data.enrolled_on.isoformat() if data.enrolled_on else ""
        elif isinstance(data, SessionReportedV1):
            durations[str(data.session_id)] = data.duration_minutes
        elif isinstance(data, AttendanceReportedV1):
            present = data.status is AttendanceStatus.PRESENT
            default = durations[data.session_id] if present else 0
            minutes = data.minutes if data.minutes is not None else default
            people[str(data.beneficiary_id)].attendances[data.session_id] = (data.status, minutes)
        elif isinstance(data, AssessmentReportedV1):
            key = (data.competence, data.stage)
            people[str(data.beneficiary_id)].assessments[key] = data.level
        elif isinstance(data, WorkshopReportedV1):
            for participant in data.participants:
                people[participant].workshop = True
        elif isinstance(data, ReferralRequestedV1):
            people[str(data.beneficiary_id)].referred = True
        elif isinstance(data, PlacementReportedV1):
            placement_id = str(data.placement_id)
            placement_owner[placement_id] = str(data.beneficiary_id)
            people[str(data.beneficiary_id)].placements[placement_id] = data.kind
        elif isinstance(data, FollowUpReportedV1) and data.months == 6 and data.still_in_post:
            people[placement_owner[str(data.placement_id)]].in_post_6m = True
    totals: Counter[str] = Counter()
    cells: defaultdict[Cell, Counter[str]] = defaultdict(Counter)
    for person in people.values():
        counts = person.counts(rule)
        totals.update(counts)
        for cell in person.cells():
            cells[cell].update(counts)
    truth = programme.truth
    totals["associations_upskilled"] = truth.associations_upskilled
    for association_id in truth.upskilled_associations:
        cells[("association", association_id)]["associations_upskilled"] += 1
    return ExpectedFigures(
        totals=dict(totals),
        cells={cell: dict(counts) for cell, counts in cells.items()},
        by_age_band=dict(truth.by_age_band),
        women_share_careers=truth.women_share_careers,
    )
