"""An association's SIRET (Luhn key; La Poste's rule) and RNA number, checked when it is saved.

Every number here is generated: no real association's identifier is written in the repo."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import InvalidInput
from services.registration import domain

REFERENCE = domain.ReferenceData(
    districts={"qpv-saige": domain.District("qpv-saige", "Saige", "Pessac", "33318", "QN03304M")},
    associations={},
)
NUMBERS = random.Random(2026)  # reproducible, and no number is written down


def some_digits(count: int) -> str:
    return "".join(NUMBERS.choice("0123456789") for _ in range(count))


def generated_siret() -> str:
    """A valid SIRET outside La Poste's SIREN."""
    while (number := siret(some_digits(8), some_digits(4))).startswith(domain.SIREN_LA_POSTE):
        pass
    return number


def luhn_key(body: str) -> str:
    """The digit that makes ``body`` + digit pass the Luhn check."""
    return next(key for key in "0123456789" if domain.luhn_valid(body + key))


def siret(siren_body: str, nic_body: str) -> str:
    """A valid SIRET from 8 digits of SIREN and 4 of establishment number (NIC)."""
    siren = siren_body + luhn_key(siren_body)
    return siren + nic_body + luhn_key(siren + nic_body)


def la_poste_nic(digit_sum_remainder: int) -> str:
    """A La Poste establishment number whose SIRET digits add up to 5k + remainder and that
    does not pass the Luhn check (so only La Poste's rule can accept it)."""
    for number in range(100_000):
        nic = f"{number:05d}"
        candidate = domain.SIREN_LA_POSTE + nic
        total = sum(int(d) for d in candidate)
        if total % 5 == digit_sum_remainder and not domain.luhn_valid(candidate):
            return nic
    raise AssertionError("no such number")


def refused_fields(**identifiers: str) -> dict[str, str]:
    with pytest.raises(InvalidInput) as refused:
        domain.association("asso-x", "Asso X", ("qpv-saige",), REFERENCE, **identifiers)
    return {error.field: error.message for error in refused.value.errors}


@given(st.from_regex(r"[0-9]{8}", fullmatch=True), st.from_regex(r"[0-9]{4}", fullmatch=True))
def test_a_siret_with_valid_siren_and_siret_keys_is_accepted(siren_body: str, nic: str) -> None:
    number = siret(siren_body, nic)
    if number.startswith(domain.SIREN_LA_POSTE):
        return  # La Poste's numbers follow their own rule (below)
    assert domain.siret_problem(number) is None


@given(
    st.from_regex(r"[0-9]{8}", fullmatch=True),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
    st.integers(0, 13),
    st.integers(1, 9),
)
def test_any_single_mistyped_digit_is_refused(
    siren_body: str, nic: str, position: int, shift: int
) -> None:
    number = siret(siren_body, nic)
    if number.startswith(domain.SIREN_LA_POSTE):
        return
    wrong = str((int(number[position]) + shift) % 10)
    mistyped = number[:position] + wrong + number[position + 1 :]
    if mistyped.startswith(domain.SIREN_LA_POSTE):
        return
    assert domain.siret_problem(mistyped) is not None


def test_a_siret_is_saved_without_the_spaces_people_type() -> None:
    number = generated_siret()
    spaced = f"{number[:3]} {number[3:6]} {number[6:9]} {number[9:]}"

    saved = domain.association("asso-x", "Asso X", ("qpv-saige",), REFERENCE, siret=spaced)

    assert saved.siret == number


def test_a_wrong_length_or_letters_name_the_siret_and_what_is_accepted() -> None:
    assert "14 digits" in refused_fields(siret="1234567890123")["siret"]
    assert "14 digits" in refused_fields(siret="1234567890123A")["siret"]


def test_a_wrong_siren_key_and_a_wrong_siret_key_are_told_apart() -> None:
    good = generated_siret()
    bad_siren = good[:8] + str((int(good[8]) + 1) % 10) + good[9:]
    bad_siret = good[:13] + str((int(good[13]) + 1) % 10)

    assert "SIREN (first 9 digits)" in refused_fields(siret=bad_siren)["siret"]
    assert "Luhn" in refused_fields(siret=bad_siret)["siret"]


def test_la_poste_sirets_follow_the_sum_of_digits_rule() -> None:
    accepted = domain.SIREN_LA_POSTE + la_poste_nic(0)
    refused = domain.SIREN_LA_POSTE + la_poste_nic(2)

    assert not domain.luhn_valid(accepted), "the Luhn check alone would refuse it"
    assert domain.siret_problem(accepted) is None
    assert "La Poste" in refused_fields(siret=refused)["siret"]
    assert "multiple of 5" in refused_fields(siret=refused)["siret"]


@given(st.from_regex(r"[0-9]{9}", fullmatch=True))
def test_an_rna_number_is_w_and_nine_digits(number: str) -> None:
    assert domain.rna_problem("W" + number) is None


def test_an_rna_number_is_saved_in_capitals_and_corsica_is_accepted() -> None:
    number, corsican = some_digits(9), f"W2B{some_digits(7)}"
    lower = domain.association("asso-x", "Asso X", ("qpv-saige",), REFERENCE, rna=f" w{number}")
    corsica = domain.association("asso-x", "Asso X", ("qpv-saige",), REFERENCE, rna=corsican)

    assert (lower.rna, corsica.rna) == (f"W{number}", corsican)


@pytest.mark.parametrize(
    "rna", ["W12345678", "W1234567890", "123456789", "X123456789", "W12A456789"]
)
def test_a_malformed_rna_number_names_the_field_and_the_format(rna: str) -> None:
    assert "W followed by 9 digits" in refused_fields(rna=rna)["rna"]


def test_every_wrong_field_is_named_at_once() -> None:
    fields = refused_fields(siret="123", rna="W1")

    with pytest.raises(InvalidInput) as refused:
        domain.association("asso-x", "Asso X", ("qpv-nowhere",), REFERENCE, siret="123", rna="W1")

    assert set(fields) == {"siret", "rna"}
    assert {error.field for error in refused.value.errors} == {"districts", "siret", "rna"}


def test_blank_identifiers_are_no_identifiers() -> None:
    saved = domain.association("asso-x", "Asso X", ("qpv-saige",), REFERENCE, siret=" ", rna="")

    assert (saved.siret, saved.rna) == (None, None)
