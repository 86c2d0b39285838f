"""The vault: per-person sealing, wrapped data keys, blind indexes and the master key."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.keys import MissingSecret
from kit.settings import Settings
from services.registration.vault import KEY_BYTES, Vault, VaultError, master_key_from

MASTER_KEY = bytes(range(KEY_BYTES))
OTHER_MASTER_KEY = bytes(reversed(range(KEY_BYTES)))
BENEFICIARY_ID = "0b5e3a52-7c1d-4d8e-9a51-3f0c2b6d1e77"
OTHER_BENEFICIARY_ID = "5d0c6f1e-2a4b-4c8d-8e9f-0a1b2c3d4e5f"
PERSONAL = {
    "first_name": "Yasmine",
    "last_name": "Belkacem",
    "phone": "06 12 34 56 78",
    "email": "yasmine.belkacem@example.org",
    "street": "12 rue de la Benauge",
}

vault = Vault(MASTER_KEY)


def data_key() -> bytes:
    key, _ = vault.new_data_key(BENEFICIARY_ID)
    return key


@pytest.fixture
def local_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Development settings under a fresh DN_HOME, whatever the caller's environment says."""
    monkeypatch.delenv("DN_MASTER_KEY", raising=False)
    monkeypatch.delenv("DN_ENVIRONMENT", raising=False)
    return Settings(home=tmp_path)


# -- sealing personal data ------------------------------------------------------------------


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=8))
def test_sealed_personal_data_opens_to_the_same_values(personal: dict[str, str]) -> None:
    key = data_key()

    sealed = Vault.seal(key, BENEFICIARY_ID, personal)

    assert Vault.open(key, BENEFICIARY_ID, sealed) == personal


def test_ciphertext_does_not_contain_the_personal_data() -> None:
    sealed = Vault.seal(data_key(), BENEFICIARY_ID, PERSONAL)

    stored = sealed["nonce"] + sealed["ciphertext"]
    plaintext = json.dumps(PERSONAL, ensure_ascii=False, sort_keys=True).encode()
    assert plaintext not in stored
    for value in PERSONAL.values():
        assert value.encode() not in stored, value


def test_sealed_form_holds_only_a_nonce_and_a_ciphertext() -> None:
    sealed = Vault.seal(data_key(), BENEFICIARY_ID, PERSONAL)

    assert set(sealed) == {"nonce", "ciphertext"}


def test_sealing_twice_gives_different_ciphertexts() -> None:
    key = data_key()

    first = Vault.seal(key, BENEFICIARY_ID, PERSONAL)
    second = Vault.seal(key, BENEFICIARY_ID, PERSONAL)

    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


def test_personal_data_does_not_open_under_another_beneficiary_id() -> None:
    key = data_key()
    sealed = Vault.seal(key, BENEFICIARY_ID, PERSONAL)

    with pytest.raises(VaultError, match=OTHER_BENEFICIARY_ID):
        Vault.open(key, OTHER_BENEFICIARY_ID, sealed)


def test_tampered_ciphertext_does_not_open() -> None:
    key = data_key()
    sealed = Vault.seal(key, BENEFICIARY_ID, PERSONAL)
    tampered = bytearray(sealed["ciphertext"])
    tampered[0] ^= 0x01

    with pytest.raises(VaultError):
        Vault.open(key, BENEFICIARY_ID, {**sealed, "ciphertext": bytes(tampered)})


def test_after_the_data_key_is_destroyed_the_ciphertext_does_not_open() -> None:
    sealed = Vault.seal(data_key(), BENEFICIARY_ID, PERSONAL)
    replacement = data_key()  # the original key is gone; a new one is all that is left

    with pytest.raises(VaultError):
        Vault.open(replacement, BENEFICIARY_ID, sealed)


# -- wrapped data keys ----------------------------------------------------------------------


def test_wrapped_data_key_unwraps_to_the_data_key_for_its_beneficiary() -> None:
    key, stored = vault.new_data_key(BENEFICIARY_ID)

    assert len(key) == KEY_BYTES
    assert key not in stored["wrapped"]
    assert vault.unwrap(BENEFICIARY_ID, stored) == key
    assert Vault(MASTER_KEY).unwrap(BENEFICIARY_ID, stored) == key


def test_every_new_data_key_is_a_different_key() -> None:
    first, _ = vault.new_data_key(BENEFICIARY_ID)
    second, _ = vault.new_data_key(BENEFICIARY_ID)

    assert first != second


def test_wrapped_data_key_does_not_unwrap_for_another_beneficiary() -> None:
    _, stored = vault.new_data_key(BENEFICIARY_ID)

    with pytest.raises(VaultError, match=OTHER_BENEFICIARY_ID):
        vault.unwrap(OTHER_BENEFICIARY_ID, stored)


def test_wrapped_data_key_does_not_unwrap_with_another_master_key() -> None:
    _, stored = vault.new_data_key(BENEFICIARY_ID)

    with pytest.raises(VaultError, match=BENEFICIARY_ID):
        Vault(OTHER_MASTER_KEY).unwrap(BENEFICIARY_ID, stored)


# -- blind indexes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["ZOE martin durand", "zoe martin-durand", " Zoé Martin Durand ", "ZOÉ\tMARTIN-DURAND"],
)
def test_blind_index_ignores_case_accents_hyphens_and_spacing(variant: str) -> None:
    assert vault.blind_index("name", "Zoé  Martin-Durand") == vault.blind_index("name", variant)


def test_blind_index_differs_for_different_values() -> None:
    assert vault.blind_index("name", "Zoé Martin 1990") != vault.blind_index(
        "name", "Zoé Martin 1991"
    )
    assert vault.blind_index("phone", "0612345678") != vault.blind_index("phone", "0612345679")


def test_blind_index_differs_for_the_same_value_of_different_kinds() -> None:
    assert vault.blind_index("phone", "0612345678") != vault.blind_index("email", "0612345678")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("name_birth_year", "Zoé Martin-Durand 1990"),
        ("phone", "0612345678"),
        ("email", "zoe.martin@example.org"),
    ],
)
def test_blind_index_does_not_contain_the_value(kind: str, value: str) -> None:
    index = vault.blind_index(kind, value)

    assert len(index) == 64
    assert value.lower() not in index
    for word in value.lower().split():
        assert word not in index


def test_blind_index_differs_between_master_keys() -> None:
    other = Vault(OTHER_MASTER_KEY)

    assert vault.blind_index("phone", "0612345678") != other.blind_index("phone", "0612345678")


def test_blind_index_is_stable_for_the_same_master_key() -> None:
    assert Vault(MASTER_KEY).blind_index("phone", "0612345678") == vault.blind_index(
        "phone", "0612345678"
    )


# -- the master key -------------------------------------------------------------------------


def test_local_master_key_is_generated_once_as_a_private_32_byte_key_file(
    local_settings: Settings,
) -> None:
    key = master_key_from(local_settings)

    key_file = local_settings.home / "secrets" / "master.key"
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert base64.urlsafe_b64decode(key_file.read_text().strip()) == key
    assert master_key_from(Settings(home=local_settings.home)) == key


def test_vault_from_local_settings_opens_what_it_sealed_the_next_time(
    local_settings: Settings,
) -> None:
    key, stored = Vault.from_settings(local_settings).new_data_key(BENEFICIARY_ID)

    assert Vault.from_settings(local_settings).unwrap(BENEFICIARY_ID, stored) == key


def test_configured_master_key_is_used_as_given(local_settings: Settings) -> None:
    encoded = base64.urlsafe_b64encode(OTHER_MASTER_KEY).decode()

    key = master_key_from(Settings(home=local_settings.home, master_key=encoded))

    assert key == OTHER_MASTER_KEY
    assert not (local_settings.home / "secrets" / "master.key").exists()


@pytest.mark.parametrize(
    "encoded",
    [
        base64.urlsafe_b64encode(os.urandom(16)).decode(),
        base64.urlsafe_b64encode(os.urandom(33)).decode(),
        "not-base64!",
    ],
    ids=["16 bytes", "33 bytes", "not base64"],
)
def test_configured_master_key_of_the_wrong_shape_is_refused_naming_the_variable(
    local_settings: Settings, encoded: str
) -> None:
    settings = Settings(home=local_settings.home, master_key=encoded)

    with pytest.raises(VaultError, match="DN_MASTER_KEY"):
        master_key_from(settings)


def test_production_without_a_master_key_is_refused(local_settings: Settings) -> None:
    settings = Settings(home=local_settings.home, environment="production")

    with pytest.raises(MissingSecret, match="DN_MASTER_KEY"):
        master_key_from(settings)
    assert not (local_settings.home / "secrets").exists()
