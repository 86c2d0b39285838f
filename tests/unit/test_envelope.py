"""CloudEvents envelope: Kafka round trips in both modes, and what a bad record is rejected for."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.catalogue import decode
from contracts.envelope import STRUCTURED, CloudEvent, EnvelopeError
from contracts.registration import BeneficiaryEnrolledV1

Headers = list[tuple[str, bytes]]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)

# ``data`` is always a JSON object, so its content type is a JSON media type.
json_media_types = st.sampled_from(
    ["application/json", "application/vnd.dn.registration+json", "text/json"]
)

cloud_events = st.builds(
    CloudEvent,
    id=st.uuids(),
    source=st.text(),
    type=st.text(),
    # Fixed offsets: an ambiguous wall-clock time (a DST fold) never compares equal across
    # zones (PEP 495) although it is the same instant.
    time=st.datetimes(
        timezones=st.builds(
            timezone,
            st.timedeltas(min_value=timedelta(hours=-14), max_value=timedelta(hours=14)).map(
                lambda d: timedelta(minutes=d // timedelta(minutes=1))
            ),
        )
    ),
    subject=st.none() | st.text(),
    datacontenttype=json_media_types,
    data=st.dictionaries(st.text(), json_values, max_size=6),
)


def kafka_headers(headers: dict[str, str]) -> Headers:
    """Headers as aiokafka hands them to a consumer."""
    return [(name, value.encode()) for name, value in headers.items()]


def enrolment() -> BeneficiaryEnrolledV1:
    return BeneficiaryEnrolledV1.model_validate(
        {
            "beneficiary_id": "0b5e3a52-7c1d-4d8e-9a51-3f0c2b6d1e77",
            "association_id": "assoc-bastide",
            "district_id": "qpv-benauge",
            "gender": "female",
            "age_band": "26_44",
            "tracks": ["digital_careers"],
            "employment_status": "registered_job_seeker",
            "enrolled_at": "2026-01-31T09:00:00Z",
        }
    )


def binary_record(**overrides: Any) -> tuple[bytes, dict[str, str]]:
    event = enrolment().to_event("/partners/bastide", **overrides)
    return event.to_kafka()


def reason_of(value: bytes | None, headers: Headers) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as caught:
        CloudEvent.from_kafka(value, headers)
    return caught.value


# -- round trips ----------------------------------------------------------------------------


@given(cloud_events)
def test_binary_mode_round_trip_gives_an_equal_event(event: CloudEvent) -> None:
    value, headers = event.to_kafka()

    assert CloudEvent.from_kafka(value, kafka_headers(headers)) == event


@given(cloud_events)
def test_structured_mode_reads_the_same_event(event: CloudEvent) -> None:
    value = json.dumps(event.model_dump(mode="json")).encode()

    read = CloudEvent.from_kafka(value, [("content-type", STRUCTURED.encode())])

    assert read == event


@given(cloud_events)
def test_binary_headers_are_the_ce_attributes_and_the_content_type(event: CloudEvent) -> None:
    _, headers = event.to_kafka()

    assert headers["ce_id"] == str(event.id)
    assert headers["ce_type"] == event.type
    assert headers["content-type"] == event.datacontenttype
    assert headers.get("ce_subject") == event.subject


def test_time_offset_in_seconds_is_normalised_to_utc_so_it_stays_rfc_3339() -> None:
    local_mean_time = timezone(timedelta(minutes=9, seconds=21))  # Paris before 1911
    time = datetime(1900, 1, 1, tzinfo=local_mean_time)

    event = CloudEvent(source="/test", type="t", time=time, data={})

    assert event.time == time
    assert event.to_kafka()[1]["ce_time"] == "1899-12-31T23:50:39+00:00"


def test_structured_mode_content_type_may_carry_parameters() -> None:
    event = enrolment().to_event("/partners/bastide")
    value = json.dumps(event.model_dump(mode="json")).encode()

    read = CloudEvent.from_kafka(
        value, [("Content-Type", b"application/cloudevents+json; charset=utf-8")]
    )

    assert read == event


def test_decoding_a_received_event_gives_the_typed_data() -> None:
    value, headers = binary_record()

    assert decode(CloudEvent.from_kafka(value, kafka_headers(headers))) == enrolment()


# -- rejections -----------------------------------------------------------------------------


def test_record_without_value_is_rejected_as_empty_value() -> None:
    _, headers = binary_record()

    assert reason_of(b"", kafka_headers(headers)).reason == "empty_value"
    assert reason_of(None, kafka_headers(headers)).reason == "empty_value"


def test_value_that_is_not_json_is_rejected_as_invalid_json() -> None:
    _, headers = binary_record()

    assert reason_of(b"beneficiary enrolled", kafka_headers(headers)).reason == "invalid_json"


def test_value_that_is_a_json_array_is_rejected_as_invalid_json() -> None:
    _, headers = binary_record()

    error = reason_of(b'[{"beneficiary_id": "x"}]', kafka_headers(headers))

    assert error.reason == "invalid_json"
    assert "JSON object" in error.detail


def test_binary_record_without_ce_type_is_rejected_as_missing_attribute() -> None:
    value, headers = binary_record()
    del headers["ce_type"]

    error = reason_of(value, kafka_headers(headers))

    assert error.reason == "missing_attribute"
    assert "ce_type" in error.detail


def test_unsupported_specversion_is_rejected_as_invalid_attribute() -> None:
    value, headers = binary_record()
    headers["ce_specversion"] = "0.3"

    error = reason_of(value, kafka_headers(headers))

    assert error.reason == "invalid_attribute"
    assert "specversion" in error.detail


def test_time_without_timezone_is_rejected_as_invalid_attribute() -> None:
    value, headers = binary_record()
    headers["ce_time"] = "2026-01-31T09:00:00"

    error = reason_of(value, kafka_headers(headers))

    assert error.reason == "invalid_attribute"
    assert "time" in error.detail


def test_header_that_is_not_utf_8_is_rejected_as_invalid_header() -> None:
    value, headers = binary_record()

    error = reason_of(value, [*kafka_headers(headers), ("ce_source", b"/partners/\xff")])

    assert error.reason == "invalid_header"


def test_type_outside_the_catalogue_is_rejected_as_unknown_type() -> None:
    value, headers = binary_record()
    headers["ce_type"] = "dn.registration.beneficiary_teleported.v1"
    event = CloudEvent.from_kafka(value, kafka_headers(headers))

    with pytest.raises(EnvelopeError) as caught:
        decode(event)

    assert caught.value.reason == "unknown_type"
    assert "dn.registration.beneficiary_enrolled.v1" in caught.value.detail


def test_data_the_model_refuses_is_rejected_as_invalid_data_naming_the_field() -> None:
    value, headers = binary_record()
    data = json.loads(value) | {"gender": "unknown_gender"}
    event = CloudEvent.from_kafka(json.dumps(data).encode(), kafka_headers(headers))

    with pytest.raises(EnvelopeError) as caught:
        decode(event)

    assert caught.value.reason == "invalid_data"
    assert caught.value.detail.startswith("gender:")


def test_event_id_that_is_not_a_uuid_is_rejected_as_invalid_attribute() -> None:
    value, headers = binary_record()
    headers["ce_id"] = "not-a-uuid"

    error = reason_of(value, kafka_headers(headers))

    assert error.reason == "invalid_attribute"
    assert error.detail.startswith("id:")


@pytest.mark.parametrize(
    "escaped",
    [
        b'{"first_name": "Ana\\ud800"}',  # in a value
        b'{"\\udc80": 1}',  # in a key, which a detail would quote
        b'{"tracks": [{"x": "\\udfff\\ud800"}]}',  # nested, and the halves the wrong way round
        b'{"last_name": "Person\xed\xa0\x80"}',  # its UTF-8-like bytes, which json.loads takes
        b'{"\xed\xbf\xbfkey": 1}',  # the same in a key
    ],
)
def test_json_escaping_half_a_surrogate_pair_is_rejected_as_invalid_json(escaped: bytes) -> None:
    _, headers = binary_record()

    error = reason_of(escaped, kafka_headers(headers))

    assert error.reason == "invalid_json"
    assert "surrogate" in error.detail


def test_structured_event_with_half_a_surrogate_pair_in_an_attribute_is_invalid_json() -> None:
    event = json.loads(enrolment().to_event("/partners/bastide").model_dump_json())
    event["source"] = "/partners/bastide\ud800"

    error = reason_of(json.dumps(event).encode(), [("content-type", STRUCTURED.encode())])

    assert error.reason == "invalid_json"


def test_a_whole_surrogate_pair_is_the_character_it_escapes() -> None:
    value, headers = binary_record()
    data = {**json.loads(value), "first_name": "\ud83d\ude00"}

    event = CloudEvent.from_kafka(json.dumps(data).encode(), kafka_headers(headers))

    assert event.data["first_name"] == "😀"
