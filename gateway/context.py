"""Per-request GraphQL context: the caller's token and the reference data fetched once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from strawberry.fastapi import BaseContext
from strawberry.types import Info

from contracts.api.registration import AssociationView, DistrictView
from kit.auth import AuthError, Principal, principal_from_header
from kit.settings import Settings

from .reference import Kind, ReferenceList
from .services import AccessDenied, Services, Shape

if TYPE_CHECKING:
    from .loaders import Loaders


class Context(BaseContext):
    """Per-request state: the caller's token and the reference data fetched for this request."""

    def __init__(
        self, settings: Settings, services: Services, loaders: Callable[[Context], Loaders]
    ) -> None:
        """``loaders`` makes the request's loaders (``gateway.loaders.Loaders``; given by the
        app, as they build GraphQL types that import this module)."""
        super().__init__()
        self.settings = settings
        self.services = services
        self._fetched: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self._make_loaders = loaders
        self.loaders = loaders(self)  # per request: loaders cache what this caller may see

    @property
    def authorization(self) -> str:
        """The caller's ``Authorization`` value: on a websocket, from the ``connection_init``
        payload (``Authorization`` or ``authorization``) when there, else the HTTP header."""
        params = self.connection_params
        if isinstance(params, dict):
            for key in ("Authorization", "authorization"):
                value = params.get(key)
                if isinstance(value, str) and value:
                    return value
        return self.request.headers.get("authorization", "") if self.request else ""

    def renewed(self) -> Context:
        """The same caller with nothing fetched yet: a subscription answering again reads
        today's reference data, not what it fetched when it connected."""
        renewed = Context(self.settings, self.services, self._make_loaders)
        renewed.request = self.request
        renewed.connection_params = self.connection_params
        return renewed

    @property
    def principal(self) -> Principal:
        try:
            return principal_from_header(self.settings, self.authorization or None)
        except AuthError as error:
            raise AccessDenied(str(error), error.status) from error

    @overload
    async def reference(self, kind: Literal["districts"]) -> list[DistrictView]: ...
    @overload
    async def reference(self, kind: Literal["associations"]) -> list[AssociationView]: ...
    async def reference(self, kind: Kind) -> ReferenceList:
        """Districts or associations: the lists every request shares (gateway/reference.py)."""
        self.principal  # noqa: B018 — refuse anonymous callers before any service call
        return await self.services.reference.get(kind)

    async def fetched(self, service: str, path: str, shape: type[Shape]) -> Shape:
        """A service's reference answer (modules, job families…) as its contract ``shape``,
        fetched once per request."""
        if (service, path) not in self._fetched:
            self.principal  # noqa: B018 — refuse anonymous callers before any service call
            # A task, not its result: concurrent resolvers must share the one call in flight.
            self._fetched[service, path] = asyncio.ensure_future(
                self.services.answer(shape, service, "GET", path, authorization=self.authorization)
            )
        answer: Shape = await self._fetched[service, path]
        return answer


def context_of(info: Info[Context, Any]) -> Context:
    return info.context
