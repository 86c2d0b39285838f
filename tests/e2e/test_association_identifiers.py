"""An association's SIRET and RNA number through GraphQL: saved by ``saveAssociation`` once
checked, shown by ``associations``, a wrong one refused naming its field. The numbers are
generated, never a real association's."""

from __future__ import annotations

import random
from typing import Any
from uuid import uuid4

import httpx
import pytest

from services.registration.domain import SIREN_LA_POSTE, luhn_valid
from tests.e2e.conftest import graphql

pytestmark = pytest.mark.e2e

SAVE = """
mutation Save($id: ID!, $input: AssociationInput!) {
  saveAssociation(id: $id, input: $input) { id name siret rna } }"""
LIST = "{ associations { id name siret rna districts { id } } }"
NUMBERS = random.Random()


def generated_siret() -> str:
    """A random SIRET whose SIREN and SIRET Luhn keys hold (outside La Poste's SIREN)."""
    while True:
        body = "".join(NUMBERS.choice("0123456789") for _ in range(8))
        siren = body + next(k for k in "0123456789" if luhn_valid(body + k))
        nic = "".join(NUMBERS.choice("0123456789") for _ in range(4))
        number = siren + nic + next(k for k in "0123456789" if luhn_valid(siren + nic + k))
        if not number.startswith(SIREN_LA_POSTE):
            return number


def generated_rna() -> str:
    return "W" + "".join(NUMBERS.choice("0123456789") for _ in range(9))


def association(**identifiers: str) -> dict[str, Any]:
    return {"name": f"Association {uuid4().hex[:6]}", "districts": ["qpv-saige"], **identifiers}


def test_siret_and_rna_are_saved_and_listed(gateway: httpx.Client) -> None:
    association_id = f"asso-test-{uuid4().hex[:8]}"
    siret, rna = generated_siret(), generated_rna()
    spaced = f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"

    response = graphql(
        gateway, SAVE, id=association_id, input=association(siret=spaced, rna=rna.lower())
    )
    listed = graphql(gateway, LIST).json()["data"]["associations"]

    saved = response.json()["data"]["saveAssociation"]
    assert (saved["siret"], saved["rna"]) == (siret, rna), "saved without spaces, in capitals"
    mine = next(a for a in listed if a["id"] == association_id)
    assert (mine["siret"], mine["rna"]) == (siret, rna)
    assert mine["districts"] == [{"id": "qpv-saige"}]


def test_a_wrong_siret_or_rna_is_refused_naming_each_field(gateway: httpx.Client) -> None:
    association_id = f"asso-test-{uuid4().hex[:8]}"
    good = generated_siret()
    mistyped = good[:13] + str((int(good[13]) + 1) % 10)

    one = graphql(gateway, SAVE, id=association_id, input=association(siret=mistyped)).json()
    both = graphql(
        gateway, SAVE, id=association_id, input=association(siret="1234", rna="W12")
    ).json()
    listed = graphql(gateway, LIST).json()["data"]["associations"]

    [error] = one["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    [field] = error["extensions"]["fields"]
    assert field["field"] == "siret"
    assert "check digit" in field["message"]
    messages = {f["field"]: f["message"] for f in both["errors"][0]["extensions"]["fields"]}
    assert set(messages) == {"siret", "rna"}
    assert "14 digits" in messages["siret"]
    assert "W followed by 9 digits" in messages["rna"]
    assert association_id not in {a["id"] for a in listed}, "nothing saved"
