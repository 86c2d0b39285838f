"""Bearer JWTs: issuing, verifying, refusing, and the development signing key."""

from __future__ import annotations

import base64
import json
import stat
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from kit.auth import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    AuthError,
    Principal,
    Role,
    delegated_token,
    issue_token,
    principal_from_header,
    signing_key,
    verify_token,
)
from kit.settings import Settings

ASSOCIATION = "assoc-bastide"


@pytest.fixture
def dev_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("DN_ENVIRONMENT", raising=False)
    return Settings(home=tmp_path, jwt_secret=None)


def refusal(settings: Settings, token: str) -> AuthError:
    with pytest.raises(AuthError) as refused:
        verify_token(settings, token)
    return refused.value


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


# -- issue and verify -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "association_id"),
    [
        (Role.COORDINATOR, None),
        (Role.FUNDER, None),
        (Role.OPS, None),
        (Role.ASSOCIATION, ASSOCIATION),
        (Role.PARTNER, ASSOCIATION),
    ],
)
def test_issued_token_verifies_with_its_role_and_association(
    dev_settings: Settings, role: Role, association_id: str | None
) -> None:
    token = issue_token(dev_settings, role, association_id=association_id, subject="amina")

    assert verify_token(dev_settings, token) == Principal("amina", role, association_id)


def test_issued_token_carries_the_public_contract_claims(dev_settings: Settings) -> None:
    token = issue_token(dev_settings, Role.ASSOCIATION, association_id=ASSOCIATION)

    claims = claims_of(token)

    assert claims["role"] == "association"
    assert claims["association_id"] == ASSOCIATION
    assert claims["sub"] == "dev-association"
    assert (claims["iss"], claims["aud"]) == (ISSUER, AUDIENCE)
    assert claims["exp"] == claims["iat"] + 12 * 3600


def test_token_verifies_with_a_later_settings_instance_on_the_same_home(tmp_path: Path) -> None:
    token = issue_token(Settings(home=tmp_path, jwt_secret=None), Role.COORDINATOR)

    principal = verify_token(Settings(home=tmp_path, jwt_secret=None), token)

    assert principal.role is Role.COORDINATOR


@pytest.mark.parametrize("role", [Role.ASSOCIATION, Role.PARTNER])
def test_association_bound_token_cannot_be_issued_without_association_id(
    dev_settings: Settings, role: Role
) -> None:
    with pytest.raises(AuthError) as refused:
        issue_token(dev_settings, role)

    assert refused.value.status == 400
    assert "association" in str(refused.value)


def test_zero_ttl_gives_a_token_with_zero_lifetime(dev_settings: Settings) -> None:
    claims = claims_of(issue_token(dev_settings, Role.COORDINATOR, ttl=timedelta(0)))

    assert claims["exp"] == claims["iat"]


# -- refusals -------------------------------------------------------------------------------


def test_expired_token_is_refused_saying_it_expired(dev_settings: Settings) -> None:
    token = issue_token(dev_settings, Role.COORDINATOR, ttl=timedelta(minutes=-1))

    refused = refusal(dev_settings, token)

    assert refused.status == 401
    assert "expired" in str(refused)


def test_token_signed_with_another_key_is_refused(dev_settings: Settings, tmp_path: Path) -> None:
    elsewhere = Settings(home=tmp_path / "elsewhere", jwt_secret=None)
    token = issue_token(elsewhere, Role.COORDINATOR)

    refused = refusal(dev_settings, token)

    assert refused.status == 401
    assert "not valid" in str(refused)


def test_token_with_a_tampered_payload_is_refused(dev_settings: Settings) -> None:
    token = issue_token(dev_settings, Role.ASSOCIATION, association_id=ASSOCIATION)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "coordinator"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    refused = refusal(dev_settings, f"{header}.{forged}.{signature}")

    assert refused.status == 401
    assert "not valid" in str(refused)


def test_token_for_another_issuer_is_refused(dev_settings: Settings) -> None:
    token = jwt.encode(
        {**claims_of(issue_token(dev_settings, Role.COORDINATOR)), "iss": "someone-else"},
        signing_key(dev_settings),
        algorithm=ALGORITHM,
    )

    assert refusal(dev_settings, token).status == 401


def test_association_token_without_association_id_claim_is_refused(dev_settings: Settings) -> None:
    claims = claims_of(issue_token(dev_settings, Role.ASSOCIATION, association_id=ASSOCIATION))
    del claims["association_id"]
    token = jwt.encode(claims, signing_key(dev_settings), algorithm=ALGORITHM)

    assert "association_id" in str(refusal(dev_settings, token))


def test_token_with_an_unknown_role_is_refused(dev_settings: Settings) -> None:
    claims = {**claims_of(issue_token(dev_settings, Role.COORDINATOR)), "role": "admin"}
    token = jwt.encode(claims, signing_key(dev_settings), algorithm=ALGORITHM)

    assert "unknown role 'admin'" in str(refusal(dev_settings, token))


# -- the Authorization header ---------------------------------------------------------------


@pytest.mark.parametrize("header", [None, ""])
def test_missing_authorization_header_is_refused(
    dev_settings: Settings, header: str | None
) -> None:
    with pytest.raises(AuthError) as refused:
        principal_from_header(dev_settings, header)

    assert refused.value.status == 401
    assert "missing Authorization header" in str(refused.value)


def test_non_bearer_scheme_is_refused(dev_settings: Settings) -> None:
    token = issue_token(dev_settings, Role.COORDINATOR)

    for header in (f"Basic {token}", token, "Bearer", "Bearer   "):
        with pytest.raises(AuthError, match="must be 'Bearer <token>'"):
            principal_from_header(dev_settings, header)


def test_bearer_header_yields_the_principal_whatever_the_scheme_case(
    dev_settings: Settings,
) -> None:
    token = issue_token(dev_settings, Role.FUNDER, subject="fondation")

    for header in (f"Bearer {token}", f"bearer {token}", f"BEARER  {token} "):
        assert principal_from_header(dev_settings, header) == Principal("fondation", Role.FUNDER)


# -- rights ---------------------------------------------------------------------------------


def test_principal_with_a_wrong_role_is_forbidden_naming_the_allowed_roles() -> None:
    funder = Principal("fondation", Role.FUNDER)

    with pytest.raises(AuthError) as refused:
        funder.require(Role.COORDINATOR, Role.ASSOCIATION)

    assert refused.value.status == 403
    assert "coordinator, association" in str(refused.value)


def test_principal_with_an_allowed_role_passes() -> None:
    Principal("amina", Role.ASSOCIATION, ASSOCIATION).require(Role.COORDINATOR, Role.ASSOCIATION)


def test_coordinator_acts_for_every_association() -> None:
    coordinator = Principal("claire", Role.COORDINATOR)

    coordinator.require_association(ASSOCIATION)
    coordinator.require_association("assoc-passerelle")


def test_association_staff_act_for_their_own_association_only() -> None:
    staff = Principal("amina", Role.ASSOCIATION, ASSOCIATION)
    staff.require_association(ASSOCIATION)

    with pytest.raises(AuthError) as refused:
        staff.require_association("assoc-passerelle")

    assert refused.value.status == 403


@pytest.mark.parametrize("role", [Role.FUNDER, Role.OPS])
def test_roles_without_association_cannot_act_for_one(role: Role) -> None:
    with pytest.raises(AuthError) as refused:
        Principal("someone", role).require_association(ASSOCIATION)

    assert refused.value.status == 403


# -- signing key ----------------------------------------------------------------------------


def test_production_without_jwt_secret_has_no_signing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DN_ENVIRONMENT", "production")
    monkeypatch.delenv("DN_JWT_SECRET", raising=False)
    production = Settings(home=tmp_path)

    with pytest.raises(AuthError) as refused:
        signing_key(production)

    assert refused.value.status == 500
    assert "DN_JWT_SECRET" in str(refused.value)
    assert not (tmp_path / "secrets").exists()


def test_configured_jwt_secret_is_the_key_and_nothing_is_written(tmp_path: Path) -> None:
    configured = Settings(home=tmp_path, jwt_secret="a-configured-secret-of-32-bytes-or-more")

    assert signing_key(configured) == "a-configured-secret-of-32-bytes-or-more"
    assert list(tmp_path.iterdir()) == []


def test_generated_development_key_is_kept_private_and_reused(dev_settings: Settings) -> None:
    key = signing_key(dev_settings)
    path = dev_settings.home / "secrets" / "jwt-dev.key"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert len(key) >= 32
    assert signing_key(dev_settings) == key


def test_a_token_checked_once_is_still_refused_under_another_key_and_once_expired(
    tmp_path: Path,
) -> None:
    """Verified tokens are kept until they expire (kit.auth): never past their expiry, never
    for a process signing with another key, never for another audience."""
    settings = Settings(home=tmp_path, jwt_secret="k" * 48)
    other_key = Settings(home=tmp_path, jwt_secret="o" * 48)
    # JWT times are whole seconds: 2 s leaves at least one before it expires.
    token = issue_token(settings, Role.COORDINATOR, ttl=timedelta(seconds=2))

    assert verify_token(settings, token).role is Role.COORDINATOR
    assert verify_token(settings, token).role is Role.COORDINATOR  # kept
    assert "not valid" in str(refusal(other_key, token))
    with pytest.raises(AuthError, match="accepts only tokens signed for it"):
        verify_token(settings, token, audience="reporting")
    time.sleep(2.1)
    assert "expired" in str(refusal(settings, token))


def test_a_delegated_token_is_signed_again_only_past_half_its_life(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, jwt_secret="k" * 48)
    who = Principal("someone", Role.COORDINATOR)
    life = timedelta(seconds=2)

    first = delegated_token(settings, who, "reporting", ttl=life)
    assert delegated_token(settings, who, "reporting", ttl=life) == first
    assert delegated_token(settings, who, "training", ttl=life) != first
    elsewhere = Settings(home=tmp_path, jwt_secret="o" * 48)
    assert delegated_token(elsewhere, who, "reporting", ttl=life) != first
    time.sleep(1.1)  # past half its life (and in another second: JWT times are whole seconds)
    again = delegated_token(settings, who, "reporting", ttl=life)
    assert claims_of(again)["iat"] > claims_of(first)["iat"]
    assert verify_token(settings, again, audience="reporting").subject == "someone"
