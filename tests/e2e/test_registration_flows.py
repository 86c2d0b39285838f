"""A record's life through GraphQL: rectify, withdraw, consent, duplicates, merge, erasure,
audit, access by role, reference data and retention."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from dn.platform import Platform
from kit.auth import Role, issue_token
from kit.settings import Settings
from tests.e2e.conftest import enrolled, enrolment, graphql, settled_enrolled, until
from tests.support import graphql_data as data

pytestmark = pytest.mark.e2e

RECORD = "id firstName lastName phone birthYear ageBand tracks status consent { contactForSurveys }"
ENROL = f"""
mutation Enrol($input: EnrolBeneficiaryInput!) {{
  enrolBeneficiary(input: $input) {{ {RECORD} }} }}"""
READ = f"query Read($id: ID!) {{ beneficiary(id: $id) {{ {RECORD} }} }}"
RECTIFY = f"""
mutation Rectify($id: ID!, $input: RectifyBeneficiaryInput!) {{
  rectifyBeneficiary(id: $id, input: $input) {{ {RECORD} }} }}"""
WITHDRAW = f"mutation W($id: ID!) {{ withdrawBeneficiary(id: $id) {{ {RECORD} }} }}"
CONSENT = f"""
mutation Consent($id: ID!, $purpose: ConsentPurpose!, $given: Boolean!) {{
  setConsent(id: $id, purpose: $purpose, given: $given) {{ {RECORD} }} }}"""
MERGE = f"""
mutation Merge($kept: ID!, $duplicate: ID!) {{
  mergeBeneficiaries(keptId: $kept, duplicateId: $duplicate) {{ {RECORD} }} }}"""
ERASE = """
mutation Erase($id: ID!) {
  eraseBeneficiary(id: $id) { id beneficiaryId erasedAt reason requestedBy erased } }"""
RECEIPT = """
query Receipt($id: ID!) {
  erasureReceipt(beneficiaryId: $id) { id beneficiaryId reason erased } }"""
EXPORT = "query Export($id: ID!) { beneficiaryExport(id: $id) }"
AUDIT = """
query Audit($id: ID) {
  auditLog(beneficiaryId: $id) { at actor role action beneficiaryId route } }"""
SAVE_DISTRICT = """
mutation SaveDistrict($id: ID!, $input: DistrictInput!) {
  saveDistrict(id: $id, input: $input) { id name commune qpvCode inseeCode } }"""
SAVE_ASSOCIATION = """
mutation SaveAssociation($id: ID!, $input: AssociationInput!) {
  saveAssociation(id: $id, input: $input) { id name districts { id } } }"""
REFERENCE = "{ districts { id name } associations { id name districts { id } } }"
RETENTION = """
mutation Retention($dryRun: Boolean!) {
  runRetention(dryRun: $dryRun) { dryRun olderThanDays beneficiaryIds } }"""


@pytest.fixture(scope="module")
def as_role(platform: Platform, settings: Settings) -> Iterator[Any]:
    """A GraphQL client for another role: ``as_role(Role.ASSOCIATION, "asso-…")``."""
    clients: list[httpx.Client] = []

    def client(role: Role, association_id: str | None = None) -> httpx.Client:
        token = issue_token(settings, role, association_id=association_id)
        opened = httpx.Client(
            base_url=platform.settings.gateway_url, headers={"authorization": f"Bearer {token}"}
        )
        clients.append(opened)
        return opened

    yield client
    for opened in clients:
        opened.close()


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body.get("errors"), body
    first: dict[str, Any] = body["errors"][0]
    return first


def enrol(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    person: dict[str, Any] = data(graphql(client, ENROL, input=enrolment(**overrides)))
    return dict(person["enrolBeneficiary"])


def read(client: httpx.Client, beneficiary_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = data(graphql(client, READ, id=beneficiary_id))["beneficiary"]
    return found


def export(client: httpx.Client, beneficiary_id: str) -> dict[str, Any]:
    document: dict[str, Any] = data(graphql(client, EXPORT, id=beneficiary_id))["beneficiaryExport"]
    return document


def subject_of(token: str) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims["sub"])


def test_rectification_changes_only_the_fields_sent(gateway: httpx.Client) -> None:
    person = enrol(gateway, birthYear=1990)
    assert person["ageBand"] == "FROM_26_TO_44"
    twenty_years_ago = dt.date.today().year - 20
    new_last_name = f"Rectifiée-{uuid4().hex[:10]}"

    changed = data(
        graphql(
            gateway,
            RECTIFY,
            id=person["id"],
            input={"lastName": new_last_name, "birthYear": twenty_years_ago},
        )
    )["rectifyBeneficiary"]

    assert changed["lastName"] == new_last_name
    assert changed["birthYear"] == twenty_years_ago
    assert changed["ageBand"] == "FROM_18_TO_25", "the age band follows the birth year"
    assert changed["firstName"] == person["firstName"], "fields not sent stay as they were"
    assert changed["phone"] == person["phone"]
    assert read(gateway, person["id"]) == changed


def test_rectification_clears_a_contact_field_but_not_a_name(gateway: httpx.Client) -> None:
    person = enrol(gateway)

    cleared = data(graphql(gateway, RECTIFY, id=person["id"], input={"phone": None}))
    refused = error(graphql(gateway, RECTIFY, id=person["id"], input={"firstName": None}))

    assert cleared["rectifyBeneficiary"]["phone"] is None
    assert cleared["rectifyBeneficiary"]["lastName"] == person["lastName"]
    assert refused["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in refused["extensions"]["fields"]] == ["firstName"]


def test_withdrawn_record_cannot_be_rectified(gateway: httpx.Client) -> None:
    person = enrol(gateway)

    withdrawn = data(graphql(gateway, WITHDRAW, id=person["id"]))["withdrawBeneficiary"]
    refused = error(graphql(gateway, RECTIFY, id=person["id"], input={"lastName": "Autre"}))

    assert withdrawn["status"] == "withdrawn"
    assert refused["extensions"]["code"] in ("CONFLICT", "BAD_USER_INPUT")
    assert "withdrawn" in refused["message"], "says why the change is refused"
    unchanged = read(gateway, person["id"])
    assert unchanged is not None
    assert unchanged["lastName"] == person["lastName"]


def test_consent_toggles_and_the_export_keeps_its_history(gateway: httpx.Client) -> None:
    person = enrol(gateway)
    assert person["consent"]["contactForSurveys"] is False

    given = data(
        graphql(gateway, CONSENT, id=person["id"], purpose="CONTACT_FOR_SURVEYS", given=True)
    )["setConsent"]
    withdrawn = data(
        graphql(gateway, CONSENT, id=person["id"], purpose="CONTACT_FOR_SURVEYS", given=False)
    )["setConsent"]

    assert given["consent"]["contactForSurveys"] is True
    assert withdrawn["consent"]["contactForSurveys"] is False
    document = export(gateway, person["id"])
    history = [
        entry
        for entry in document["services"]["registration"]["consent_history"]
        if entry["purpose"] == "contact_for_surveys"
    ]
    assert [entry["given"] for entry in history[-2:]] == [True, False]
    times = [dt.datetime.fromisoformat(entry["at"]) for entry in history[-2:]]
    assert times[0] <= times[1]


def test_export_gathers_every_service_for_coordinators_only(
    gateway: httpx.Client, as_role: Any
) -> None:
    person = enrol(gateway)

    # Training, orientation and reporting learn of the person through Kafka: wait for all.
    document = until(
        lambda: export(gateway, person["id"]),
        lambda d: all(
            d["services"][name]["records"] for name in ("training", "orientation", "reporting")
        ),
    )
    refused = error(
        graphql(as_role(Role.ASSOCIATION, "asso-saige-en-ligne"), EXPORT, id=person["id"])
    )

    assert document["beneficiaryId"] == person["id"]
    assert dt.datetime.fromisoformat(document["exportedAt"]).tzinfo is not None
    assert set(document["services"]) == {"registration", "training", "orientation", "reporting"}
    assert document["services"]["registration"]["record"]["first_name"] == person["firstName"]
    for name in ("training", "orientation", "reporting"):
        section = document["services"][name]
        assert section["service"] == name
        assert person["id"] in json.dumps(section), f"{name} shows what it holds on the person"
        text = json.dumps(section)
        assert person["firstName"] not in text, f"{name} holds no personal data"
        assert person["phone"] not in text
    facts = document["services"]["reporting"]["records"]
    assert [f["beneficiary_id"] for f in facts] == [person["id"]]
    assert refused["extensions"]["code"] == "FORBIDDEN"


def test_duplicate_enrolment_names_the_existing_record(gateway: httpx.Client) -> None:
    person = enrolment()
    first = data(graphql(gateway, ENROL, input=person))["enrolBeneficiary"]

    refused = error(graphql(gateway, ENROL, input=person))

    assert refused["extensions"]["code"] == "CONFLICT"
    assert refused["extensions"]["existingId"] == first["id"]


def test_merge_folds_tracks_and_the_duplicate_disappears(gateway: httpx.Client) -> None:
    kept = enrol(gateway, tracks=["DIGITAL_CAREERS"])
    duplicate = enrol(gateway, tracks=["DIGITAL_INCLUSION"])

    merged = data(graphql(gateway, MERGE, kept=kept["id"], duplicate=duplicate["id"]))[
        "mergeBeneficiaries"
    ]

    assert merged["id"] == kept["id"]
    assert set(merged["tracks"]) == {"DIGITAL_CAREERS", "DIGITAL_INCLUSION"}
    assert read(gateway, duplicate["id"]) is None
    still = read(gateway, kept["id"])
    assert still is not None
    assert set(still["tracks"]) == {"DIGITAL_CAREERS", "DIGITAL_INCLUSION"}


def test_erasure_gives_a_receipt_and_forgets_the_person_but_not_the_figures(
    gateway: httpx.Client, coordinator_token: str
) -> None:
    person = enrol(gateway)
    until(
        lambda: export(gateway, person["id"]),
        lambda d: bool(d["services"]["reporting"]["records"]),
    )
    before = settled_enrolled(gateway)

    receipt = data(graphql(gateway, ERASE, id=person["id"]))["eraseBeneficiary"]
    erased_at = time.monotonic()

    assert receipt["beneficiaryId"] == person["id"]
    assert receipt["reason"] == "REQUEST_OF_PERSON"
    assert receipt["requestedBy"] == subject_of(coordinator_token)
    assert receipt["erased"], "the receipt lists what was destroyed"
    assert person["firstName"] not in json.dumps(receipt)
    assert read(gateway, person["id"]) is None
    found = data(graphql(gateway, RECEIPT, id=person["id"]))["erasureReceipt"]
    assert found["id"] == receipt["id"]
    assert found["beneficiaryId"] == person["id"]
    # The erased event reaches reporting within ~0.1 s; two seconds leave it every chance.
    time.sleep(max(0.0, 2.0 - (time.monotonic() - erased_at)))
    assert enrolled(gateway) == before, "erasure forgets the person, not that they took part"


def test_audit_log_names_the_actor_and_actions_without_personal_data(
    gateway: httpx.Client, coordinator_token: str
) -> None:
    person = enrol(gateway)
    read(gateway, person["id"])
    data(graphql(gateway, RECTIFY, id=person["id"], input={"employmentStatus": "EMPLOYED"}))

    entries = data(graphql(gateway, AUDIT, id=person["id"]))["auditLog"]

    actions = {entry["action"] for entry in entries}
    assert {"enrol", "read", "rectify"} <= actions
    assert {entry["actor"] for entry in entries} == {subject_of(coordinator_token)}
    assert {entry["beneficiaryId"] for entry in entries} == {person["id"]}
    text = json.dumps(entries)
    for personal in (person["firstName"], person["lastName"], person["phone"]):
        assert personal not in text


def test_association_cannot_see_or_erase_another_associations_beneficiary(
    gateway: httpx.Client, as_role: Any
) -> None:
    person = enrol(gateway, associationId="asso-saige-en-ligne", districtId="qpv-saige")
    other = as_role(Role.ASSOCIATION, "asso-lac-connecte")
    own = as_role(Role.ASSOCIATION, "asso-saige-en-ligne")

    seen_by_other = read(other, person["id"])
    erase_by_other = error(graphql(other, ERASE, id=person["id"]))

    assert seen_by_other is None
    code = erase_by_other["extensions"]["code"]
    assert code == "FORBIDDEN" or (
        code == "BAD_USER_INPUT" and "no beneficiary" in erase_by_other["message"]
    )
    assert read(own, person["id"]) is not None, "its own association still sees the record"
    assert read(gateway, person["id"]) is not None, "and it was not erased"


def test_funder_cannot_read_a_beneficiary(gateway: httpx.Client, as_role: Any) -> None:
    person = enrol(gateway)

    refused = error(graphql(as_role(Role.FUNDER), READ, id=person["id"]))

    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert person["firstName"] not in json.dumps(refused)


def test_reference_data_is_edited_by_coordinators_only(gateway: httpx.Client, as_role: Any) -> None:
    marker = uuid4().hex[:6]
    district_id, association_id = f"qpv-test-{marker}", f"asso-test-{marker}"
    district = {"name": f"Quartier {marker}", "commune": "Bordeaux", "inseeCode": "33063",
                "qpvCode": f"QN{marker.upper()}"}  # fmt: skip
    association = {"name": f"Association {marker}", "districts": [district_id]}

    saved_district = data(graphql(gateway, SAVE_DISTRICT, id=district_id, input=district))
    saved_association = data(
        graphql(gateway, SAVE_ASSOCIATION, id=association_id, input=association)
    )
    reference = data(graphql(gateway, REFERENCE))
    staff = as_role(Role.ASSOCIATION, "asso-saige-en-ligne")
    district_by_staff = error(graphql(staff, SAVE_DISTRICT, id=district_id, input=district))
    association_by_staff = error(
        graphql(staff, SAVE_ASSOCIATION, id=association_id, input=association)
    )

    assert saved_district["saveDistrict"]["qpvCode"] == district["qpvCode"]
    assert saved_association["saveAssociation"]["districts"] == [{"id": district_id}]
    assert {"id": district_id, "name": district["name"]} in reference["districts"]
    listed = next(a for a in reference["associations"] if a["id"] == association_id)
    assert listed["districts"] == [{"id": district_id}]
    assert district_by_staff["extensions"]["code"] == "FORBIDDEN"
    assert association_by_staff["extensions"]["code"] == "FORBIDDEN"


def test_retention_dry_run_lists_nobody_recently_enrolled(gateway: httpx.Client) -> None:
    person = enrol(gateway)

    run = data(graphql(gateway, RETENTION, dryRun=True))["runRetention"]

    assert run["dryRun"] is True
    assert run["olderThanDays"] == 730
    assert person["id"] not in run["beneficiaryIds"]
    assert read(gateway, person["id"]) is not None
