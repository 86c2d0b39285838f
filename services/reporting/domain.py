"""Reporting rules: what each beneficiary's facts are, and how a change of facts moves counters.

Every aggregate is derived from the transition of one beneficiary's facts (old → new), so the
order events arrive in cannot change the result:

* registration facts (dimensions, withdrawal, merge) arrive in order on one topic, keyed by the
  person, so the latest one wins;
* everything else (attendance, assessments, workshops, referrals, placements, follow-ups) is
  kept as a set keyed by its own id, and a date is the earliest one seen, so training and
  orientation facts commute with each other and with registration's.

A dimension that is not known yet is counted under ``unknown`` until the enrolment arrives,
then moves. A merged record counts nothing itself; what it did is folded into the kept record,
again as set unions, so facts about it that arrive after the merge still reach the kept one.

Anonymous attendees (people at a collective session who are not enrolled) are counted the same
way from the transition of one *session*'s facts (:class:`SessionFacts`): its schedule and its
headcount, each settled whatever the order they arrive in. **People reached** is enrolled
people plus those anonymous attendees (see :func:`session_counts`).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from contracts.dimensions import Track
from contracts.event import EventData
from contracts.orientation import (
    FollowUpRecordedV1,
    OutcomeClass,
    PlacementRecordedV1,
    ReferralMadeV1,
    WorkshopAttendedV1,
)
from contracts.registration import (
    AssociationUpsertedV1,
    BeneficiariesMergedV1,
    BeneficiaryEnrolledV1,
    BeneficiaryErasedV1,
    BeneficiaryUpdatedV1,
    BeneficiaryWithdrawnV1,
    DistrictUpsertedV1,
)
from contracts.training import (
    AnonymousAttendanceRecordedV1,
    AttendanceRecordedV1,
    AttendanceStatus,
    BeneficiaryAtRiskV1,
    BeneficiaryTrainedV1,
    SessionKind,
    SessionScheduledV1,
    SkillAssessedV1,
)

UNKNOWN = "unknown"
ALL = "all"

# People counted once each when they reached the stage (the funnel's order).
FUNNEL = (
    "enrolled",
    "attended",
    "trained",
    "career_workshop",
    "referred",
    "placed",
    "directed_to_employment",
    "in_post_6m",
)
PEOPLE = (*FUNNEL, "withdrawn", "at_risk")
# Directed people by the best outcome class of their placements (IAE exit classes).
OUTCOME_ORDER = (
    OutcomeClass.DURABLE_EMPLOYMENT.value,
    OutcomeClass.TRANSITIONAL_EMPLOYMENT.value,
    OutcomeClass.POSITIVE_EXIT.value,
)
DIRECTED_BY_OUTCOME = tuple(f"directed_{outcome}" for outcome in OUTCOME_ORDER)
ATTENDANCE = ("sessions_present", "sessions_excused", "sessions_unexcused", "minutes_present")
ATTENDING = ("attending_new", "attending_returning")  # per week or month only
PIX_AREAS = ("1", "2", "3", "4", "5")
SKILL_GAIN = tuple(f"skill_gain_{kind}_{area}" for area in PIX_AREAS for kind in ("sum", "count"))
ASSOCIATIONS = ("associations_upskilled",)
# Headcounts of people not enrolled, at collective sessions (per session, not per person).
SESSIONS = ("anonymous_attendees",)
INDICATORS = (
    *PEOPLE,
    *DIRECTED_BY_OUTCOME,
    *ATTENDANCE,
    *ATTENDING,
    *SKILL_GAIN,
    *ASSOCIATIONS,
    *SESSIONS,
)

# Who a person is: every indicator is broken down by these. careers_gender counts
# careers-track people by gender; cohort is the month of enrolment.
ATTRIBUTES = ("district", "association", "gender", "age_band", "track", "careers_gender", "cohort")
# When something happened: enrolments, completions, attendance… per ISO week and per month.
PERIODS = ("week", "month")
DIMENSIONS = (*ATTRIBUTES, *PERIODS)
# The attributes an anonymous attendee is counted under: the session's association and
# district (a headcount has no gender, age or track). Periods too: when the session was held.
SESSION_ATTRIBUTES = ("association", "district")

Bucket = tuple[str, str | None, str | None]  # (scope, dimension, value); no dimension = total
Deltas = dict[tuple[Bucket, str], int]
K = TypeVar("K")


@dataclass(frozen=True)
class BeneficiaryFacts:
    """What reporting knows about one person; never personal data, only dimensions and ids.

    The mappings hold records keyed by their own id (attendance id, placement id…) with dates
    as ISO strings, so the facts store as one MongoDB document as they are.
    """

    beneficiary_id: str
    enrolled: bool = False
    enrolled_on: str | None = None
    association_id: str | None = None
    district_id: str | None = None
    gender: str | None = None
    age_band: str | None = None
    tracks: tuple[str, ...] = ()
    employment_status: str | None = None
    withdrawn: bool = False
    # Folded into another record: counted there, not here.
    merged_into: str | None = None
    # attendance id → {status, minutes, on, recorded_at}
    attendances: dict[str, dict[str, object]] = field(default_factory=dict)
    # "competence|stage" → {level, at}
    assessments: dict[str, dict[str, object]] = field(default_factory=dict)
    trained_on: str | None = None
    at_risk_on: str | None = None
    career_workshop_on: str | None = None
    referred_on: str | None = None
    # placement id → {outcome_class, directed, starts_on}
    placements: dict[str, dict[str, object]] = field(default_factory=dict)
    # "placement id|months" → still in post
    follow_ups: dict[str, bool] = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        return self.trained_on is not None

    @property
    def directed_to_employment(self) -> bool:
        return self.directed_on is not None

    @property
    def directed_on(self) -> str | None:
        return _earliest(str(p["starts_on"]) for p in self.placements.values() if p["directed"])

    @property
    def placed_on(self) -> str | None:
        return _earliest(str(p["starts_on"]) for p in self.placements.values())


_FACT_FIELDS = frozenset(f.name for f in fields(BeneficiaryFacts))


def _with(facts: BeneficiaryFacts, **changes: object) -> BeneficiaryFacts:
    """``dataclasses.replace`` for the facts, without its walk over every field (~6 % of the
    rebuild's time went there): the facts have no ``__post_init__`` and no ``init=False``
    field, so copying the attributes and setting the changed ones is the same thing."""
    assert changes.keys() <= _FACT_FIELDS, (
        f"not a field of the facts: {set(changes) - _FACT_FIELDS}"
    )
    copy = object.__new__(BeneficiaryFacts)
    copy.__dict__.update(facts.__dict__, **changes)
    return copy


# What each event type reporting uses does to a person's facts (one rule per type: a lookup,
# not a chain of isinstance checks, on the projection's hot path).
_RULES: dict[type[EventData], Callable[[BeneficiaryFacts, Any], BeneficiaryFacts]] = {}
Rule = TypeVar("Rule", bound=Callable[..., BeneficiaryFacts])


def _rule_for(*kinds: type[EventData]) -> Callable[[Rule], Rule]:
    def register(rule: Rule) -> Rule:
        for kind in kinds:
            _RULES[kind] = rule
        return rule

    return register


def apply(facts: BeneficiaryFacts, data: EventData) -> BeneficiaryFacts:
    """The facts after ``data``; event types reporting does not use leave them unchanged."""
    rule = _RULES.get(type(data))
    return facts if rule is None else rule(facts, data)


@_rule_for(BeneficiaryEnrolledV1, BeneficiaryUpdatedV1)
def _registered(
    facts: BeneficiaryFacts, data: BeneficiaryEnrolledV1 | BeneficiaryUpdatedV1
) -> BeneficiaryFacts:
    enrolled_on = (
        data.enrolled_at.date().isoformat()
        if isinstance(data, BeneficiaryEnrolledV1)
        else facts.enrolled_on
    )
    return _with(
        facts,
        enrolled=True,
        enrolled_on=enrolled_on,
        association_id=data.association_id,
        district_id=data.district_id,
        gender=data.gender.value,
        age_band=data.age_band.value,
        # A partner may repeat a track; a person counts once per track.
        tracks=tuple(dict.fromkeys(track.value for track in data.tracks)),
        employment_status=data.employment_status.value,
    )


@_rule_for(BeneficiaryWithdrawnV1)
def _withdrawn(facts: BeneficiaryFacts, data: BeneficiaryWithdrawnV1) -> BeneficiaryFacts:
    return _with(facts, withdrawn=True)  # what they did so far still counts


@_rule_for(BeneficiariesMergedV1)
def _merged(facts: BeneficiaryFacts, data: BeneficiariesMergedV1) -> BeneficiaryFacts:
    return _with(facts, merged_into=str(data.beneficiary_id))


@_rule_for(AttendanceRecordedV1)
def _attended(facts: BeneficiaryFacts, data: AttendanceRecordedV1) -> BeneficiaryFacts:
    record: dict[str, object] = {
        "status": data.status.value,
        "minutes": data.minutes if data.status == AttendanceStatus.PRESENT else 0,
        "on": data.session_starts_at.date().isoformat(),
        "recorded_at": data.recorded_at.isoformat(),
    }
    return _with(
        facts, attendances=_keep(facts.attendances, data.attendance_id, record, rank=_latest)
    )


@_rule_for(SkillAssessedV1)
def _assessed(facts: BeneficiaryFacts, data: SkillAssessedV1) -> BeneficiaryFacts:
    key = f"{data.competence}|{data.stage.value}"
    assessment: dict[str, object] = {"at": data.assessed_at.isoformat(), "level": data.level}
    return _with(facts, assessments=_keep(facts.assessments, key, assessment))


@_rule_for(BeneficiaryTrainedV1)
def _trained(facts: BeneficiaryFacts, data: BeneficiaryTrainedV1) -> BeneficiaryFacts:
    return _with(facts, trained_on=_earliest((facts.trained_on, _day(data.trained_at))))


@_rule_for(BeneficiaryAtRiskV1)
def _at_risk(facts: BeneficiaryFacts, data: BeneficiaryAtRiskV1) -> BeneficiaryFacts:
    return _with(facts, at_risk_on=_earliest((facts.at_risk_on, _day(data.flagged_at))))


@_rule_for(WorkshopAttendedV1)
def _workshop(facts: BeneficiaryFacts, data: WorkshopAttendedV1) -> BeneficiaryFacts:
    held_on = _day(data.held_at)
    return _with(facts, career_workshop_on=_earliest((facts.career_workshop_on, held_on)))


@_rule_for(ReferralMadeV1)
def _referred(facts: BeneficiaryFacts, data: ReferralMadeV1) -> BeneficiaryFacts:
    return _with(facts, referred_on=_earliest((facts.referred_on, _day(data.made_at))))


@_rule_for(PlacementRecordedV1)
def _placed(facts: BeneficiaryFacts, data: PlacementRecordedV1) -> BeneficiaryFacts:
    placement: dict[str, object] = {
        "outcome_class": data.outcome_class.value,
        "directed": data.directed_to_employment,
        "starts_on": data.starts_on.isoformat(),
    }
    return _with(facts, placements=_keep(facts.placements, str(data.placement_id), placement))


@_rule_for(FollowUpRecordedV1)
def _followed_up(facts: BeneficiaryFacts, data: FollowUpRecordedV1) -> BeneficiaryFacts:
    key = f"{data.placement_id}|{data.months}"
    follow_ups = {**facts.follow_ups, key: facts.follow_ups.get(key, False) or data.still_in_post}
    return _with(facts, follow_ups=follow_ups)


def absorb(kept: BeneficiaryFacts, merged: BeneficiaryFacts) -> BeneficiaryFacts:
    """The kept record after a merge: what either record did counts once, for the kept one.

    Unions, so absorbing the same record again (or a newer version of it) is safe."""
    return replace(
        kept,
        attendances=_union(kept.attendances, merged.attendances, rank=_latest),
        assessments=_union(kept.assessments, merged.assessments),
        trained_on=_earliest((kept.trained_on, merged.trained_on)),
        at_risk_on=_earliest((kept.at_risk_on, merged.at_risk_on)),
        career_workshop_on=_earliest((kept.career_workshop_on, merged.career_workshop_on)),
        referred_on=_earliest((kept.referred_on, merged.referred_on)),
        placements=_union(kept.placements, merged.placements),
        follow_ups={
            key: kept.follow_ups.get(key, False) or merged.follow_ups.get(key, False)
            for key in {*kept.follow_ups, *merged.follow_ups}
        },
    )


def beneficiary_of(data: EventData) -> str | None:
    """The beneficiary whose facts an event changes, when reporting keeps facts for it."""
    if isinstance(data, BeneficiariesMergedV1):
        return str(data.merged_id)
    if isinstance(
        data,
        BeneficiaryEnrolledV1
        | BeneficiaryUpdatedV1
        | BeneficiaryWithdrawnV1
        | BeneficiaryErasedV1
        | AttendanceRecordedV1
        | SkillAssessedV1
        | BeneficiaryTrainedV1
        | BeneficiaryAtRiskV1
        | WorkshopAttendedV1
        | ReferralMadeV1
        | PlacementRecordedV1
        | FollowUpRecordedV1,
    ):
        return str(data.beneficiary_id)
    return None


# -- what one person adds to the counters ----------------------------------------------------


def person_counts(facts: BeneficiaryFacts) -> Counter[str]:
    """This person's contribution to every indicator that is not tied to a period."""
    if facts.merged_into is not None:
        return Counter()
    counts = _person_stages(facts)
    _add_attendance(counts, facts.attendances.values(), 1)
    return counts


def _person_stages(facts: BeneficiaryFacts) -> Counter[str]:
    """:func:`person_counts` but for what each attendance adds (sessions, minutes)."""
    counts: Counter[str] = Counter()
    reached = {
        "enrolled": facts.enrolled,
        "attended": any(
            a["status"] == AttendanceStatus.PRESENT for a in facts.attendances.values()
        ),
        "trained": facts.trained,
        "career_workshop": facts.career_workshop_on is not None,
        "referred": facts.referred_on is not None,
        "placed": bool(facts.placements),
        "directed_to_employment": facts.directed_to_employment,
        "in_post_6m": any(still for key, still in facts.follow_ups.items() if key.endswith("|6")),
        "withdrawn": facts.enrolled and facts.withdrawn,
        "at_risk": facts.at_risk_on is not None,
    }
    counts.update(indicator for indicator, yes in reached.items() if yes)
    best = best_outcome(facts)
    if best is not None:
        counts[f"directed_{best}"] += 1
    for area, gain in skill_gains(facts):
        counts[f"skill_gain_sum_{area}"] += gain
        counts[f"skill_gain_count_{area}"] += 1
    return counts


def _add_attendance(
    counts: Counter[str], attendances: Iterable[dict[str, object]], sign: int
) -> None:
    for attendance in attendances:
        counts[f"sessions_{_status_name(attendance['status'])}"] += sign
        counts["minutes_present"] += sign * _int(attendance["minutes"])


def period_counts(facts: BeneficiaryFacts, period: str) -> Counter[tuple[str, str]]:
    """(period value, indicator) → count: when this person reached each stage, and what they
    attended per week or month (a week of attendance is ``new`` the first time)."""
    if facts.merged_into is not None:
        return Counter()
    counts = _period_stages(facts, period)
    _add_period_attendance(counts, facts.attendances.values(), period, 1)
    return counts


def _period_stages(facts: BeneficiaryFacts, period: str) -> Counter[tuple[str, str]]:
    """:func:`period_counts` but for what each attendance adds (sessions, minutes)."""
    counts: Counter[tuple[str, str]] = Counter()
    dated = {
        "enrolled": facts.enrolled_on if facts.enrolled else None,
        "trained": facts.trained_on,
        "career_workshop": facts.career_workshop_on,
        "referred": facts.referred_on,
        "placed": facts.placed_on,
        "directed_to_employment": facts.directed_on,
    }
    for indicator, on in dated.items():
        if on is not None:
            counts[(period_of(on, period), indicator)] += 1
    attended_periods = {
        period_of(str(attendance["on"]), period)
        for attendance in facts.attendances.values()
        if attendance["status"] == AttendanceStatus.PRESENT
    }
    for position, when in enumerate(sorted(attended_periods)):
        counts[(when, "attending_new" if position == 0 else "attending_returning")] += 1
    return counts


def _add_period_attendance(
    counts: Counter[tuple[str, str]],
    attendances: Iterable[dict[str, object]],
    period: str,
    sign: int,
) -> None:
    for attendance in attendances:
        when = period_of(str(attendance["on"]), period)
        counts[(when, f"sessions_{_status_name(attendance['status'])}")] += sign
        counts[(when, "minutes_present")] += sign * _int(attendance["minutes"])


def attribute_values(facts: BeneficiaryFacts) -> dict[str, tuple[str, ...]]:
    careers = Track.DIGITAL_CAREERS.value in facts.tracks
    return {
        "district": (facts.district_id or UNKNOWN,),
        "association": (facts.association_id or UNKNOWN,),
        "gender": (facts.gender or UNKNOWN,),
        "age_band": (facts.age_band or UNKNOWN,),
        "track": facts.tracks or (UNKNOWN,),
        "careers_gender": ((facts.gender or UNKNOWN),) if careers else (),
        "cohort": (facts.enrolled_on[:7] if facts.enrolled and facts.enrolled_on else UNKNOWN,),
    }


def scopes(facts: BeneficiaryFacts) -> tuple[str, ...]:
    """The filters under which this person is counted: everything, their association, …"""
    return (
        ALL,
        f"association:{facts.association_id or UNKNOWN}",
        f"district:{facts.district_id or UNKNOWN}",
        *(f"track:{track}" for track in facts.tracks),
    )


def contributions(facts: BeneficiaryFacts) -> Counter[tuple[Bucket, str]]:
    """How much this person adds to each counter."""
    counts: Counter[tuple[Bucket, str]] = Counter()
    person = person_counts(facts)
    if not person:
        return counts
    by_period = {period: period_counts(facts, period) for period in PERIODS}
    _spread(counts, facts, person, by_period)
    return counts


def _spread(
    counts: Counter[tuple[Bucket, str]],
    facts: BeneficiaryFacts,
    person: Counter[str],
    by_period: dict[str, Counter[tuple[str, str]]],
) -> None:
    """Add ``person``'s counts to every breakdown cell of every scope ``facts`` counts under,
    and the dated ones to their week or month."""
    values = attribute_values(facts)
    cells = [(dimension, value) for dimension in ATTRIBUTES for value in values[dimension]]
    for scope in scopes(facts):
        for bucket in [(scope, None, None), *((scope, d, v) for d, v in cells)]:
            for indicator, count in person.items():
                counts[(bucket, indicator)] += count
        for period, dated in by_period.items():
            for (when, indicator), count in dated.items():
                counts[((scope, period, when), indicator)] += count


def transition(old: BeneficiaryFacts, new: BeneficiaryFacts) -> Deltas:
    """The counter changes that move ``old``'s contribution to ``new``'s (zeros left out).

    Most events (an attendance, an assessment, a referral) leave the person counted under the
    same scopes and breakdown cells: then only the indicators that moved are spread over those
    cells, not the person's whole contribution twice (about 600 counters each). A contribution
    is linear in the person's counts for fixed cells, so both ways give the same deltas."""
    deltas: Counter[tuple[Bucket, str]] = Counter()
    if _same_cells(old, new):
        before, after = _person_stages(old), _person_stages(new)
        # A person counts (contributes at all) once they reached a stage or attended.
        if (before or old.attendances) and (after or new.attendances):
            gone, came = _attendance_changes(old, new)
            moved = _difference(after, before)
            _add_attendance(moved, came, 1)
            _add_attendance(moved, gone, -1)
            moved_by_period = {}
            for period in PERIODS:
                dated = _difference(_period_stages(new, period), _period_stages(old, period))
                _add_period_attendance(dated, came, period, 1)
                _add_period_attendance(dated, gone, period, -1)
                moved_by_period[period] = dated
            _spread(deltas, new, moved, moved_by_period)
            return {key: change for key, change in deltas.items() if change}
    deltas.update(contributions(new))
    deltas.subtract(contributions(old))
    return {key: change for key, change in deltas.items() if change}


def _attendance_changes(
    old: BeneficiaryFacts, new: BeneficiaryFacts
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The attendance records ``new`` no longer has as they were, and those it has anew."""
    if old.attendances is new.attendances:
        return [], []
    gone = [a for key, a in old.attendances.items() if new.attendances.get(key) != a]
    came = [a for key, a in new.attendances.items() if old.attendances.get(key) != a]
    return gone, came


def _same_cells(old: BeneficiaryFacts, new: BeneficiaryFacts) -> bool:
    return (
        old.merged_into is None
        and new.merged_into is None
        and scopes(old) == scopes(new)
        and attribute_values(old) == attribute_values(new)
    )


def _difference(after: Counter[K], before: Counter[K]) -> Counter[K]:
    """``after - before`` keeping negative changes (Counter's ``-`` drops them); zeros out."""
    moved = Counter(after)
    moved.subtract(before)
    return Counter({key: change for key, change in moved.items() if change})


def association_upskilled(association_id: str, upskilled_on: str) -> Deltas:
    """An association counted as upskilled: in the totals and its own scope, in its row of the
    association breakdown, and in the week and month it happened (for the trend and the
    forecast)."""
    deltas: Deltas = {}
    for scope in (ALL, f"association:{association_id}"):
        deltas[((scope, None, None), "associations_upskilled")] = 1
        deltas[((scope, "association", association_id), "associations_upskilled")] = 1
        for period in PERIODS:
            deltas[((scope, period, period_of(upskilled_on, period)), "associations_upskilled")] = 1
    return deltas


# -- sessions: anonymous attendees, and so people reached -------------------------------------


@dataclass(frozen=True)
class SessionFacts:
    """What reporting knows about one training session: what kind it is, where and when it is
    held (from its schedule), and its anonymous headcount as it now stands."""

    session_id: str
    kind: str | None = None  # None until the schedule arrives
    association_id: str | None = None
    district_id: str | None = None
    starts_on: str | None = None
    headcount: int = 0
    # When the headcount in force was recorded (UTC, fixed width: text order is time order).
    headcount_at: str | None = None


def names_in(events: Iterable[EventData]) -> dict[tuple[str, str], str]:
    """The district and association names ``events`` give, ``(kind, id) → name``: registration
    sends a place's upserts in order on one partition, so the last one in the batch stands."""
    names: dict[tuple[str, str], str] = {}
    for data in events:
        if isinstance(data, DistrictUpsertedV1):
            names[("district", data.district_id)] = data.name
        elif isinstance(data, AssociationUpsertedV1):
            names[("association", data.association_id)] = data.name
    return names


def session_of(data: EventData) -> str | None:
    """The session whose facts an event changes, when reporting keeps facts for it."""
    if isinstance(data, SessionScheduledV1 | AnonymousAttendanceRecordedV1):
        return data.session_id
    return None


def apply_to_session(facts: SessionFacts, data: EventData) -> SessionFacts:
    """The session's facts after ``data``; other events leave them unchanged.

    Both rules commute, so redeliveries and any arrival order give the same facts:

    * a headcount *replaces* the one before it, never adds to it: the one recorded last (by
      ``recorded_at``; at the same instant, the larger) stays, whichever arrives last;
    * a session is scheduled once; should two schedules of one id ever differ, the greater
      (kind, association, district, day) stays.
    """
    if isinstance(data, SessionScheduledV1):
        scheduled = (data.kind.value, data.association_id, data.district_id, _day(data.starts_at))
        if facts.kind is not None:
            current = (facts.kind, facts.association_id, facts.district_id, facts.starts_on)
            if current >= scheduled:
                return facts
        kind, association_id, district_id, starts_on = scheduled
        return replace(
            facts,
            kind=kind,
            association_id=association_id,
            district_id=district_id,
            starts_on=starts_on,
        )
    if isinstance(data, AnonymousAttendanceRecordedV1):
        at = data.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if facts.headcount_at is not None and (facts.headcount_at, facts.headcount) >= (
            at,
            data.count,
        ):
            return facts
        return replace(facts, headcount=data.count, headcount_at=at)
    return facts


def session_counts(facts: SessionFacts) -> int:
    """How many anonymous attendees this session adds to **people reached**.

    People reached = people enrolled (as ``enrolled`` counts them: withdrawals still count,
    merged records do not) + the anonymous headcounts of **collective** sessions. Only those:
    an individual session is one resident with an adviser, who is enrolled; a staff session
    trains the association's own staff (it counts towards the association's upskilling, not
    residents reached). A session counts once its schedule says it is collective, so a
    headcount read before its schedule counts when the schedule arrives. A headcount carries
    no identity: someone who came anonymously to two workshops counts twice.
    """
    if facts.kind != SessionKind.COLLECTIVE.value:
        return 0
    return facts.headcount


def session_contributions(facts: SessionFacts) -> Counter[tuple[Bucket, str]]:
    """How much this session adds to each counter: its headcount in the totals, and in its
    association and district rows and its week and month, of every scope it belongs to (the
    programme, its association, its district; a headcount has no track)."""
    counts: Counter[tuple[Bucket, str]] = Counter()
    headcount = session_counts(facts)
    if not headcount:
        return counts
    association = facts.association_id or UNKNOWN
    district = facts.district_id or UNKNOWN
    where = {"association": association, "district": district}
    cells = [(dimension, where[dimension]) for dimension in SESSION_ATTRIBUTES]
    if facts.starts_on is not None:
        cells += [(period, period_of(facts.starts_on, period)) for period in PERIODS]
    for scope in (ALL, f"association:{association}", f"district:{district}"):
        for bucket in [(scope, None, None), *((scope, d, v) for d, v in cells)]:
            counts[(bucket, "anonymous_attendees")] += headcount
    return counts


def session_transition(old: SessionFacts, new: SessionFacts) -> Deltas:
    """The counter changes that move ``old``'s contribution to ``new``'s (zeros left out)."""
    deltas = Counter(session_contributions(new))
    deltas.subtract(session_contributions(old))
    return {key: change for key, change in deltas.items() if change}


def best_outcome(facts: BeneficiaryFacts) -> str | None:
    """The best IAE outcome class among the person's placements directed towards employment."""
    classes = {str(p["outcome_class"]) for p in facts.placements.values() if p["directed"]}
    return next((outcome for outcome in OUTCOME_ORDER if outcome in classes), None)


def skill_gains(facts: BeneficiaryFacts) -> list[tuple[str, int]]:
    """(Pix area, final − initial level) for each competence assessed at both stages."""
    gains = []
    for key, initial in facts.assessments.items():
        competence, stage = key.split("|")
        if stage != "initial":
            continue
        final = facts.assessments.get(f"{competence}|final")
        if final is not None:
            gains.append((competence.split(".")[0], _int(final["level"]) - _int(initial["level"])))
    return gains


@functools.lru_cache(maxsize=8192)
def period_of(on: str, period: str) -> str:
    """The ISO week (``2026-W05``) or month (``2026-02``) of an ISO date."""
    if period == "month":
        return on[:7]
    year, week, _ = date.fromisoformat(on[:10]).isocalendar()
    return f"{year}-W{week:02d}"


# -- small rules ------------------------------------------------------------------------------


_STATUS_NAMES = {
    AttendanceStatus.PRESENT.value: "present",
    AttendanceStatus.EXCUSED_ABSENCE.value: "excused",
}


def _status_name(status: object) -> str:
    return _STATUS_NAMES.get(str(status), "unexcused")


def _keep(
    records: dict[str, dict[str, object]],
    key: str,
    record: dict[str, object],
    rank: Callable[[dict[str, object]], tuple[str, ...]] | None = None,
) -> dict[str, dict[str, object]]:
    """Add a record by its id; when two versions of one id arrive, the same one wins whatever
    their order (the greatest by ``rank``), so redeliveries and reorderings converge."""
    ranked = rank or _rank
    current = records.get(key)
    if current is not None and ranked(current) >= ranked(record):
        return records
    return {**records, key: record}


def _union(
    kept: dict[str, dict[str, object]],
    merged: dict[str, dict[str, object]],
    rank: Callable[[dict[str, object]], tuple[str, ...]] | None = None,
) -> dict[str, dict[str, object]]:
    result = kept
    for key, record in merged.items():
        result = _keep(result, key, record, rank)
    return result


def _rank(record: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(record[key]) for key in sorted(record))


def _latest(record: dict[str, object]) -> tuple[str, ...]:
    """An attendance corrected by a roll-call keeps its id and is recorded later: the latest
    version wins (then the same tie-break as any record)."""
    return (str(record["recorded_at"]), *_rank(record))


def _earliest(days: Iterable[str | None]) -> str | None:
    known = [day for day in days if day is not None]
    return min(known) if known else None


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0
