"""Reporting's ``GET /impact`` answer (``services.reporting.impact_answers``), exact or as an
audience without individual access sees it (``services.reporting.anonymised``): there, any
count of people may be ``null``, with a ``suppressed`` entry saying what to show instead
(``"<5"`` or ``"s"``) on the object that held it.

Counts and figures are keyed by indicator name (``enrolled``, ``trained``, ``attended``,
``directed_to_employment``, ``anonymous_attendees``, ``skill_gain_count_<area>``…): the
projection adds indicators without a contract change; what the gateway shows is named there.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from . import Answer

Hidden = dict[str, str]  # a hidden count's name → what to show in its place


class CellFigures(Answer):
    """The figures of the scope's totals or of one breakdown cell."""

    counts: dict[str, int | None]
    people_reached: int | None
    attendance_rate: float | None
    no_show_rate: float | None
    skill_gain: dict[str, float | None]  # Pix area → average levels gained
    directed_by_outcome: dict[str, int | None]  # outcome class → people directed
    suppressed: Hidden = Field(default_factory=dict)


class BreakdownCell(CellFigures):
    dimension: str  # district, association, gender, age_band, track, cohort, week, month…
    value: str
    enrolled: int | None


class TargetProgress(Answer):
    indicator: str
    target: int
    baseline: int
    actual: int | None
    share: float | None
    weekly_pace: float | None
    reached_on: date | None  # forecast; None without a recent pace
    on_track: bool | None
    suppressed: Hidden = Field(default_factory=dict)


class FunnelStage(Answer):
    stage: str
    count: int | None
    suppressed: Hidden = Field(default_factory=dict)


class WeekPoint(Answer):
    week: str  # ISO week, 2026-W49
    counts: dict[str, int | None]
    cumulative: dict[str, int | None]  # baseline + every week up to this one
    suppressed: Hidden = Field(default_factory=dict)


class Freshness(Answer):
    last_event_time: datetime | None
    lag_seconds: float | None
    samples: int
    p50_seconds: float | None
    p99_seconds: float | None


class ImpactAnswer(Answer):
    scope: str  # all, association:<id>, district:<id>, track:<value>
    enrolled: int | None
    trained: int | None
    directed_to_employment: int | None
    associations_upskilled: int
    people_reached: int | None
    women_share_careers: float | None
    targets: dict[str, int]
    women_share_goal: float | None
    totals: CellFigures
    progress: list[TargetProgress]
    funnel: list[FunnelStage]
    breakdowns: list[BreakdownCell]
    history: list[WeekPoint]
    version: int  # the projection version answering
    updated_at: datetime | None
    freshness: Freshness
    anonymised: bool = False
    suppressed: Hidden = Field(default_factory=dict)


class ShareLinkView(Answer):
    """A share link (``GET``/``POST /share-links``, ``DELETE /share-links/{id}``)."""

    id: str  # random and unguessable: the link's secret
    label: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class ExportsOffered(Answer):
    """``GET /exports``: what can be exported."""

    breakdowns: list[str]
    formats: list[str]
    routes: list[str]
