"""``GET /impact`` answers: composed from a scope's counters, serialized once per projection
change and shared (:class:`ImpactAnswers`), and composed ahead of the readers who will ask.

A commit announces its change on the feed; the gateway then asks for the answers its
subscribers see. Those answers are started as the change is announced, for every (scope,
audience) asked lately whose scope the change touched: the gateway's request finds its answer
under way or done instead of starting it a notice and an HTTP hop later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from contracts.api.reporting import (
    BreakdownCell,
    CellFigures,
    FunnelStage,
    ImpactAnswer,
    TargetProgress,
    WeekPoint,
)
from contracts.api.reporting import Freshness as FreshnessView
from kit.mongo import Document
from kit.shared import SharedComputations
from services.reporting import domain, figures
from services.reporting.anonymised import anonymise
from services.reporting.figures import TargetsFile
from services.reporting.handlers import Freshness
from services.reporting.live import ImpactFeed
from services.reporting.store import ReportingStore

log = logging.getLogger(__name__)

TARGETS_FILE = Path(__file__).with_name("targets.json")
# An answer asked within this long is composed ahead after each change of its scope.
PREPARE_FOR_S = 60.0


class ImpactAnswers:
    """Serialized answers, one per (projection version, scope, change sequence, day, audience),
    kept at most ``ttl_s``: another reporting instance's commits are not announced in this
    process, so the time bound caps how stale they can make one. Every request asking for a
    key while it is composed waits for that one composition."""

    def __init__(
        self,
        feed: ImpactFeed,
        freshness: Freshness,
        *,
        ttl_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        prepare_for_s: float = PREPARE_FOR_S,
    ) -> None:
        self.feed = feed
        self.freshness = freshness
        self.computed: SharedComputations[bytes] = SharedComputations(ttl_s, clock)
        self._clock = clock
        self._prepare_for_s = prepare_for_s
        self._asked: dict[tuple[str, bool], float] = {}  # (scope, exact) → when last asked
        self._preparing: set[asyncio.Future[bytes]] = set()

    async def answer(self, store: ReportingStore, scope: str, exact: bool) -> bytes:
        """The answer for ``scope``: exact, or with small counts hidden."""
        self._asked[(scope, exact)] = self._clock()
        return await self._shared(store, scope, exact)

    def prepare(self, store: ReportingStore, scopes: Iterable[str]) -> None:
        """Start composing, for the change just announced, the answers asked lately whose scope
        it touched. Never waits and never raises: a failure is logged and the reader who asks
        composes again."""
        touched = set(scopes)
        oldest = self._clock() - self._prepare_for_s
        for (scope, exact), asked_at in list(self._asked.items()):
            if asked_at < oldest:
                del self._asked[(scope, exact)]
            elif scope in touched:
                ahead = asyncio.ensure_future(self._shared(store, scope, exact))
                self._preparing.add(ahead)
                ahead.add_done_callback(self._prepared)

    async def prepared(self) -> None:
        """Wait for the answers being composed ahead (failures were logged)."""
        await asyncio.gather(*self._preparing, return_exceptions=True)

    async def _shared(self, store: ReportingStore, scope: str, exact: bool) -> bytes:
        key = (store.version, scope, self.feed.sequence, date.today(), exact)

        async def compose() -> bytes:
            answer = await exact_answer(store, scope, self.freshness)
            shown = answer if exact else anonymised(answer)
            return shown.model_dump_json().encode()

        return await self.computed.get(key, compose)

    def _prepared(self, ahead: asyncio.Future[bytes]) -> None:
        self._preparing.discard(ahead)
        if not ahead.cancelled() and ahead.exception() is not None:
            log.warning("impact answer not prepared ahead: %r", ahead.exception())


def load_targets(path: Path | None = None) -> TargetsFile:
    """The coordinators' targets file (DN_TARGETS_FILE or the shipped one), checked: a
    mistake in it is reported with the file and the key, never as a 500 with a traceback."""
    path = path or Path(os.environ.get("DN_TARGETS_FILE") or TARGETS_FILE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        targets = {str(k): float(v) for k, v in data["targets"].items()}
        baselines = {str(k): int(v) for k, v in data.get("baselines", {}).items()}
        programme = data.get("programme", {})
        starts_on = programme.get("starts_on")
        ends_on = programme.get("ends_on")
        return TargetsFile(
            targets=targets,
            baselines=baselines,
            starts_on=date.fromisoformat(starts_on) if starts_on else None,
            ends_on=date.fromisoformat(ends_on) if ends_on else None,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise TargetsFileError(f"targets file {path}: {type(error).__name__}: {error}") from error


class TargetsFileError(Exception):
    pass


async def compute_impact(store: ReportingStore, scope: str) -> figures.Impact:
    try:
        targets = load_targets()
    except TargetsFileError as error:
        # The coordinators' file is wrong: say which and where, figures cannot be compared.
        raise HTTPException(503, detail=str(error)) from error
    return figures.impact(scope, await store.counters_of(scope), targets, date.today())


async def exact_answer(store: ReportingStore, scope: str, recent: Freshness) -> ImpactAnswer:
    """``GET /impact``'s exact answer for one scope (``recent``: this process's commit delays)."""
    answer, freshness = await asyncio.gather(compute_impact(store, scope), store.freshness())
    return impact_answer(answer, store.version, freshness, recent)


def anonymised(answer: ImpactAnswer) -> ImpactAnswer:
    """``answer`` as an audience without individual access sees it: small counts hidden
    (:mod:`services.reporting.anonymised`, which works on the answer's JSON)."""
    return ImpactAnswer.model_validate(anonymise(answer.model_dump(mode="json")))


def impact_answer(
    answer: figures.Impact, version: int, freshness: Document | None, recent: Freshness
) -> ImpactAnswer:
    """The figures as the contract gives them (contracts.api.reporting): the one place they
    are mapped; the gateway reads the same model."""
    totals = answer.totals
    return ImpactAnswer(
        scope=answer.scope,
        enrolled=totals["enrolled"],
        trained=totals["trained"],
        directed_to_employment=totals["directed_to_employment"],
        associations_upskilled=totals["associations_upskilled"],
        people_reached=totals.people_reached,
        women_share_careers=answer.women_share_careers,
        targets={
            name: int(answer.targets.targets[name])
            for name in figures.TARGETED
            if name in answer.targets.targets
        },
        women_share_goal=answer.targets.targets.get("women_share_careers"),
        totals=CellFigures(**figure_fields(totals)),
        progress=[TargetProgress(**asdict(progress)) for progress in answer.progress],
        funnel=[FunnelStage(stage=stage, count=count) for stage, count in answer.funnel],
        breakdowns=[
            BreakdownCell(
                dimension=cell.dimension,
                value=cell.value,
                enrolled=cell.figures["enrolled"],
                **figure_fields(cell.figures),
            )
            for cell in answer.cells
        ],
        history=[
            WeekPoint(week=point.week, counts=point.counts, cumulative=point.cumulative)
            for point in answer.history
        ],
        version=version,
        updated_at=freshness["updated_at"] if freshness else None,
        freshness=FreshnessView(
            last_event_time=freshness["last_event_time"] if freshness else None,
            lag_seconds=freshness["lag_seconds"] if freshness else None,
            **recent.summary(),
        ),
    )


def figure_fields(cell: figures.Figures) -> dict[str, Any]:
    """The fields of ``CellFigures`` (the totals, and every breakdown cell with its own)."""
    return {
        "counts": dict(cell.counts),
        "people_reached": cell.people_reached,
        "attendance_rate": cell.attendance_rate,
        "no_show_rate": cell.no_show_rate,
        "skill_gain": {area: cell.skill_gain(area) for area in domain.PIX_AREAS},
        "directed_by_outcome": cell.directed_by_outcome(),
    }
