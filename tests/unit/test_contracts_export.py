"""The exported JSON Schemas and AsyncAPI document: in sync with the models, and self-consistent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.catalogue import ALL_TYPES, EVENT_TYPES, INTAKE_TYPES
from contracts.export import asyncapi_document, drift, json_schemas, write_all
from contracts.registration import BeneficiaryEnrolledV1
from contracts.topics import ALL_TOPICS, CANONICAL, DEAD_LETTER, INTAKE

ENROLLED = BeneficiaryEnrolledV1.event_type

ENROLMENT: dict[str, Any] = {
    "beneficiary_id": "0b5e3a52-7c1d-4d8e-9a51-3f0c2b6d1e77",
    "association_id": "assoc-bastide",
    "district_id": "qpv-benauge",
    "gender": "female",
    "age_band": "26_44",
    "tracks": ["digital_inclusion", "digital_careers"],
    "employment_status": "registered_job_seeker",
    "qpv_resident": True,
    "shares_with_partners": False,
    "enrolled_at": "2026-01-31T09:00:00Z",
}


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    schema_dir, asyncapi_file = tmp_path / "schemas", tmp_path / "asyncapi.json"
    write_all(schema_dir, asyncapi_file)
    return schema_dir, asyncapi_file


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref}: {key!r} is looked up in a non-object"
        assert key in node, f"{ref} does not resolve: no {key!r}"
        node = node[key]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for child in node.values() for ref in refs(child)]
    if isinstance(node, list):
        return [ref for child in node for ref in refs(child)]
    return []


def channel_at(document: dict[str, Any], topic: str) -> tuple[str, dict[str, Any]]:
    [(channel_id, channel)] = [
        (channel_id, channel)
        for channel_id, channel in document["channels"].items()
        if channel["address"] == topic
    ]
    return channel_id, channel


def pydantic_accepts(payload: dict[str, Any]) -> bool:
    try:
        BeneficiaryEnrolledV1.model_validate(payload)
    except ValidationError:
        return False
    return True


# -- drift ----------------------------------------------------------------------------------


def test_committed_schemas_and_asyncapi_match_the_models() -> None:
    differences = drift()

    if differences:
        pytest.fail("\n".join(differences))


def test_drift_reports_a_schema_edited_by_hand(exported: tuple[Path, Path]) -> None:
    schema_dir, asyncapi_file = exported
    path = schema_dir / f"{ENROLLED}.json"
    schema = json.loads(path.read_text())
    schema["properties"]["gender"] = {"type": "string"}
    path.write_text(json.dumps(schema))

    [difference] = drift(schema_dir, asyncapi_file)

    assert str(path) in difference
    assert "/properties/gender" in difference
    assert "make contracts" in difference


def test_drift_reports_a_stale_schema_and_write_all_removes_it(
    exported: tuple[Path, Path],
) -> None:
    schema_dir, asyncapi_file = exported
    stale = schema_dir / "dn.registration.beneficiary_left.v1.json"
    stale.write_text("{}\n")

    [difference] = drift(schema_dir, asyncapi_file)
    write_all(schema_dir, asyncapi_file)

    assert str(stale) in difference
    assert "stale" in difference
    assert "make contracts" in difference
    assert not stale.exists()
    assert drift(schema_dir, asyncapi_file) == []


def test_drift_reports_a_missing_asyncapi_document(exported: tuple[Path, Path]) -> None:
    schema_dir, asyncapi_file = exported
    asyncapi_file.unlink()

    [difference] = drift(schema_dir, asyncapi_file)

    assert str(asyncapi_file) in difference
    assert "missing" in difference
    assert "make contracts" in difference


def test_write_all_writes_one_schema_per_event_type_and_the_asyncapi_document(
    exported: tuple[Path, Path],
) -> None:
    schema_dir, asyncapi_file = exported

    assert sorted(p.name for p in schema_dir.iterdir()) == sorted(f"{t}.json" for t in ALL_TYPES)
    assert asyncapi_file.read_text().endswith("}\n")


# -- JSON Schemas ---------------------------------------------------------------------------


def test_each_json_schema_is_draft_2020_12_titled_by_its_event_type() -> None:
    for event_type, schema in json_schemas().items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://digital-neighbourhoods.example/schemas/{event_type}.json"
        assert schema["title"] == event_type
        assert schema["description"]


def test_every_ref_in_a_json_schema_resolves_inside_it() -> None:
    for schema in json_schemas().values():
        for ref in refs(schema):
            resolve(schema, ref)


def test_enrolment_schema_and_model_agree_on_sample_payloads() -> None:
    # jsonschema is not installed, so this compares the schema's constraints with what the
    # model accepts, one constraint at a time.
    schema = json_schemas()[ENROLLED]
    gender = resolve(schema, schema["properties"]["gender"]["$ref"])

    assert pydantic_accepts(ENROLMENT)
    assert set(ENROLMENT) == set(schema["properties"])
    for field in schema["required"]:
        assert not pydantic_accepts({k: v for k, v in ENROLMENT.items() if k != field}), field
    assert schema["additionalProperties"] is False
    assert not pydantic_accepts(ENROLMENT | {"first_name": "Awa"})
    assert all(pydantic_accepts(ENROLMENT | {"gender": value}) for value in gender["enum"])
    assert not pydantic_accepts(ENROLMENT | {"gender": "unknown_gender"})
    assert schema["properties"]["tracks"]["minItems"] == 1
    assert not pydantic_accepts(ENROLMENT | {"tracks": []})
    assert schema["properties"]["association_id"]["minLength"] == 1
    assert not pydantic_accepts(ENROLMENT | {"association_id": ""})
    assert schema["properties"]["beneficiary_id"]["format"] == "uuid"
    assert not pydantic_accepts(ENROLMENT | {"beneficiary_id": "awa-diallo"})


# -- AsyncAPI -------------------------------------------------------------------------------


def test_asyncapi_document_is_version_3_with_the_local_broker_as_a_server() -> None:
    document = asyncapi_document()

    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["local"]["host"] == "127.0.0.1:19092"
    assert {server["protocol"] for server in document["servers"].values()} == {"kafka"}


def test_every_ref_in_the_asyncapi_document_resolves_inside_it() -> None:
    document = asyncapi_document()
    found = refs(document)

    for ref in found:
        resolve(document, ref)
    assert "#/components/schemas/Gender" in found


def test_every_topic_has_a_channel() -> None:
    addresses = [channel["address"] for channel in asyncapi_document()["channels"].values()]

    assert sorted(addresses) == sorted(ALL_TOPICS)


def test_every_event_type_has_a_message_on_its_channel_and_requests_on_intake() -> None:
    document = asyncapi_document()
    intake_of = dict(zip(CANONICAL, INTAKE, strict=True))

    for event_type, model in EVENT_TYPES.items():
        name = model.__name__
        message = document["components"]["messages"][name]
        assert message["name"] == event_type
        assert message["headers"]["properties"]["ce_type"]["const"] == event_type
        assert message["payload"] == {"$ref": f"#/components/schemas/{name}"}
        _, channel = channel_at(document, model.topic)
        assert channel["messages"][name] == {"$ref": f"#/components/messages/{name}"}
        _, intake = channel_at(document, intake_of[model.topic])
        assert name not in intake["messages"], "intake carries partner requests, not facts"
    for model in INTAKE_TYPES.values():
        _, channel = channel_at(document, model.topic)
        assert channel["messages"][model.__name__] == {
            "$ref": f"#/components/messages/{model.__name__}"
        }


def test_canonical_topics_are_sent_and_intake_topics_received() -> None:
    document = asyncapi_document()
    actions = {
        resolve(document, operation["channel"]["$ref"])["address"]: operation["action"]
        for operation in document["operations"].values()
    }

    assert all(actions[topic] == "send" for topic in CANONICAL)
    assert all(actions[topic] == "receive" for topic in INTAKE)


def test_operations_carry_every_message_of_their_channel() -> None:
    document = asyncapi_document()

    for operation_id, operation in document["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        channel = resolve(document, channel_ref)
        carried = {resolve(document, m["$ref"])["$ref"] for m in operation["messages"]}
        expected = {m["$ref"] for m in channel["messages"].values()}
        assert carried == expected, operation_id
        assert all(m["$ref"].startswith(channel_ref + "/messages/") for m in operation["messages"])


def test_dead_letter_channel_describes_its_headers() -> None:
    document = asyncapi_document()
    _, channel = channel_at(document, DEAD_LETTER)

    for header in ("dn_error", "dn_error_detail", "dn_source_topic", "dn_failed_at"):
        assert header in channel["description"]
    assert "original" in channel["description"]
