"""A service answer outside its contract (contracts/api) is refused by the gateway with an
error saying which service, and logged by field, never by value (values may be a person's)."""

from __future__ import annotations

import logging

import pytest

from contracts.api.registration import DistrictView
from gateway.services import ServiceAnswerInvalid, validated

SAIGE = {
    "id": "qpv-saige",
    "name": "Saige",
    "commune": "Pessac",
    "insee_code": "33318",
    "qpv_code": "QN03303M",
}


def test_an_answer_in_its_contract_is_read_as_the_model() -> None:
    [district] = validated(list[DistrictView], [SAIGE], "registration", "/districts")

    assert (district.id, district.name) == ("qpv-saige", "Saige")


def test_a_field_renamed_by_a_service_is_refused_and_logged_without_its_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    renamed = {**{k: v for k, v in SAIGE.items() if k != "name"}, "label": "Secret-Saige"}

    with caplog.at_level(logging.ERROR), pytest.raises(ServiceAnswerInvalid) as refused:
        validated(list[DistrictView], [renamed], "registration", "/districts")

    assert refused.value.extensions == {"code": "SERVICE_CONTRACT", "service": "registration"}
    assert "registration /districts answered outside its contract" in caplog.text
    assert "(0, 'name'), 'missing'" in caplog.text
    assert "Secret-Saige" not in caplog.text


def test_added_fields_are_ignored_so_a_service_may_be_upgraded_first() -> None:
    district = validated(DistrictView, {**SAIGE, "population": 7000}, "registration", "/d")

    assert district.name == "Saige"
