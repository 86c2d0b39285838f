"""The per-request DataLoaders: one batch call per service and kind of record, however many
beneficiaries or sessions a query touches.

Built with each request's context (never shared: a loader caches what its caller may see).
Loaders hold the services' answers as their contracts (contracts/api); the resolvers make the
GraphQL types from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from contracts.api.orientation import PersonRecords, RecordsOfPeople
from contracts.api.registration import BeneficiaryBatch, BeneficiaryView
from contracts.api.training import (
    AttendanceByBeneficiary,
    AttendanceView,
    ProgressByBeneficiary,
    ProgressView,
    RollCalls,
)

from .registration import Beneficiary
from .services import Shape

if TYPE_CHECKING:
    from .context import Context

MAX_BATCH = 500  # what the services' batch routes take at once


class Loaders:
    """Answers by beneficiary id (record, training progress, attendance, orientation records)
    and by session id (roll-call), and the person as GraphQL shows them; ids not found, or not
    the caller's, load as None or []."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.beneficiary: DataLoader[str, BeneficiaryView | None] = self._loader(
            self._beneficiaries
        )
        # The same people as GraphQL objects, for training's and orientation's records that
        # name them (those modules cannot import registration's, which imports theirs).
        self.person: DataLoader[str, Beneficiary | None] = self._loader(self._people)
        self.progress: DataLoader[str, ProgressView | None] = self._loader(self._progress)
        self.attendance: DataLoader[str, list[AttendanceView]] = self._loader(self._attendance)
        self.orientation: DataLoader[str, PersonRecords | None] = self._loader(self._orientation)
        self.roll_call: DataLoader[str, list[AttendanceView]] = self._loader(self._roll_calls)

    @staticmethod
    def _loader(
        batch: Callable[[list[str]], Awaitable[Sequence[Any]]],
    ) -> DataLoader[str, Any]:
        return DataLoader(load_fn=batch, max_batch_size=MAX_BATCH)

    async def _answer(
        self, shape: type[Shape], service: str, path: str, body: dict[str, Any]
    ) -> Shape:
        """A batch route's answer (a POST), validated as its contract ``shape`` (contracts/api)."""
        context = self._context
        return await context.services.answer(
            shape, service, "POST", path, authorization=context.authorization, json=body
        )

    async def _beneficiaries(self, ids: list[str]) -> list[BeneficiaryView | None]:
        body = {"ids": ids}
        answer = await self._answer(BeneficiaryBatch, "registration", "/beneficiaries/batch", body)
        return [answer.beneficiaries.get(beneficiary_id) for beneficiary_id in ids]

    async def _progress(self, ids: list[str]) -> list[ProgressView | None]:
        body = {"beneficiary_ids": ids}
        path = "/beneficiaries/progress"
        answer = await self._answer(ProgressByBeneficiary, "training", path, body)
        return [answer.progress.get(beneficiary_id) for beneficiary_id in ids]

    async def _attendance(self, ids: list[str]) -> list[list[AttendanceView]]:
        body = {"beneficiary_ids": ids}
        path = "/beneficiaries/attendance"
        answer = await self._answer(AttendanceByBeneficiary, "training", path, body)
        return [answer.attendance.get(beneficiary_id, []) for beneficiary_id in ids]

    async def _orientation(self, ids: list[str]) -> list[PersonRecords | None]:
        body = {"beneficiary_ids": ids}
        answer = await self._answer(RecordsOfPeople, "orientation", "/beneficiaries/records", body)
        return [answer.records.get(beneficiary_id) for beneficiary_id in ids]

    async def _roll_calls(self, ids: list[str]) -> list[list[AttendanceView]]:
        body = {"session_ids": ids}
        answer = await self._answer(RollCalls, "training", "/sessions/roll-calls", body)
        return [answer.roll_calls.get(session_id, []) for session_id in ids]

    async def _people(self, ids: list[str]) -> list[Beneficiary | None]:
        views = await self.beneficiary.load_many(ids)
        return [Beneficiary.of(view) if view else None for view in views]
