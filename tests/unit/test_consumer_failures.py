"""How a failing event is described in logs and dead letters: never with its input."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from kit.consumer import MAX_FAILURE_TEXT, describe_failure
from kit.deadletter import dead_letter_headers


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


def test_a_dead_letter_detail_quoting_half_a_surrogate_pair_is_escaped_not_a_failure() -> None:
    # A dead letter that cannot be encoded would be retried for ever, stalling its partition.
    record = ConsumerRecord(
        topic="dn.intake.training", partition=2, offset=7, timestamp=0, timestamp_type=0,
        key=b"k", value=b"{}", checksum=None, serialized_key_size=1, serialized_value_size=2,
        headers=[("x-partner", b"\xff"), ("dn_error", b"forged")],
    )  # fmt: skip

    headers = dict(dead_letter_headers(record, "unknown_attribute", "unknown \ud800", "dn-test"))

    assert headers["dn_error_detail"] == b"unknown \\ud800"
    assert headers["dn_error"] == b"unknown_attribute", "a partner's dn_* header is replaced"
    assert headers["x-partner"] == b"\xff", "the partner's own headers are kept byte for byte"
    assert headers["dn_source_partition"] == b"2"
