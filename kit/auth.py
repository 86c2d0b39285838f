"""Bearer JWTs: who is calling, with which role, for which association.

Local runs sign with a development key (``DN_JWT_SECRET`` or a key generated under
``DN_HOME``); the gateway and every service verify the same way, so a service accepts only
requests carrying a token signed for this platform.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from kit.keys import MissingSecret, local_secret
from kit.settings import Settings

ISSUER = "digital-neighbourhoods"
AUDIENCE = "digital-neighbourhoods"
ALGORITHM = "HS256"


class Role(StrEnum):
    COORDINATOR = "coordinator"
    ASSOCIATION = "association"
    FUNDER = "funder"
    PARTNER = "partner"
    OPS = "ops"


ROLES_WITH_ASSOCIATION = (Role.ASSOCIATION, Role.PARTNER)


class AuthError(Exception):
    """The request carries no usable identity (401) or lacks the right (403)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    association_id: str | None = None

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise AuthError(f"role {self.role.value!r} may not do this (allowed: {allowed})", 403)

    def require_association(self, association_id: str) -> None:
        """Coordinators act for every association; association staff only for their own."""
        if self.role is Role.COORDINATOR:
            return
        if self.association_id != association_id:
            raise AuthError("this token may act only for its own association", 403)


def signing_key(settings: Settings) -> str:
    if settings.jwt_secret:
        return settings.jwt_secret
    try:
        return local_secret(settings, "jwt-dev.key", "DN_JWT_SECRET", generate_signing_key)
    except MissingSecret as error:
        raise AuthError(str(error), 500) from error


def generate_signing_key() -> str:
    return secrets.token_urlsafe(48)


def issue_token(
    settings: Settings,
    role: Role,
    *,
    association_id: str | None = None,
    subject: str | None = None,
    ttl: timedelta | None = None,
) -> str:
    if role in ROLES_WITH_ASSOCIATION and not association_id:
        raise AuthError(f"a {role.value} token needs an association id (--association)", 400)
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject or f"dev-{role.value}",
        "role": role.value,
        "iat": now,
        "exp": now + (ttl if ttl is not None else timedelta(hours=settings.token_ttl_hours)),
    }
    if association_id:
        claims["association_id"] = association_id
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)


def service_token(settings: Settings, service: str, ttl: timedelta = timedelta(minutes=10)) -> str:
    """What one platform process presents to another when no user is behind the call (the
    gateway listening to reporting's change stream): the ops role, subject ``service:<name>``,
    short-lived; mint a new one for each connection."""
    return issue_token(settings, Role.OPS, subject=f"service:{service}", ttl=ttl)


def verify_token(settings: Settings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise AuthError("the token has expired; ask for a new one (dn token)") from error
    except jwt.InvalidTokenError as error:
        raise AuthError(f"the token is not valid: {error}") from error
    try:
        role = Role(str(claims.get("role")))
    except ValueError as error:
        raise AuthError(f"unknown role {claims.get('role')!r}") from error
    association_id = claims.get("association_id")
    if role in ROLES_WITH_ASSOCIATION and not association_id:
        raise AuthError(f"a {role.value} token must carry association_id")
    return Principal(str(claims["sub"]), role, association_id)


def principal_from_header(settings: Settings, authorization: str | None) -> Principal:
    if not authorization:
        raise AuthError("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return verify_token(settings, token.strip())
