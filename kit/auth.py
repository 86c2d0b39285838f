"""Bearer JWTs: who is calling, with which role, for which association — and for which process.

Every token names its audience. People present tokens for the **gateway** (``dn token`` signs
one with the development key; in production an OIDC issuer signs them and the gateway checks
its JWKS). A service trusts only tokens signed **for it** (``aud = dn:<service>``), with the
platform key: the gateway, once it has verified the person, signs a short-lived token for each
service it calls, carrying the person's subject, role and association. Processes that call a
service with no person behind them (reporting reading names, the gateway's change stream) sign
a service token, role ``service``, for the service they call; CLI commands exchange the
operator's gateway token for one signed for the service they call.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt

from kit.keys import MissingSecret, local_secret
from kit.settings import Settings

ISSUER = "digital-neighbourhoods"
ALGORITHM = "HS256"
GATEWAY = "gateway"
AUDIENCE = f"dn:{GATEWAY}"  # what person tokens signed by the platform are for
DELEGATED_TTL = timedelta(minutes=5)
SERVICE_TTL = timedelta(minutes=10)


def audience_of(process: str) -> str:
    """The ``aud`` of tokens for one process: ``dn:gateway``, ``dn:registration``…"""
    return f"dn:{process}"


class Role(StrEnum):
    COORDINATOR = "coordinator"
    ASSOCIATION = "association"
    FUNDER = "funder"
    PARTNER = "partner"
    OPS = "ops"
    # A platform process calling another with nobody behind the call; only service_token()
    # signs it, and the gateway refuses it from outside.
    SERVICE = "service"


PERSON_ROLES = tuple(role for role in Role if role is not Role.SERVICE)
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


# -- issuing --------------------------------------------------------------------------------


def issue_token(
    settings: Settings,
    role: Role,
    *,
    association_id: str | None = None,
    subject: str | None = None,
    ttl: timedelta | None = None,
    audience: str = GATEWAY,
) -> str:
    """A person's token for ``audience`` (a process name; the gateway unless said)."""
    if role is Role.SERVICE:
        raise AuthError("service tokens are signed by the platform's processes only", 400)
    if role in ROLES_WITH_ASSOCIATION and not association_id:
        raise AuthError(f"a {role.value} token needs an association id (--association)", 400)
    lifetime = ttl if ttl is not None else timedelta(hours=settings.token_ttl_hours)
    return _sign(settings, subject or f"dev-{role.value}", role, association_id, audience, lifetime)


def delegated_token(
    settings: Settings, who: Principal, service: str, ttl: timedelta = DELEGATED_TTL
) -> str:
    """What the gateway (or a CLI) sends to ``service`` on behalf of a verified person."""
    return _sign_kept(settings, who.subject, who.role, who.association_id, service, ttl)


def service_token(
    settings: Settings, caller: str, service: str, ttl: timedelta = SERVICE_TTL
) -> str:
    """What process ``caller`` presents to ``service`` when no person is behind the call:
    role ``service``, subject ``service:<caller>``, short-lived; mint one per connection."""
    return _sign_kept(settings, f"service:{caller}", Role.SERVICE, None, service, ttl)


def _sign(
    settings: Settings,
    subject: str,
    role: Role,
    association_id: str | None,
    audience: str,
    ttl: timedelta,
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": audience_of(audience),
        "sub": subject,
        "role": role.value,
        "iat": now,
        "exp": now + ttl,
    }
    if association_id:
        claims["association_id"] = association_id
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)


def _sign_kept(
    settings: Settings,
    subject: str,
    role: Role,
    association_id: str | None,
    audience: str,
    ttl: timedelta,
) -> str:
    """A short-lived token between processes: one signed in the first half of its life is
    given again (the gateway signs one for every service call it makes on someone's behalf)."""
    cache_key = (subject, role, association_id, audience, ttl, signing_key(settings))
    kept = _signed.get(cache_key)
    now = datetime.now(UTC)
    if kept is not None and now < kept[1]:
        return kept[0]
    token = _sign(settings, subject, role, association_id, audience, ttl)
    _keep(_signed, cache_key, (token, now + ttl / 2))
    return token


# Tokens signed, until half their life has passed, and tokens verified, until they expire: the
# same few are signed and checked thousands of times a minute (a signature was ~10% of the CPU
# of a small GraphQL answer). Keyed by the signing key too: another key signs and checks anew.
_KEPT = 4096
_signed: dict[tuple[Any, ...], tuple[str, datetime]] = {}
_verified: dict[tuple[str, str, str], tuple[Principal, float]] = {}


def _keep(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _KEPT:
        cache.clear()  # a bound, not an LRU: refilled within a second of use
    cache[key] = value


def token_for(settings: Settings, service: str, subject: str, role: Role = Role.COORDINATOR) -> str:
    """A CLI's token for ``service``: ``DN_TOKEN`` — passed on when already for ``service``,
    else verified as a gateway token and exchanged for one signed for ``service`` — or, when
    unset, a local development token of ``role``."""
    given = os.environ.get("DN_TOKEN")
    if not given:
        return issue_token(settings, role, subject=subject, audience=service)
    if service == GATEWAY or _unverified(given).get("aud") == audience_of(service):
        return given
    return delegated_token(settings, verify_token(settings, given), service)


# -- verifying ------------------------------------------------------------------------------


def verify_token(settings: Settings, token: str, audience: str = GATEWAY) -> Principal:
    """The principal of a token signed for ``audience``; AuthError (401) otherwise.

    The gateway also accepts tokens from the configured OIDC issuer (DN_OIDC_ISSUER)."""
    oidc = settings.oidc_issuer
    if audience == GATEWAY and oidc and _unverified(token).get("iss") == oidc:
        return _principal(_oidc_claims(settings, token), settings, from_outside=True)
    key = signing_key(settings)
    kept = _verified.get((token, audience, key))
    if kept is not None and time.time() < kept[1]:
        return kept[0]
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience_of(audience),
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise AuthError("the token has expired; ask for a new one (dn token)") from error
    except jwt.InvalidAudienceError as error:
        raise AuthError(_wrong_audience(token, audience)) from error
    except jwt.InvalidTokenError as error:
        raise AuthError(f"the token is not valid: {error}") from error
    principal = _principal(claims, settings, from_outside=audience == GATEWAY)
    _keep(_verified, (token, audience, key), (principal, float(claims["exp"])))
    return principal


def _wrong_audience(token: str, audience: str) -> str:
    sent = _unverified(token).get("aud")
    if audience == GATEWAY:
        return f"this token is for {sent!r}, not for the gateway ({audience_of(GATEWAY)!r})"
    return (
        f"this service ({audience_of(audience)!r}) accepts only tokens signed for it; this one "
        f"is for {sent!r} — send requests through the gateway, or sign one for {audience!r}"
    )


def _principal(claims: dict[str, Any], settings: Settings, *, from_outside: bool) -> Principal:
    role_claim = claims.get("role")
    try:
        role = Role(str(role_claim))
    except ValueError as error:
        raise AuthError(f"unknown role {role_claim!r}") from error
    if from_outside and role is Role.SERVICE:
        raise AuthError("service tokens are not accepted from outside the platform")
    association_id = claims.get("association_id")
    if role in ROLES_WITH_ASSOCIATION and not association_id:
        raise AuthError(f"a {role.value} token must carry association_id")
    return Principal(str(claims["sub"]), role, str(association_id) if association_id else None)


def _unverified(token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as error:
        raise AuthError(f"the token is not valid: {error}") from error
    return claims


def principal_from_header(
    settings: Settings, authorization: str | None, audience: str = GATEWAY
) -> Principal:
    if not authorization:
        raise AuthError("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return verify_token(settings, token.strip(), audience)


# -- OIDC -----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # Keys are cached (and refetched when a token names an unknown kid, e.g. after rotation).
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def _oidc_claims(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a token from the OIDC issuer, checked against its JWKS, then mapped:
    ``DN_OIDC_ROLE_CLAIM`` (a dotted path; a list picks its first platform role) and
    ``DN_OIDC_ASSOCIATION_CLAIM`` become ``role`` and ``association_id``."""
    if not settings.oidc_jwks_url or not settings.oidc_audience:
        raise AuthError("OIDC is half configured: set DN_OIDC_JWKS_URL and DN_OIDC_AUDIENCE", 500)
    try:
        key = _jwks_client(settings.oidc_jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
            audience=settings.oidc_audience,
            issuer=settings.oidc_issuer,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise AuthError("the token has expired; sign in again") from error
    except jwt.PyJWKClientConnectionError as error:
        raise AuthError(f"the identity provider's keys cannot be fetched: {error}", 503) from error
    except jwt.InvalidTokenError as error:  # includes PyJWKClientError (unknown kid)
        raise AuthError(f"the token is not valid: {error}") from error
    role = _claim(claims, settings.oidc_role_claim)
    if isinstance(role, list):
        role = next((r for r in role if r in PERSON_ROLES), None)
    association_id = _claim(claims, settings.oidc_association_claim)
    return {"sub": claims["sub"], "role": role, "association_id": association_id}


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
