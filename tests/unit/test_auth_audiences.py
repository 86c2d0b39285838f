"""Tokens name their audience: services accept only tokens signed for them; the gateway accepts
person tokens from the platform key or from an OIDC issuer, checked against its JWKS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from kit.auth import (
    AuthError,
    Principal,
    Role,
    audience_of,
    delegated_token,
    issue_token,
    service_token,
    verify_token,
)
from kit.settings import Settings

ASSOCIATION = "asso-saige-en-ligne"
ISSUER = "https://id.example.org/realms/dn"
AUDIENCE = "digital-neighbourhoods-gateway"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, jwt_secret="test-secret-" + "x" * 40)


def refused(settings: Settings, token: str, audience: str = "gateway") -> AuthError:
    with pytest.raises(AuthError) as refusal:
        verify_token(settings, token, audience)
    return refusal.value


# -- audiences ------------------------------------------------------------------------------


def test_dn_token_is_for_the_gateway_only(settings: Settings) -> None:
    token = issue_token(settings, Role.COORDINATOR)

    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "dn:gateway"
    assert verify_token(settings, token).role is Role.COORDINATOR
    refusal = refused(settings, token, "registration")
    assert refusal.status == 401
    assert "accepts only tokens signed for it" in str(refusal)
    assert "dn:gateway" in str(refusal)


def test_delegated_token_carries_the_person_and_fits_one_service(settings: Settings) -> None:
    person = Principal("amina", Role.ASSOCIATION, ASSOCIATION)

    token = delegated_token(settings, person, "training")

    assert verify_token(settings, token, "training") == person
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == audience_of("training")
    assert claims["exp"] - claims["iat"] <= 300
    for other in ("gateway", "registration", "orientation", "reporting"):
        assert refused(settings, token, other).status == 401


def test_service_token_is_refused_at_the_gateway_even_when_signed_for_it(
    settings: Settings,
) -> None:
    assert verify_token(settings, service_token(settings, "gateway", "reporting"), "reporting") == (
        Principal("service:gateway", Role.SERVICE)
    )
    forged = service_token(settings, "reporting", "gateway")

    assert "not accepted from outside" in str(refused(settings, forged))


def test_service_role_cannot_be_issued_to_a_person(settings: Settings) -> None:
    with pytest.raises(AuthError):
        issue_token(settings, Role.SERVICE)


def test_token_signed_with_another_key_is_refused_by_a_service(
    settings: Settings, tmp_path: Path
) -> None:
    elsewhere = Settings(home=tmp_path / "elsewhere", jwt_secret="another-" + "y" * 40)
    token = delegated_token(elsewhere, Principal("x", Role.COORDINATOR), "registration")

    assert "not valid" in str(refused(settings, token, "registration"))


def test_expired_delegated_token_is_refused(settings: Settings) -> None:
    token = delegated_token(
        settings, Principal("x", Role.COORDINATOR), "reporting", ttl=timedelta(seconds=-1)
    )

    assert "expired" in str(refused(settings, token, "reporting"))


def test_cli_exchanges_a_gateway_token_for_one_signed_for_the_service(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kit.auth import token_for

    monkeypatch.setenv("DN_TOKEN", issue_token(settings, Role.ASSOCIATION, association_id="a1"))
    exchanged = token_for(settings, "training", "dn-import")
    assert verify_token(settings, exchanged, "training") == Principal(
        "dev-association", Role.ASSOCIATION, "a1"
    )
    monkeypatch.delenv("DN_TOKEN")
    local = token_for(settings, "orientation", "dn-import")
    assert verify_token(settings, local, "orientation").role is Role.COORDINATOR


# -- OIDC: a local issuer with RS256 keys and a JWKS served over HTTP ----------------------


@pytest.fixture(scope="module")
def issuer_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The issuer's key (published) and an attacker's key (not published), same kid."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture(scope="module")
def jwks_url(issuer_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> Iterator[str]:
    public = json.loads(RSAAlgorithm.to_jwk(issuer_keys[0].public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class JWKS(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), JWKS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/realms/dn/protocol/openid-connect/certs"
    server.shutdown()


@pytest.fixture
def oidc_settings(settings: Settings, jwks_url: str) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": jwks_url,
            "oidc_role_claim": "realm_access.roles",
            "oidc_association_claim": "association_id",
        }
    )


def oidc_token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "f3c1-amina",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "realm_access": {"roles": ["offline_access", "association"]},
        "association_id": ASSOCIATION,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


def test_oidc_token_is_verified_against_the_jwks_and_its_claims_mapped(
    oidc_settings: Settings, issuer_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> None:
    token = oidc_token(issuer_keys[0])

    assert verify_token(oidc_settings, token) == Principal(
        "f3c1-amina", Role.ASSOCIATION, ASSOCIATION
    )


def test_oidc_token_signed_with_an_unpublished_key_is_refused(
    oidc_settings: Settings, issuer_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> None:
    assert "not valid" in str(refused(oidc_settings, oidc_token(issuer_keys[1])))


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "some-other-app"}, "not valid"),
        ({"exp": datetime.now(UTC) - timedelta(minutes=1)}, "expired"),
        ({"realm_access": {"roles": ["admin"]}}, "unknown role None"),
        ({"realm_access": {"roles": ["service"]}}, "unknown role None"),
        ({"association_id": None}, "must carry association_id"),
    ],
)
def test_oidc_token_with_wrong_claims_is_refused(
    oidc_settings: Settings,
    issuer_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    claims: dict[str, Any],
    reason: str,
) -> None:
    assert reason in str(refused(oidc_settings, oidc_token(issuer_keys[0], **claims)))


def test_oidc_token_is_not_accepted_by_a_service(
    oidc_settings: Settings, issuer_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> None:
    assert refused(oidc_settings, oidc_token(issuer_keys[0]), "registration").status == 401


def test_platform_tokens_still_verify_when_oidc_is_configured(oidc_settings: Settings) -> None:
    assert verify_token(oidc_settings, issue_token(oidc_settings, Role.FUNDER)).role is Role.FUNDER
