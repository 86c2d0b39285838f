"""A generated programme year as the associations' systems would report it: the intake requests
in simulated-time order, and the figures the platform should show once it has applied them.

Pure and deterministic: the same seed, size and clock give the same plan. People are generated
(names from :mod:`dn.demo`'s lists, e-mail addresses under ``example.org``): nobody real is
described. Every id a later request needs (person, session, referral, placement) is chosen here,
as the intake contracts allow, and derived from the seed and a stable name, so playing the same
seed again sends the same events again (applied once) instead of enrolling duplicates.
"""

from __future__ import annotations

import hashlib
import math
import random
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.intake import EnrolmentRequestedV1, IntakeConsent
from contracts.maturity import (
    MAX_ANSWER,
    QUESTIONNAIRE,
    MaturityQuestion,
    MaturityRule,
    maturity_score,
)
from contracts.orientation import (
    FollowUpMonths,
    FollowUpReportedV1,
    InterestsReportedV1,
    PartnerKind,
    PlacementKind,
    PlacementReportedV1,
    ReferralOutcome,
    ReferralRequestedV1,
    ReferralResolutionReportedV1,
    WorkshopReportedV1,
)
from contracts.training import (
    AnonymousAttendanceReportedV1,
    AssessmentReportedV1,
    AssessmentStage,
    AttendanceReportedV1,
    AttendanceStatus,
    Autonomy,
    MaturityAssessmentReportedV1,
    SessionKind,
    SessionReportedV1,
)
from dn.demo import FIRST_NAMES, LAST_NAMES

LOCAL = ZoneInfo("Europe/Paris")
MIN_DAYS, MAX_DAYS = 7, 730
MAX_PEOPLE = 20_000
T = TypeVar("T")


@dataclass(frozen=True)
class Association:
    """One of the five associations, the districts it serves and its share of the people.

    Mirrors registration's reference data (a unit test keeps the two in step)."""

    id: str
    districts: tuple[str, ...]
    weight: float


ASSOCIATIONS = (
    Association("asso-lac-connecte", ("qpv-aubiers-lac",), 0.22),
    Association("asso-parc-numerique", ("qpv-grand-parc",), 0.20),
    Association("asso-rive-droite-clic", ("qpv-benauge", "qpv-palmer-saraillere"), 0.24),
    Association("asso-saige-en-ligne", ("qpv-saige",), 0.18),
    Association("asso-passerelles-cenon", ("qpv-palmer-saraillere",), 0.16),
)
# Modules of training's catalogue and their Pix competences (kept in step by a unit test).
INCLUSION_MODULES = {
    "mod-premiers-pas": ("5.1", "5.2"),
    "mod-recherche-web": ("1.1",),
    "mod-messagerie": ("2.1", "4.1"),
    "mod-visio": ("2.1", "2.3"),
    "mod-demarches-en-ligne": ("1.1", "1.2"),
    "mod-droits-sante": ("1.1", "1.2"),
    "mod-securite": ("4.1", "4.2"),
    "mod-vie-privee": ("2.4", "4.2"),
}
CAREERS_MODULES = {
    "mod-cv-lettre": ("3.1", "3.3"),
    "mod-recherche-emploi": ("1.1", "2.2"),
    "mod-bureautique": ("1.3", "3.1"),
    "mod-decouverte-code": ("3.4", "3.2"),
    "mod-cloud-partage": ("1.2", "2.2"),
}
# What associations train their own staff in (modules of the lists above).
STAFF_MODULES = (
    "mod-securite",
    "mod-vie-privee",
    "mod-demarches-en-ligne",
    "mod-visio",
    "mod-cloud-partage",
    "mod-bureautique",
)
# When associations fill in the maturity self-assessment: shares of the period (the first is
# the baseline).
MATURITY_ASSESSMENTS = (0.04, 0.5, 0.92)
# Orientation's job families (ROME-based codes) and referral refusal reasons.
JOB_FAMILIES = ("M1805", "I1401", "M1801", "E1101", "M1403", "E1205", "K1204", "D1406")
REFUSAL_REASONS = ("prerequisites_not_met", "no_places_left", "person_declined", "not_reachable")
PLACES = ("association_premises", "association_premises", "library", "social_centre")
# Generic descriptions, never a real organisation's name.
EMPLOYERS = {
    PartnerKind.TRAINING_ORGANISATION: "Organisme de formation partenaire",
    PartnerKind.EMPLOYER: "Entreprise partenaire du quartier",
    PartnerKind.FRANCE_TRAVAIL: "Employeur proposé par France Travail",
    PartnerKind.MISSION_LOCALE: "Structure proposée par la Mission locale",
}
PLACEMENTS_BY_PARTNER: dict[PartnerKind, tuple[tuple[PlacementKind, float], ...]] = {
    PartnerKind.TRAINING_ORGANISATION: (
        (PlacementKind.QUALIFYING_TRAINING, 0.7),
        (PlacementKind.APPRENTICESHIP, 0.2),
        (PlacementKind.OTHER, 0.1),
    ),
    PartnerKind.EMPLOYER: (
        (PlacementKind.CDI, 0.3),
        (PlacementKind.CDD_6M_PLUS, 0.25),
        (PlacementKind.CDD_UNDER_6M, 0.2),
        (PlacementKind.INTERIM_6M_PLUS, 0.1),
        (PlacementKind.INTERIM_UNDER_6M, 0.1),
        (PlacementKind.BUSINESS_CREATION, 0.05),
    ),
    PartnerKind.FRANCE_TRAVAIL: (
        (PlacementKind.SUBSIDISED_CONTRACT, 0.35),
        (PlacementKind.SIAE_HIRING, 0.25),
        (PlacementKind.CDD_UNDER_6M, 0.2),
        (PlacementKind.OTHER, 0.2),
    ),
    PartnerKind.MISSION_LOCALE: (
        (PlacementKind.APPRENTICESHIP, 0.45),
        (PlacementKind.QUALIFYING_TRAINING, 0.25),
        (PlacementKind.OTHER, 0.3),
    ),
}
INCLUSION_PLACEMENTS = (
    (PlacementKind.SIAE_HIRING, 0.3),
    (PlacementKind.CDD_UNDER_6M, 0.2),
    (PlacementKind.INTERIM_UNDER_6M, 0.15),
    (PlacementKind.OTHER, 0.35),
)


@dataclass(frozen=True)
class TrainedRule:
    """The platform's "trained" rule (training's ``DN_TRAINING_*`` settings; defaults 4, 12 h)."""

    min_sessions: int = 4
    min_minutes: int = 720
    require_final_assessment: bool = False


@dataclass(frozen=True)
class PlannedRequest:
    """One intake request as a partner's system sends it, at its simulated time.

    ``needs`` names what must already be applied for it to be accepted (``beneficiary:ID``,
    ``session:ID``, ``referral:ID``, ``placement:ID``); ``provides`` what it creates.
    """

    at: datetime
    rank: int
    ce_id: UUID
    source: str
    data: EventData
    needs: tuple[str, ...] = ()
    provides: str | None = None

    @property
    def event_type(self) -> str:
        return self.data.event_type

    @property
    def topic(self) -> str:
        return self.data.topic

    @property
    def key(self) -> str:
        return self.data.subject()

    def envelope(self) -> CloudEvent:
        """The CloudEvent: simulated time in ``time``, the stable id in ``id``."""
        return self.data.to_event(self.source, id=self.ce_id, time=self.at)


@dataclass(frozen=True)
class GroundTruth:
    """What the platform should count once every request is applied."""

    enrolled: int
    trained: int
    directed_to_employment: int
    women_share_careers: float | None
    careers: int
    women: int
    by_association: dict[str, int]
    by_age_band: dict[str, int]
    sessions: int
    attendance_records: int
    present_share: float
    drop_outs: int
    workshops: int
    referrals: int
    placements_by_kind: dict[str, int]
    staff_sessions: int
    maturity_assessments: int
    upskilled_associations: tuple[str, ...]

    @property
    def associations_upskilled(self) -> int:
        return len(self.upskilled_associations)

    def as_json(self) -> dict[str, object]:
        return {
            "enrolled": self.enrolled,
            "trained": self.trained,
            "directed_to_employment": self.directed_to_employment,
            "women_share_careers": self.women_share_careers,
            "careers": self.careers,
            "women": self.women,
            "by_association": self.by_association,
            "by_age_band": self.by_age_band,
            "sessions": self.sessions,
            "attendance_records": self.attendance_records,
            "present_share": self.present_share,
            "drop_outs": self.drop_outs,
            "workshops": self.workshops,
            "referrals": self.referrals,
            "placements_by_kind": self.placements_by_kind,
            "staff_sessions": self.staff_sessions,
            "maturity_assessments": self.maturity_assessments,
            "associations_upskilled": self.associations_upskilled,
            "upskilled_associations": list(self.upskilled_associations),
        }


@dataclass(frozen=True)
class Programme:
    seed: int
    people: int
    days: int
    starts: datetime
    ends: datetime
    requests: tuple[PlannedRequest, ...]
    truth: GroundTruth

    def counts_by_type(self) -> dict[str, int]:
        return dict(Counter(r.event_type for r in self.requests))


# -- generation ------------------------------------------------------------------------------


def stable_id(seed: int, *name: object) -> UUID:
    """A UUID (version 4 layout) derived from the seed and a stable name."""
    digest = hashlib.sha256("/".join(map(str, (seed, *name))).encode()).digest()
    return UUID(bytes=digest[:16], version=4)


@dataclass
class Resident:
    """A generated person: what their association's system knows and what happens to them."""

    index: int
    id: UUID
    association: Association
    district_id: str
    gender: Gender
    birth_year: int | None
    careers: bool
    tracks: tuple[Track, ...]
    employment: EmploymentStatus
    shares_with_partners: bool
    first_name: str
    last_name: str
    email: str | None
    reliability: float
    drops_after: int | None
    enrolled_at: datetime | None = None
    present_sessions: int = 0
    present_minutes: int = 0
    final_assessed: bool = False
    dropped: bool = False
    last_session_end: datetime | None = None
    interests: tuple[str, ...] = ()
    interests_at: datetime | None = None

    def age_band(self, this_year: int) -> str:
        """The band registration derives from the birth year."""
        if self.birth_year is None:
            return "unknown"
        age = this_year - self.birth_year
        for upper, band in ((17, "under_18"), (25, "18_25"), (44, "26_44"), (64, "45_64")):
            if age <= upper:
                return band
        return "65_plus"


def _pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "-" for c in folded.lower()).strip("-")


def _resident(seed: int, index: int, this_year: int, taken: set[tuple[str, ...]]) -> Resident:
    rng = random.Random(f"{seed}/person/{index}")
    association = _pick(rng, [(a, a.weight) for a in ASSOCIATIONS])
    gender = _pick(
        rng,
        [
            (Gender.FEMALE, 0.60),
            (Gender.MALE, 0.37),
            (Gender.NON_BINARY, 0.015),
            (Gender.UNDISCLOSED, 0.015),
        ],
    )
    # Women are under-represented in the careers track, as in the sector.
    careers = rng.random() < {Gender.FEMALE: 0.2, Gender.MALE: 0.42}.get(gender, 0.3)
    if careers:
        age = rng.choice([rng.randint(18, 25), rng.randint(26, 44), rng.randint(26, 44)])
        age = age if rng.random() > 0.1 else rng.randint(45, 58)
        employment = _pick(
            rng,
            [
                (EmploymentStatus.REGISTERED_JOB_SEEKER, 0.55),
                (EmploymentStatus.UNEMPLOYED_NOT_REGISTERED, 0.2),
                (EmploymentStatus.EMPLOYED, 0.1),
                (EmploymentStatus.IN_EDUCATION, 0.15),
            ],
        )
    else:
        band = _pick(rng, [((18, 25), 0.1), ((26, 44), 0.35), ((45, 64), 0.35), ((65, 84), 0.2)])
        age = rng.randint(*band)
        employment = (
            EmploymentStatus.RETIRED
            if age >= 65
            else _pick(
                rng,
                [
                    (EmploymentStatus.REGISTERED_JOB_SEEKER, 0.3),
                    (EmploymentStatus.UNEMPLOYED_NOT_REGISTERED, 0.2),
                    (EmploymentStatus.EMPLOYED, 0.2),
                    (EmploymentStatus.INACTIVE, 0.25),
                    (EmploymentStatus.IN_EDUCATION, 0.05),
                ],
            )
        )
    tracks = (
        (Track.DIGITAL_CAREERS,)
        if careers and rng.random() < 0.5
        else (Track.DIGITAL_INCLUSION, Track.DIGITAL_CAREERS)
        if careers
        else (Track.DIGITAL_INCLUSION,)
    )
    birth_year = this_year - age if rng.random() > 0.05 else None
    names = FIRST_NAMES[gender.name]
    while True:  # the same name and birth year twice in one association is one person
        first_name, last_name = rng.choice(names), rng.choice(LAST_NAMES)
        identity = (association.id, first_name, last_name, str(birth_year))
        if identity not in taken:
            taken.add(identity)
            break
        birth_year = (birth_year or this_year - 40) - 1
    email = None
    if rng.random() < 0.55:
        email = f"{_ascii(first_name)}.{_ascii(last_name)}.{rng.getrandbits(32):08x}@example.org"
    return Resident(
        index=index,
        id=stable_id(seed, "person", index),
        association=association,
        district_id=rng.choice(association.districts),
        gender=gender,
        birth_year=birth_year,
        careers=careers,
        tracks=tracks,
        employment=employment,
        shares_with_partners=rng.random() < (0.85 if careers else 0.7),
        first_name=first_name,
        last_name=last_name,
        email=email,
        reliability=min(0.98, max(0.45, rng.gauss(0.85, 0.1))),
        drops_after=rng.randint(1, 6) if rng.random() < 0.18 else None,
    )


@dataclass
class Cohort:
    """A group of an association's people following a series of weekly sessions together."""

    association: Association
    careers: bool
    number: int
    starts: datetime
    members: list[Resident] = field(default_factory=list)


RANK = {
    EnrolmentRequestedV1: 0,
    SessionReportedV1: 1,
    AttendanceReportedV1: 2,
    AnonymousAttendanceReportedV1: 3,
    AssessmentReportedV1: 4,
    WorkshopReportedV1: 5,
    InterestsReportedV1: 6,
    ReferralRequestedV1: 7,
    ReferralResolutionReportedV1: 8,
    PlacementReportedV1: 9,
    FollowUpReportedV1: 10,
    MaturityAssessmentReportedV1: 11,
}


class _Plan:
    """Collects requests and the facts the ground truth is computed from."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.seed = seed
        self.now = now
        self.requests: list[PlannedRequest] = []
        self.attendance: Counter[AttendanceStatus] = Counter()
        self.sessions = 0
        self.workshops = 0
        self.referrals = 0
        self.placements: dict[UUID, PlacementKind] = {}
        self.staff_sessions = 0
        # Per association: (start, minutes, headcount) of staff sessions whose headcount is
        # reported, and (date, answers) of its maturity self-assessments.
        self.staff: defaultdict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
        self.maturity: defaultdict[str, list[tuple[datetime, dict[MaturityQuestion, int]]]] = (
            defaultdict(list)
        )

    def add(
        self,
        at: datetime,
        association: Association,
        data: EventData,
        *name: object,
        needs: Iterable[str] = (),
        provides: str | None = None,
    ) -> bool:
        """Plan ``data`` at ``at``; False (nothing planned) when that is still in the future."""
        if at > self.now:
            return False
        self.requests.append(
            PlannedRequest(
                at=at,
                rank=RANK[type(data)],
                ce_id=stable_id(self.seed, "request", *name),
                source=f"partner/{association.id}-crm",
                data=data,
                needs=tuple(needs),
                provides=provides,
            )
        )
        return True


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, LOCAL)


def plan_programme(
    seed: int,
    people: int,
    days: int,
    now: datetime | None = None,
    rule: TrainedRule = TrainedRule(),
    maturity: MaturityRule = MaturityRule(),
) -> Programme:
    """The programme of ``people`` residents over the ``days`` ending at ``now``."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"days: between {MIN_DAYS} and {MAX_DAYS}")
    if not 1 <= people <= MAX_PEOPLE:
        raise ValueError(f"people: between 1 and {MAX_PEOPLE}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    starts = now - timedelta(days=days)
    taken: set[tuple[str, ...]] = set()
    residents = [_resident(seed, i, now.year, taken) for i in range(people)]
    plan = _Plan(seed, now)
    rng = random.Random(f"{seed}/programme/{people}/{days}")
    cohorts = _cohorts(rng, residents, starts, days)
    for cohort in cohorts:
        _enrol(plan, rng, cohort, starts)
    for cohort in cohorts:
        _train(plan, rng, cohort, starts)
    for association in ASSOCIATIONS:
        _orient(plan, rng, association, [r for r in residents if r.association is association])
    # One association commits less to its own upskilling than the others.
    lagging = random.Random(f"{seed}/upskilling/{days}").choice(ASSOCIATIONS)
    for association in ASSOCIATIONS:
        _upskill(plan, association, starts, days, committed=association is not lagging)
    requests = tuple(sorted(plan.requests, key=lambda r: (r.at, r.rank, str(r.ce_id))))
    return Programme(
        seed=seed,
        people=people,
        days=days,
        starts=starts,
        ends=now,
        requests=requests,
        truth=_truth(plan, residents, rule, maturity),
    )


def _cohorts(
    rng: random.Random, residents: list[Resident], starts: datetime, days: int
) -> list[Cohort]:
    """Each association's people in cohorts of about ten (eight in careers), whose start
    dates spread over the period; the latest are still under way when it ends."""
    cohorts = []
    for association in ASSOCIATIONS:
        for careers in (False, True):
            group = [r for r in residents if r.association is association and r.careers == careers]
            if not group:
                continue
            size = 8 if careers else 10
            count = math.ceil(len(group) / size)
            first, last = 3, max(4, days - 10)
            for number in range(count):
                offset = first + (last - first) * (number + rng.random() * 0.6) / count
                day = (starts + timedelta(days=offset)).astimezone(LOCAL).date()
                cohort = Cohort(association, careers, number, _local(day, time(9, 30)))
                cohort.members = group[number * size : (number + 1) * size]
                cohorts.append(cohort)
    return cohorts


def _enrol(plan: _Plan, rng: random.Random, cohort: Cohort, starts: datetime) -> None:
    for person in cohort.members:
        before = timedelta(days=rng.uniform(1, 14), hours=rng.uniform(-3, 3))
        person.enrolled_at = max(
            starts + timedelta(hours=rng.uniform(1, 48)), cohort.starts - before
        )
        plan.add(
            person.enrolled_at,
            cohort.association,
            EnrolmentRequestedV1(
                association_id=cohort.association.id,
                district_id=person.district_id,
                first_name=person.first_name,
                last_name=person.last_name,
                birth_year=person.birth_year,
                email=person.email,
                gender=person.gender,
                tracks=list(person.tracks),
                employment_status=person.employment,
                consent=IntakeConsent(
                    programme_follow_up=True,
                    share_with_partners=person.shares_with_partners,
                    contact_for_surveys=rng.random() < 0.5,
                ),
                partner_reference=f"crm-{person.index:05d}",
                beneficiary_id=person.id,
                enrolled_on=person.enrolled_at.date(),
            ),
            "enrolment",
            person.index,
            provides=f"beneficiary:{person.id}",
        )


def _schedule(rng: random.Random, cohort: Cohort) -> list[tuple[datetime, int, str]]:
    """(start, minutes, module) of each session: weekly or twice a week, 2 to 3 hours."""
    modules = list(CAREERS_MODULES if cohort.careers else INCLUSION_MODULES)
    first_module, rest = modules[0], modules[1:]
    rng.shuffle(rest)
    sequence = [first_module, *rest]
    count = rng.randint(6, 10)
    twice = cohort.careers or rng.random() < 0.4
    at = time(9, 30) if rng.random() < 0.5 else time(14, 0)
    minutes = _pick(rng, [(120, 0.35), (150, 0.3), (180, 0.35)])
    first_day = cohort.starts.date()
    sessions = []
    for number in range(count):
        week, second = divmod(number, 2) if twice else (number, 0)
        day = first_day + timedelta(weeks=week, days=2 * second)
        sessions.append((_local(day, at), minutes, sequence[number % len(sequence)]))
    return sessions


def _train(plan: _Plan, rng: random.Random, cohort: Cohort, starts: datetime) -> None:
    """The cohort's sessions, scheduled a few days ahead; the roll-call of each one held, with
    drop-outs (three unexcused absences, then off the roll); assessments on the first and
    last sessions attended."""
    association = cohort.association
    now = plan.now
    sessions = _schedule(rng, cohort)
    scheduled_at = max(starts, sessions[0][0] - timedelta(days=rng.uniform(2, 7)))
    district = cohort.members[0].district_id
    first_competences = (CAREERS_MODULES if cohort.careers else INCLUSION_MODULES)[sessions[0][2]]
    roll = list(cohort.members)
    unexcused_since_drop: Counter[UUID] = Counter()
    for number, (starts_at, minutes, module) in enumerate(sessions):
        session_id = stable_id(
            plan.seed, "session", association.id, cohort.careers, cohort.number, number
        )
        name = ("session", session_id)
        planned = plan.add(
            scheduled_at + timedelta(seconds=number),
            association,
            SessionReportedV1(
                association_id=association.id,
                district_id=district,
                module_id=module,
                kind=SessionKind.COLLECTIVE,
                place_type=rng.choice(PLACES),
                starts_at=starts_at,
                duration_minutes=minutes,
                capacity=16,
                session_id=session_id,
            ),
            *name,
            provides=f"session:{session_id}",
        )
        if not planned:
            continue
        plan.sessions += 1
        ends = starts_at + timedelta(minutes=minutes)
        if ends + timedelta(hours=2) > now:
            continue  # not held yet (or its roll-call is not entered yet)
        last = number == len(sessions) - 1
        for person in list(roll):
            status, attended = _attendance(rng, person, minutes)
            if person.dropped:
                unexcused_since_drop[person.id] += 1
                if unexcused_since_drop[person.id] > 3:
                    roll.remove(person)  # three unexcused absences: off the roll-call
                    continue
            recorded_at = ends + timedelta(minutes=rng.uniform(10, 120))
            plan.add(
                recorded_at,
                association,
                AttendanceReportedV1(
                    beneficiary_id=person.id,
                    session_id=str(session_id),
                    status=status,
                    minutes=attended if status is AttendanceStatus.PRESENT else None,
                ),
                "attendance",
                session_id,
                person.index,
                needs=(f"beneficiary:{person.id}", f"session:{session_id}"),
            )
            plan.attendance[status] += 1
            if status is not AttendanceStatus.PRESENT:
                continue
            person.last_session_end = ends
            first_time = person.present_sessions == 0
            person.present_sessions += 1
            person.present_minutes += attended
            if first_time or last:
                _assess(plan, rng, association, person, first_competences, ends, final=last)
        if rng.random() < 0.25:
            plan.add(
                ends + timedelta(minutes=30),
                association,
                AnonymousAttendanceReportedV1(session_id=str(session_id), count=rng.randint(1, 3)),
                "headcount",
                session_id,
                needs=(f"session:{session_id}",),
            )


def _attendance(rng: random.Random, person: Resident, minutes: int) -> tuple[AttendanceStatus, int]:
    """One person's mark at one session: present (sometimes late), or absent."""
    if person.dropped:
        return AttendanceStatus.UNEXCUSED_ABSENCE, 0
    if person.drops_after is not None and person.present_sessions >= person.drops_after:
        person.dropped = True
        return AttendanceStatus.UNEXCUSED_ABSENCE, 0
    if rng.random() < person.reliability:
        late = rng.random() < 0.1
        return AttendanceStatus.PRESENT, minutes - (rng.choice((15, 30, 45)) if late else 0)
    excused = rng.random() < 0.45
    return (AttendanceStatus.EXCUSED_ABSENCE if excused else AttendanceStatus.UNEXCUSED_ABSENCE), 0


def _assess(
    plan: _Plan,
    rng: random.Random,
    association: Association,
    person: Resident,
    competences: tuple[str, ...],
    at: datetime,
    *,
    final: bool,
) -> None:
    stage = AssessmentStage.FINAL if final else AssessmentStage.INITIAL
    for competence in competences:
        level_rng = random.Random(f"{plan.seed}/level/{person.index}/{competence}")
        initial = level_rng.randint(0, 3)
        level = min(8, initial + level_rng.randint(1, 2)) if final else initial
        autonomy = (
            rng.choice((Autonomy.PARTLY_AUTONOMOUS, Autonomy.AUTONOMOUS))
            if final
            else rng.choice((Autonomy.ASSISTED, Autonomy.PARTLY_AUTONOMOUS))
        )
        plan.add(
            at + timedelta(minutes=20),
            association,
            AssessmentReportedV1(
                beneficiary_id=person.id,
                competence=competence,
                stage=stage,
                level=level,
                autonomy=autonomy,
                assessed_at=at + timedelta(minutes=20),
            ),
            "assessment",
            person.index,
            competence,
            stage.value,
            needs=(f"beneficiary:{person.id}",),
        )
        person.final_assessed = person.final_assessed or final


def _orient(
    plan: _Plan, rng: random.Random, association: Association, residents: list[Resident]
) -> None:
    """Career-discovery workshops every three weeks (every other one for women), then
    interests, referrals (with consent), their resolution, placements and follow-ups."""
    if not residents:
        return
    waiting = [r for r in residents if r.careers or rng.random() < 0.05]
    held = min(r.enrolled_at or plan.now for r in residents) + timedelta(days=rng.uniform(7, 14))
    number = 0
    while held <= plan.now:
        held_at = _local(held.astimezone(LOCAL).date(), time(14, 0))
        women_focused = number % 2 == 1
        participants = [
            r
            for r in waiting
            if r.enrolled_at is not None
            and r.enrolled_at < held_at - timedelta(days=1)
            and (r.gender is Gender.FEMALE or not women_focused)
        ]
        families = tuple(rng.sample(JOB_FAMILIES, rng.randint(2, 4)))
        if participants and plan.add(
            held_at + timedelta(hours=2),
            association,
            WorkshopReportedV1(
                association_id=association.id,
                held_at=held_at,
                job_families=list(families),
                women_focused=women_focused,
                participants=[str(r.id) for r in participants],
            ),
            "workshop",
            association.id,
            number,
            needs=tuple(f"beneficiary:{r.id}" for r in participants),
        ):
            plan.workshops += 1
            for person in participants:
                waiting.remove(person)
                _follow_interest(plan, rng, association, person, families, held_at)
        number += 1
        held += timedelta(days=21)
    for person in residents:
        if person.careers or person.employment not in (
            EmploymentStatus.REGISTERED_JOB_SEEKER,
            EmploymentStatus.UNEMPLOYED_NOT_REGISTERED,
        ):
            continue
        if person.present_sessions >= 3 and person.last_session_end and rng.random() < 0.08:
            kind = _pick(rng, INCLUSION_PLACEMENTS)
            at = person.last_session_end + timedelta(days=rng.uniform(14, 60))
            _place(plan, rng, association, person, kind, at, None)


def _follow_interest(
    plan: _Plan,
    rng: random.Random,
    association: Association,
    person: Resident,
    families: tuple[str, ...],
    held_at: datetime,
) -> None:
    if rng.random() > 0.8:
        return
    chosen = rng.sample(families, rng.randint(1, min(2, len(families))))
    at = held_at + timedelta(days=rng.uniform(1, 10))
    if not plan.add(
        at,
        association,
        InterestsReportedV1(beneficiary_id=person.id, job_families=chosen),
        "interests",
        person.index,
        needs=(f"beneficiary:{person.id}",),
    ):
        return
    person.interests, person.interests_at = tuple(chosen), at
    if not person.careers:
        return
    if not person.shares_with_partners or rng.random() > 0.75:
        if rng.random() < 0.1:  # found something on their own
            kind = rng.choice((PlacementKind.CDD_UNDER_6M, PlacementKind.OTHER))
            _place(
                plan, rng, association, person, kind, at + timedelta(days=rng.uniform(30, 90)), None
            )
        return
    young = person.birth_year is not None and plan.now.year - person.birth_year <= 25
    partner = _pick(
        rng,
        [
            (PartnerKind.TRAINING_ORGANISATION, 0.4),
            (PartnerKind.FRANCE_TRAVAIL, 0.25),
            (PartnerKind.EMPLOYER, 0.2),
            (PartnerKind.MISSION_LOCALE, 0.3 if young else 0.05),
        ],
    )
    referral_id = stable_id(plan.seed, "referral", person.index)
    referred_at = at + timedelta(days=rng.uniform(7, 28))
    if not plan.add(
        referred_at,
        association,
        ReferralRequestedV1(
            beneficiary_id=person.id, partner_kind=partner, referral_id=referral_id
        ),
        "referral",
        person.index,
        needs=(f"beneficiary:{person.id}",),
        provides=f"referral:{referral_id}",
    ):
        return
    plan.referrals += 1
    resolved_at = referred_at + timedelta(days=rng.uniform(5, 20))
    accepted = rng.random() < 0.7
    if not plan.add(
        resolved_at,
        association,
        ReferralResolutionReportedV1(
            referral_id=referral_id,
            outcome=ReferralOutcome.ACCEPTED if accepted else ReferralOutcome.REFUSED,
            refusal_reason=None if accepted else rng.choice(REFUSAL_REASONS),
        ),
        "resolution",
        person.index,
        needs=(f"referral:{referral_id}",),
    ):
        return
    if accepted and rng.random() < 0.75:
        kind = _pick(rng, PLACEMENTS_BY_PARTNER[partner])
        placed_at = resolved_at + timedelta(days=rng.uniform(7, 45))
        _place(plan, rng, association, person, kind, placed_at, partner)


def _place(
    plan: _Plan,
    rng: random.Random,
    association: Association,
    person: Resident,
    kind: PlacementKind,
    at: datetime,
    partner: PartnerKind | None,
) -> None:
    placement_id = stable_id(plan.seed, "placement", person.index)
    starts_on = (at + timedelta(days=rng.randint(0, 21))).astimezone(LOCAL).date()
    if not plan.add(
        at,
        association,
        PlacementReportedV1(
            beneficiary_id=person.id,
            kind=kind,
            starts_on=starts_on,
            digital_sector=person.careers and rng.random() < 0.5,
            employer=EMPLOYERS[partner] if partner else None,
            partner_reference=f"crm-placement-{person.index:05d}",
            placement_id=placement_id,
        ),
        "placement",
        person.index,
        needs=(f"beneficiary:{person.id}",),
        provides=f"placement:{placement_id}",
    ):
        return
    plan.placements[person.id] = kind
    if kind is PlacementKind.OTHER:
        return  # only placements directed towards employment are followed up
    still_in_post = True
    months: FollowUpMonths
    for months in (3, 6):
        due = _add_months(starts_on, months)
        reported = _local(due + timedelta(days=rng.randint(0, 10)), time(11, 0))
        still_in_post = rng.random() < (0.85 if still_in_post else 0.15)
        if not plan.add(
            reported,
            association,
            FollowUpReportedV1(
                placement_id=placement_id, months=months, still_in_post=still_in_post
            ),
            "follow-up",
            person.index,
            months,
            needs=(f"placement:{placement_id}",),
        ):
            return


def _upskill(
    plan: _Plan, association: Association, starts: datetime, days: int, *, committed: bool
) -> None:
    """The association's own digital upskilling: staff training sessions (kind STAFF, with
    their headcount once held) and its maturity self-assessment, a baseline early in the
    period then at mid-period and near its end. A committed association trains its staff every
    month or so and its answers rise; a less committed one trains them rarely and its answers
    barely move."""
    rng = random.Random(f"{plan.seed}/upskilling/{association.id}/{days}")
    held = starts + timedelta(days=rng.uniform(10, 25))
    number = 0
    while held <= plan.now:
        _staff_session(plan, rng, association, starts, held, number, committed)
        number += 1
        held += timedelta(days=rng.uniform(28, 42) if committed else rng.uniform(150, 200))
    answers = {q.id: _pick(rng, [(0, 0.35), (1, 0.45), (2, 0.2)]) for q in QUESTIONNAIRE}
    progress = 0.55 if committed else 0.06
    for number, share in enumerate(MATURITY_ASSESSMENTS):
        if number:
            answers = {
                question: min(MAX_ANSWER, answer + (rng.random() < progress))
                for question, answer in answers.items()
            }
        day = (starts + timedelta(days=days * (share + rng.uniform(0, 0.03)))).astimezone(LOCAL)
        assessed_at = _local(day.date(), time(10, 0))
        if plan.add(
            assessed_at + timedelta(hours=1),
            association,
            MaturityAssessmentReportedV1(
                association_id=association.id,
                answers=dict(answers),
                assessed_at=assessed_at,
                assessment_id=stable_id(plan.seed, "maturity", association.id, number),
            ),
            "maturity",
            association.id,
            number,
        ):
            plan.maturity[association.id].append((assessed_at, dict(answers)))


def _staff_session(
    plan: _Plan,
    rng: random.Random,
    association: Association,
    starts: datetime,
    held: datetime,
    number: int,
    committed: bool,
) -> None:
    """One staff training session, scheduled a few days ahead; its headcount once held."""
    starts_at = _local(held.astimezone(LOCAL).date(), rng.choice((time(9, 30), time(14, 0))))
    minutes = _pick(rng, [(120, 0.4), (150, 0.3), (180, 0.3)])
    session_id = stable_id(plan.seed, "staff-session", association.id, number)
    if not plan.add(
        max(starts, starts_at - timedelta(days=rng.uniform(3, 10))),
        association,
        SessionReportedV1(
            association_id=association.id,
            district_id=association.districts[0],
            module_id=rng.choice(STAFF_MODULES),
            kind=SessionKind.STAFF,
            place_type="association_premises",
            starts_at=starts_at,
            duration_minutes=minutes,
            capacity=8,
            session_id=session_id,
        ),
        "staff-session",
        session_id,
        provides=f"session:{session_id}",
    ):
        return
    plan.sessions += 1
    plan.staff_sessions += 1
    headcount = rng.randint(2, 5) if committed else 1
    if plan.add(
        starts_at + timedelta(minutes=minutes + 45),
        association,
        AnonymousAttendanceReportedV1(session_id=str(session_id), count=headcount),
        "staff-headcount",
        session_id,
        needs=(f"session:{session_id}",),
    ):
        plan.staff[association.id].append((starts_at, minutes, headcount))


def _upskilled(plan: _Plan, rule: MaturityRule) -> tuple[str, ...]:
    """Associations with an assessment ``rule.upskilled_points`` above their first one, each
    scored with the staff sessions held up to its date (training's rule)."""
    upskilled = []
    for association_id, assessments in sorted(plan.maturity.items()):
        staff = plan.staff[association_id]
        scores = [
            maturity_score(
                answers, sum(m * h for begun, m, h in staff if begun <= assessed_at), rule
            )
            for assessed_at, answers in sorted(assessments, key=lambda a: a[0])
        ]
        if any(later - scores[0] >= rule.upskilled_points for later in scores[1:]):
            upskilled.append(association_id)
    return tuple(upskilled)


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (as orientation computes it)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _truth(
    plan: _Plan, residents: list[Resident], rule: TrainedRule, maturity: MaturityRule
) -> GroundTruth:
    enrolled = [r for r in residents if r.enrolled_at is not None and r.enrolled_at <= plan.now]
    enrolled_ids = {r.id for r in enrolled}
    trained = [
        r
        for r in enrolled
        if r.present_sessions >= rule.min_sessions
        and r.present_minutes >= rule.min_minutes
        and (r.final_assessed or not rule.require_final_assessment)
    ]
    careers = [r for r in enrolled if r.careers]
    records = sum(plan.attendance.values())
    return GroundTruth(
        enrolled=len(enrolled),
        trained=len(trained),
        directed_to_employment=sum(
            1
            for person_id, kind in plan.placements.items()
            if kind is not PlacementKind.OTHER and person_id in enrolled_ids
        ),
        women_share_careers=(
            round(sum(r.gender is Gender.FEMALE for r in careers) / len(careers), 4)
            if careers
            else None
        ),
        careers=len(careers),
        women=sum(r.gender is Gender.FEMALE for r in enrolled),
        by_association=dict(sorted(Counter(r.association.id for r in enrolled).items())),
        by_age_band=dict(sorted(Counter(r.age_band(plan.now.year) for r in enrolled).items())),
        sessions=plan.sessions,
        attendance_records=records,
        present_share=round(plan.attendance[AttendanceStatus.PRESENT] / records, 4)
        if records
        else 0.0,
        drop_outs=sum(r.dropped for r in enrolled),
        workshops=plan.workshops,
        referrals=plan.referrals,
        placements_by_kind=dict(sorted(Counter(k.value for k in plan.placements.values()).items())),
        staff_sessions=plan.staff_sessions,
        maturity_assessments=sum(len(a) for a in plan.maturity.values()),
        upskilled_associations=_upskilled(plan, maturity),
    )
