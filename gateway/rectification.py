"""A rectification as registration takes it: the fields sent; null refused where it cannot clear."""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry

from .inputs import RectifyBeneficiaryInput
from .services import UserInputError
from .wire import enum_value

# Fields a record always has: null cannot clear them (omit them to keep the current value).
NOT_CLEARABLE = (
    "first_name",
    "last_name",
    "birth_year",
    "district_id",
    "gender",
    "tracks",
    "employment_status",
    "qpv_resident",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def rectification(change: RectifyBeneficiaryInput) -> dict[str, Any]:
    """The fields the caller sent (UNSET ones are left out), as registration names them."""
    sent = {
        f.name: getattr(change, f.name)
        for f in dataclasses.fields(change)
        if getattr(change, f.name) is not strawberry.UNSET
    }
    cleared = [name for name in NOT_CLEARABLE if name in sent and sent[name] is None]
    if cleared:
        raise UserInputError(
            "; ".join(f"{_camel(name)}: cannot be cleared" for name in cleared),
            [
                {
                    "field": _camel(name),
                    "message": "cannot be cleared; leave it out to keep the current value",
                }
                for name in cleared
            ],
        )
    return {name: enum_value(value) for name, value in sent.items()}
