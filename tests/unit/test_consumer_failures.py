"""How a failing event is described in logs and dead letters: never with its input."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from kit.consumer import MAX_FAILURE_TEXT, describe_failure


class Person(BaseModel):
    birth_year: int


def test_a_validation_error_names_the_field_but_not_the_value() -> None:
    with pytest.raises(ValidationError) as raised:
        Person.model_validate({"birth_year": "Amina Diallo, 06 12 34 56 78"})

    described = describe_failure(raised.value)

    assert "birth_year" in described
    assert "Amina" not in described
    assert "06 12" not in described


def test_other_errors_keep_their_type_and_message_within_a_bound() -> None:
    described = describe_failure(RuntimeError("x" * 10_000))

    assert described.startswith("RuntimeError: xxx")
    assert len(described) == MAX_FAILURE_TEXT
