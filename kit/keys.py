"""Local secrets (development signing key, master encryption key) kept under DN_HOME."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kit.settings import Settings


class MissingSecret(RuntimeError):
    """A secret that must come from the environment in production is absent."""


def local_secret(settings: Settings, name: str, variable: str, generate: Callable[[], str]) -> str:
    """The secret in ``DN_HOME/secrets/name``, generated on first use; refused in production."""
    if settings.environment == "production":
        raise MissingSecret(f"{variable} must be set in production")
    path: Path = settings.home / "secrets" / name
    known = _read.get(path)
    if known is not None:
        return known
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created private: never readable by others, not even for an instant.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it meanwhile
        else:
            with os.fdopen(descriptor, "w") as secret_file:
                secret_file.write(generate())
    secret = _read[path] = path.read_text().strip()
    return secret


# Secrets already read, by file: the signing key was read from disk for every token signed or
# checked. A secret file is written once; a new one takes a restart.
_read: dict[Path, str] = {}
