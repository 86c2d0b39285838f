"""Per-person encryption of personal data (crypto-shredding) and blind indexes.

Each beneficiary's personal data is sealed with AES-256-GCM under a data key of their own; the
data key is stored wrapped by the master key in its own collection. Destroying that one key
makes every copy of the ciphertext unreadable, backups included. Blind indexes (keyed HMACs of
normalised name + birth year, phone, email) let duplicates be found without decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kit.keys import local_secret
from kit.settings import Settings

NONCE_BYTES = 12
KEY_BYTES = 32


class VaultError(RuntimeError):
    """A key or ciphertext does not open: wrong master key or tampered data."""


def _generate_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def master_key_from(settings: Settings) -> bytes:
    encoded = settings.master_key or local_secret(
        settings, "master.key", "DN_MASTER_KEY", _generate_master_key
    )
    try:
        key = base64.urlsafe_b64decode(encoded)
    except ValueError as error:
        raise VaultError("DN_MASTER_KEY must be 32 bytes, base64 (urlsafe) encoded") from error
    if len(key) != KEY_BYTES:
        raise VaultError("DN_MASTER_KEY must be 32 bytes, base64 (urlsafe) encoded")
    return key


def normalise(text: str) -> str:
    """Case-, accent- and spacing-insensitive form used for matching (Zoé ~ ZOE ~ zoe)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.replace("-", " ").split())


class Vault:
    def __init__(self, master_key: bytes) -> None:
        self._master = AESGCM(master_key)
        self._index_key = HKDF(
            algorithm=SHA256(), length=KEY_BYTES, salt=None, info=b"dn-blind-index-v1"
        ).derive(master_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return cls(master_key_from(settings))

    # -- data keys ---------------------------------------------------------------------------

    def new_data_key(self, beneficiary_id: str) -> tuple[bytes, dict[str, bytes]]:
        """A fresh data key and its wrapped form (bound to the beneficiary id) for storage."""
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self._master.encrypt(nonce, key, beneficiary_id.encode())
        return key, {"nonce": nonce, "wrapped": wrapped}

    def unwrap(self, beneficiary_id: str, stored: dict[str, Any]) -> bytes:
        try:
            return self._master.decrypt(stored["nonce"], stored["wrapped"], beneficiary_id.encode())
        except InvalidTag as error:
            raise VaultError(f"the data key of {beneficiary_id} does not open") from error

    # -- personal data -----------------------------------------------------------------------

    @staticmethod
    def seal(key: bytes, beneficiary_id: str, personal: dict[str, Any]) -> dict[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(personal, ensure_ascii=False, sort_keys=True).encode()
        ciphertext = AESGCM(key).encrypt(nonce, plaintext, beneficiary_id.encode())
        return {"nonce": nonce, "ciphertext": ciphertext}

    @staticmethod
    def open(key: bytes, beneficiary_id: str, sealed: dict[str, Any]) -> dict[str, Any]:
        try:
            plaintext = AESGCM(key).decrypt(
                sealed["nonce"], sealed["ciphertext"], beneficiary_id.encode()
            )
        except InvalidTag as error:
            raise VaultError(f"the personal data of {beneficiary_id} does not open") from error
        opened: dict[str, Any] = json.loads(plaintext)
        return opened

    # -- blind indexes -----------------------------------------------------------------------

    def blind_index(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised value: equal inputs match, nothing can be read back."""
        message = f"{kind}:{normalise(value)}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()
