"""The per-request DataLoaders: one batch call per service and kind of record, however many
beneficiaries or sessions a query touches.

Built with each request's context (never shared: a loader caches what its caller may see).
Loaders hold the services' rows; the GraphQL types are made from them by the resolvers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from .context import Context

Row = dict[str, Any]
MAX_BATCH = 500  # what the services' batch routes take at once


class Loaders:
    """Rows by beneficiary id (record, training progress, attendance, orientation records)
    and by session id (roll-call); ids not found, or not the caller's, load as None or []."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.beneficiary: DataLoader[str, Row | None] = self._loader(self._beneficiaries)
        self.progress: DataLoader[str, Row | None] = self._loader(self._progress)
        self.attendance: DataLoader[str, list[Row]] = self._loader(self._attendance)
        self.orientation: DataLoader[str, Row | None] = self._loader(self._orientation)
        self.roll_call: DataLoader[str, list[Row]] = self._loader(self._roll_calls)

    @staticmethod
    def _loader(
        batch: Callable[[list[str]], Awaitable[Sequence[Any]]],
    ) -> DataLoader[str, Any]:
        return DataLoader(load_fn=batch, max_batch_size=MAX_BATCH)

    async def _post(self, service: str, path: str, body: dict[str, Any]) -> Any:
        context = self._context
        return await context.services.call(
            service, "POST", path, authorization=context.authorization, json=body
        )

    async def _beneficiaries(self, ids: list[str]) -> list[Row | None]:
        answer = await self._post("registration", "/beneficiaries/batch", {"ids": ids})
        found: dict[str, Row] = answer["beneficiaries"]
        return [found.get(beneficiary_id) for beneficiary_id in ids]

    async def _progress(self, ids: list[str]) -> list[Row | None]:
        answer = await self._post("training", "/beneficiaries/progress", {"beneficiary_ids": ids})
        found: dict[str, Row] = answer["progress"]
        return [found.get(beneficiary_id) for beneficiary_id in ids]

    async def _attendance(self, ids: list[str]) -> list[list[Row]]:
        body = {"beneficiary_ids": ids}
        answer = await self._post("training", "/beneficiaries/attendance", body)
        found: dict[str, list[Row]] = answer["attendance"]
        return [found.get(beneficiary_id, []) for beneficiary_id in ids]

    async def _orientation(self, ids: list[str]) -> list[Row | None]:
        body = {"beneficiary_ids": ids}
        answer = await self._post("orientation", "/beneficiaries/records", body)
        found: dict[str, Row] = answer["records"]
        return [found.get(beneficiary_id) for beneficiary_id in ids]

    async def _roll_calls(self, ids: list[str]) -> list[list[Row]]:
        answer = await self._post("training", "/sessions/roll-calls", {"session_ids": ids})
        found: dict[str, list[Row]] = answer["roll_calls"]
        return [found.get(session_id, []) for session_id in ids]
