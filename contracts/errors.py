"""Errors a user can cause, as field-level messages a form can show (shared by every service)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InvalidInput(Exception):
    """The request was refused; each error names the field, what was wrong and what is accepted."""

    def __init__(self, *errors: FieldError, status: int = 422) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.status = status


class Conflict(InvalidInput):
    """The request would create what already exists; ``existing_id`` names it."""

    def __init__(self, existing_id: str, message: str) -> None:
        super().__init__(FieldError("id", message), status=409)
        self.existing_id = existing_id


class NotFound(Exception):
    """The thing asked for does not exist (or no longer does)."""
