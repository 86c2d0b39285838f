"""Cursors, keyset positions, per-request loaders and the event catalogue, without I/O."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest

from contracts.api import Edge, Page
from contracts.api.registration import BeneficiaryView, ConsentView
from contracts.api.training import AttendanceView, CompletionRuleView, ProgressView
from contracts.dimensions import AgeBand, EmploymentStatus, Gender, Track
from contracts.errors import InvalidInput
from contracts.training import AttendanceStatus
from gateway.call_count import count_call, counting
from gateway.event_docs import ASYNCAPI, SCHEMAS, catalogue, index_page
from gateway.loaders import Loaders
from gateway.pagination import connection_of, decode_cursor, encode_cursor
from gateway.services import UserInputError, validated
from kit.paging import Position, parse_position


def test_a_cursor_gives_back_the_position_it_was_made_from() -> None:
    position = Position(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), "b-1").text()

    cursor = encode_cursor("beneficiaries", position)

    assert "=" not in cursor
    assert "/" not in cursor
    assert "+" not in cursor
    assert decode_cursor("beneficiaries", cursor) == position
    assert parse_position(decode_cursor("beneficiaries", cursor)) == Position(
        dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), "b-1"
    )


@pytest.mark.parametrize("cursor", ["", "%%%", "bm90LWEtY3Vyc29y", encode_cursor("sessions", "x")])
def test_a_cursor_not_made_by_this_list_is_refused_on_after(cursor: str) -> None:
    with pytest.raises(UserInputError) as refused:
        decode_cursor("beneficiaries", cursor)
    assert refused.value.extensions is not None
    assert [f["field"] for f in refused.value.extensions["fields"]] == ["after"]


@pytest.mark.parametrize("text", ["nope", "[1, 2]", '["2026-03-01T09:00:00", "id"]', '["x"]'])
def test_a_position_a_service_did_not_give_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_position(text)
    assert [error.field for error in refused.value.errors] == ["after"]


def test_a_page_answer_becomes_a_connection_ending_on_its_last_cursor() -> None:
    answer = Page[BeneficiaryView](
        total=3,
        has_next=True,
        edges=[
            Edge[BeneficiaryView](position="p1", node=person_of("a")),
            Edge[BeneficiaryView](position="p2", node=person_of("b")),
        ],
    )

    page = connection_of("beneficiaries", answer, lambda person: person.id)

    assert [edge.node for edge in page.edges] == ["a", "b"]
    assert page.total_count == 3
    assert page.page_info.has_next_page is True
    assert page.page_info.end_cursor == encode_cursor("beneficiaries", "p2")
    empty = answer.model_copy(update={"edges": []})
    assert connection_of("beneficiaries", empty, str).page_info.end_cursor is None


WHEN = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


def progress_of(beneficiary_id: str) -> ProgressView:
    rule = CompletionRuleView(min_sessions=4, min_minutes=720, require_final_assessment=False)
    return ProgressView(
        beneficiary_id=beneficiary_id,
        association_id="asso-a",
        status="active",
        sessions_present=0,
        minutes_present=0,
        excused_absences=0,
        unexcused_absences=0,
        trained=False,
        trained_at=None,
        at_risk=False,
        rule=rule,
        assessments=[],
    )


def person_of(beneficiary_id: str) -> BeneficiaryView:
    return BeneficiaryView(
        id=beneficiary_id,
        first_name="Awa",
        last_name="Diallo",
        phone=None,
        email=None,
        street=None,
        postcode=None,
        insee_code=None,
        birth_year=1990,
        association_id="asso-a",
        district_id="qpv-a",
        gender=Gender.FEMALE,
        age_band=AgeBand.FROM_26_TO_44,
        tracks=[Track.DIGITAL_INCLUSION],
        employment_status=EmploymentStatus.UNKNOWN,
        qpv_resident=True,
        consent=ConsentView(
            programme_follow_up=True, share_with_partners=False, contact_for_surveys=False
        ),
        enrolled_at=WHEN,
        last_contact_at=WHEN,
        status="active",
    )


def roll_call_of(session_id: str) -> list[AttendanceView]:
    record = AttendanceView(
        id=f"{session_id}-1",
        session_id=session_id,
        beneficiary_id="b-1",
        status=AttendanceStatus.PRESENT,
        minutes=120,
        module_id="mod-a",
        association_id="asso-a",
        session_starts_at=WHEN,
        recorded_at=WHEN,
    )
    return [record]


class FakeServices:
    """Answers the batch routes from memory and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    async def call(self, service: str, method: str, path: str, **options: Any) -> Any:
        count_call()
        body = options["json"]
        self.calls.append((service, path, body))
        if path == "/beneficiaries/batch":
            return {"beneficiaries": {i: person_of(i) for i in body["ids"] if i != "erased"}}
        if path == "/sessions/roll-calls":
            return {"roll_calls": {i: roll_call_of(i) for i in body["session_ids"]}}
        return {"progress": {i: progress_of(i) for i in body["beneficiary_ids"]}}

    async def answer(self, shape: Any, service: str, method: str, path: str, **options: Any) -> Any:
        return validated(shape, await self.call(service, method, path, **options), service, path)


class FakeContext:
    def __init__(self) -> None:
        self.services = FakeServices()
        self.authorization = "Bearer t"


def test_loads_from_many_resolvers_are_one_call_per_loader() -> None:
    context = FakeContext()

    async def resolve_page() -> tuple[list[Any], list[Any], list[Any]]:
        loaders = Loaders(context)  # type: ignore[arg-type]
        ids = [f"b-{n}" for n in range(50)] + ["erased", "b-1"]
        people = await asyncio.gather(*(loaders.beneficiary.load(i) for i in ids))
        progress = await asyncio.gather(*(loaders.progress.load(i) for i in ids))
        rolls = await asyncio.gather(*(loaders.roll_call.load(f"s-{n}") for n in range(20)))
        return people, progress, rolls

    with counting() as calls:
        people, progress, rolls = asyncio.run(resolve_page())

    assert calls[0] == 3
    assert [path for _, path, _ in context.services.calls] == [
        "/beneficiaries/batch",
        "/beneficiaries/progress",
        "/sessions/roll-calls",
    ]
    assert len(context.services.calls[0][2]["ids"]) == 51  # each id asked once
    assert people[50] is None
    assert people[51] == person_of("b-1")
    assert progress[0] == progress_of("b-0")
    assert rolls[3] == roll_call_of("s-3")


def test_loaders_are_not_shared_between_requests() -> None:
    first, second = FakeContext(), FakeContext()

    async def load_twice() -> None:
        await Loaders(first).beneficiary.load("b-1")  # type: ignore[arg-type]
        await Loaders(second).beneficiary.load("b-1")  # type: ignore[arg-type]

    asyncio.run(load_twice())

    assert len(first.services.calls) == len(second.services.calls) == 1


def test_calls_outside_a_counted_request_are_not_counted() -> None:
    count_call()
    with counting() as calls:
        count_call()
        count_call()
    count_call()
    assert calls == [2]


def test_the_event_catalogue_lists_every_schema_with_its_topic() -> None:
    document = json.loads(ASYNCAPI.read_text(encoding="utf-8"))
    events = catalogue(document)
    page = index_page(document, events)
    schema_types = {path.name.removesuffix(".json") for path in SCHEMAS.iterdir()}

    assert schema_types <= {event.type for event in events if event.has_schema}
    enrolled = next(e for e in events if e.type == "dn.registration.beneficiary_enrolled.v1")
    assert (enrolled.topic, enrolled.direction) == ("dn.registration.events", "publishes")
    requested = next(e for e in events if e.type == "dn.intake.registration.enrolment_requested.v1")
    assert (requested.topic, requested.direction) == ("dn.intake.registration", "receives")
    assert all(f"/docs/events/schemas/{t}.json" in page for t in schema_types)
