"""HTTP clients for the services, forwarding the caller's token and the trace context."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import httpx
from graphql import GraphQLError
from pydantic import TypeAdapter, ValidationError

from kit.auth import (
    GATEWAY,
    AuthError,
    Principal,
    delegated_token,
    principal_from_header,
    service_token,
)
from kit.settings import SERVICE_NAMES, Settings

from .call_count import count_call
from .reference import SHAPES, ReferenceList, ReferenceLists

log = logging.getLogger(__name__)
Shape = TypeVar("Shape")


class ServiceUnavailable(GraphQLError):
    def __init__(self, service: str) -> None:
        super().__init__(
            f"the {service} service is not answering; try again shortly",
            extensions={"code": "SERVICE_UNAVAILABLE", "service": service},
        )


class UserInputError(GraphQLError):
    """A service refused the input; ``fields`` carry one message per offending field."""

    def __init__(self, message: str, fields: list[dict[str, str]]) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT", "fields": fields})


class AlreadyExists(GraphQLError):
    """The input describes a record that already exists; ``existingId`` names it."""

    def __init__(self, message: str, existing_id: str | None) -> None:
        super().__init__(message, extensions={"code": "CONFLICT", "existingId": existing_id})


class AccessDenied(GraphQLError):
    def __init__(self, message: str, status: int) -> None:
        code = "UNAUTHENTICATED" if status == 401 else "FORBIDDEN"
        super().__init__(message, extensions={"code": code})


class ServiceAnswerInvalid(GraphQLError):
    """A service answered outside its contract (contracts/api): a deployment out of step."""

    def __init__(self, service: str) -> None:
        super().__init__(
            f"the {service} service answered in a shape this gateway does not know; "
            "tell the ops team (its log names the fields)",
            extensions={"code": "SERVICE_CONTRACT", "service": service},
        )


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}  # built once per shape: building one costs ~1 ms


def _adapter(shape: Any) -> TypeAdapter[Any]:
    if shape not in _ADAPTERS:
        _ADAPTERS[shape] = TypeAdapter(shape)
    return _ADAPTERS[shape]


def validated(shape: type[Shape], body: Any, service: str, path: str) -> Shape:
    """``body`` as its contract ``shape`` (a model from contracts/api, or a list of them)."""
    try:
        answer: Shape = _adapter(shape).validate_python(body)
    except ValidationError as error:
        # Field paths and error kinds only: the values may be a person's data.
        problems = [(e["loc"], e["type"]) for e in error.errors(include_input=False)][:10]
        log.error("%s %s answered outside its contract: %s", service, path, problems)
        raise ServiceAnswerInvalid(service) from None
    return answer


KEEPALIVE_S = 2.0


class Services:
    """One pooled client per service; call :meth:`close` on shutdown. Each call carries a
    short-lived token signed for the service called, on behalf of the verified caller."""

    def __init__(
        self,
        settings: Settings,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,  # tests answer for the services
    ) -> None:
        self._settings = settings
        self._clients = {
            name: httpx.AsyncClient(
                base_url=settings.service_url(name),
                timeout=timeout_s,
                transport=transport,
                # Shorter than the services' keep-alive (uvicorn closes idle connections after
                # 5 s): a pooled connection is never reused just as the service closes it.
                limits=httpx.Limits(keepalive_expiry=KEEPALIVE_S),
            )
            for name in SERVICE_NAMES
        }
        # Districts and associations, shared by every request for a short while.
        self.reference = ReferenceLists(self._reference_list)

    async def _reference_list(self, kind: str) -> ReferenceList:
        """Registration's districts or associations (contracts.api.registration), asked for by
        the gateway itself (the lists are the same for every caller, and shared)."""
        path = f"/{kind}"
        try:
            response = await self.get_unattended("registration", path)
        except httpx.TransportError as error:
            raise ServiceUnavailable("registration") from error
        if response.status_code != 200:
            raise ServiceUnavailable("registration")
        rows: ReferenceList = validated(SHAPES[kind], response.json(), "registration", path)
        return rows

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    def token_for(self, service: str, authorization: str) -> str:
        """A token for ``service`` on behalf of the caller behind ``authorization``."""
        try:
            who = principal_from_header(self._settings, authorization or None)
        except AuthError as error:
            raise AccessDenied(str(error), error.status) from error
        return delegated_token(self._settings, who, service)

    async def healthy(self, service: str) -> bool:
        try:
            response = await self._clients[service].get("/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def get_unattended(self, service: str, path: str) -> httpx.Response:
        """A GET with nobody behind it (a share link's figures): the gateway's own service
        token, and the service's answer as it came, for the caller to judge; a transport
        failure raises ``httpx.TransportError``."""
        return await self.ask_unattended(service, "GET", path)

    async def ask_unattended(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """A call the gateway makes on its own behalf (a share link's figures, whose records a
        partner's request names), with its own service token; the answer as it came, for the
        caller to judge; a transport failure or timeout (``timeout_s``, else the client's)
        raises ``httpx.TransportError``."""
        headers = {"authorization": f"Bearer {service_token(self._settings, GATEWAY, service)}"}
        count_call()
        return await self._clients[service].request(
            method,
            path,
            json=json,
            headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s,
        )

    async def open_stream(
        self,
        service: str,
        path: str,
        *,
        on_behalf_of: Principal | None,
        params: dict[str, str] | None = None,
        timeout_s: float = 120.0,
    ) -> httpx.Response:
        """A GET whose body is read as it arrives (a file to pass on): signed for the verified
        person ``on_behalf_of``, or with the gateway's own service token when nobody is behind
        it (a share link). The caller reads and must ``aclose()`` the answer; a transport
        failure raises ``httpx.TransportError``."""
        token = (
            delegated_token(self._settings, on_behalf_of, service)
            if on_behalf_of is not None
            else service_token(self._settings, GATEWAY, service)
        )
        client = self._clients[service]
        request = client.build_request(
            "GET",
            path,
            params=params,
            headers={"authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_s, connect=5.0),
        )
        count_call()
        return await client.send(request, stream=True)

    async def answer(
        self,
        shape: type[Shape],
        service: str,
        method: str,
        path: str,
        *,
        authorization: str,
        json: Any = None,
        params: dict[str, str] | None = None,
        missing_field: str | None = None,
    ) -> Shape:
        """:meth:`call`'s answer validated as its contract ``shape`` (contracts/api)."""
        body = await self.call(
            service,
            method,
            path,
            authorization=authorization,
            json=json,
            params=params,
            missing_field=missing_field,
        )
        return validated(shape, body, service, path)

    async def answer_if_found(
        self,
        shape: type[Shape],
        service: str,
        method: str,
        path: str,
        *,
        authorization: str,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Shape | None:
        """:meth:`answer`, or ``None`` when the service says 404."""
        body = await self.call(
            service,
            method,
            path,
            authorization=authorization,
            json=json,
            params=params,
            missing_ok=True,
        )
        return None if body is None else validated(shape, body, service, path)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        authorization: str,
        json: Any = None,
        params: dict[str, str] | None = None,
        missing_ok: bool = False,
        missing_field: str | None = None,
    ) -> Any:
        """The JSON answer; ``None`` for 404 when ``missing_ok``; GraphQL errors otherwise (a
        404 names ``missing_field`` when given: the input field whose id was not found).

        ``authorization`` is the caller's header (a token for the gateway): it is verified and
        the service receives a token signed for it alone, never the caller's own."""
        headers = {"authorization": f"Bearer {self.token_for(service, authorization)}"}
        count_call()
        try:
            response = await self._clients[service].request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.TransportError as error:
            raise ServiceUnavailable(service) from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code in (401, 403):
            raise AccessDenied(response.json().get("error", "not allowed"), response.status_code)
        if response.status_code == 409:
            body = response.json()
            raise AlreadyExists(body.get("error", "already exists"), body.get("existing_id"))
        if response.status_code == 404 and missing_field is not None:
            message = response.json().get("error", "not found")
            raise UserInputError(message, [{"field": missing_field, "message": message}])
        if response.status_code in (400, 404, 422):
            body = response.json()
            raise UserInputError(body.get("error", "invalid input"), body.get("errors", []))
        if response.status_code >= 500:
            raise ServiceUnavailable(service)
        return response.json()
