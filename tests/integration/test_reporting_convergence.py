"""Reporting over the real broker: events about one person arrive on three topics in any order,
possibly twice, and the figures converge to the same values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from contracts.envelope import CloudEvent
from contracts.orientation import OutcomeClass, PlacementKind, PlacementRecordedV1
from contracts.registration import BeneficiaryEnrolledV1, BeneficiaryErasedV1
from contracts.topics import ORIENTATION_EVENTS, REGISTRATION_EVENTS, TRAINING_EVENTS
from contracts.training import (
    AnonymousAttendanceRecordedV1,
    BeneficiaryTrainedV1,
    SessionKind,
    SessionScheduledV1,
)
from tests.integration.conftest import Projection, as_record, enrolment
from tests.support import eventually, produce

pytestmark = pytest.mark.integration
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def trained(beneficiary_id: UUID) -> CloudEvent:
    return BeneficiaryTrainedV1(
        beneficiary_id=beneficiary_id, sessions_present=4, minutes_present=720, trained_at=NOW
    ).to_event("dn/training")


def placed(beneficiary_id: UUID, kind: PlacementKind = PlacementKind.CDI) -> CloudEvent:
    return PlacementRecordedV1(
        beneficiary_id=beneficiary_id,
        placement_id=uuid4(),
        kind=kind,
        outcome_class=OutcomeClass.DURABLE_EMPLOYMENT,
        directed_to_employment=kind is not PlacementKind.OTHER,
        digital_sector=True,
        starts_on=date(2026, 5, 11),
        recorded_at=NOW,
    ).to_event("dn/orientation")


async def send(projection: Projection, topic: str, event: CloudEvent, times: int = 1) -> None:
    value, headers = as_record(event)
    key = (event.subject or "").encode()
    await produce(projection.bootstrap, topic, [(key, value, headers)] * times)


async def test_training_and_placement_before_enrolment_converge_to_the_person_s_district(
    projection: Projection,
) -> None:
    association = f"asso-{uuid4().hex[:8]}"
    person: BeneficiaryEnrolledV1 = enrolment(association, district_id="qpv-benauge")
    scope = f"association:{association}"

    # Training and orientation facts arrive first (and twice), the enrolment last.
    await send(projection, TRAINING_EVENTS, trained(person.beneficiary_id), times=2)
    await send(projection, ORIENTATION_EVENTS, placed(person.beneficiary_id), times=2)
    await eventually(
        lambda: projection.count(
            "association:unknown", "directed_to_employment", "district", "unknown"
        ),
        lambda n: n >= 1,
        what="counted under unknown before the enrolment",
    )
    await send(projection, REGISTRATION_EVENTS, person.to_event("dn/registration"))

    assert await eventually(lambda: projection.count(scope, "enrolled"), lambda n: n == 1) == 1
    assert await projection.count(scope, "trained") == 1
    assert await projection.count(scope, "directed_to_employment") == 1
    assert await projection.count(scope, "trained", "district", "qpv-benauge") == 1
    assert await projection.count(scope, "trained", "district", "unknown") == 0


async def test_a_placement_of_kind_other_is_not_directed_towards_employment(
    projection: Projection,
) -> None:
    association = f"asso-{uuid4().hex[:8]}"
    person = enrolment(association)
    scope = f"association:{association}"
    placement = placed(person.beneficiary_id, PlacementKind.OTHER)
    await send(projection, REGISTRATION_EVENTS, person.to_event("dn/registration"))
    await send(projection, ORIENTATION_EVENTS, placement)
    processed = (await projection.store()).processed

    # Nothing visible changes for OTHER: wait until the consumer has applied it.
    await eventually(
        lambda: processed.count_documents({"_id": str(placement.id)}),
        lambda n: n == 1,
        what="placement applied",
    )
    assert await eventually(lambda: projection.count(scope, "enrolled"), lambda n: n == 1) == 1
    assert await projection.count(scope, "directed_to_employment") == 0


async def test_facts_read_after_an_erasure_still_count_until_the_link_is_forgotten(
    projection: Projection,
) -> None:
    association = f"asso-{uuid4().hex[:8]}"
    person = enrolment(association)
    scope = f"association:{association}"
    erasure = BeneficiaryErasedV1(
        beneficiary_id=person.beneficiary_id, erased_at=NOW, reason="request_of_person"
    )
    await send(projection, REGISTRATION_EVENTS, person.to_event("dn/registration"))
    await send(projection, REGISTRATION_EVENTS, erasure.to_event("dn/registration"))
    await eventually(lambda: tombstone(projection, person.beneficiary_id), bool, what="erasure")

    # The person's completion was on another topic and is read after the erasure: it counts.
    await send(projection, TRAINING_EVENTS, trained(person.beneficiary_id))
    assert await eventually(lambda: projection.count(scope, "trained"), lambda n: n == 1) == 1
    assert await projection.count(scope, "enrolled") == 1

    # Once the link is forgotten, nothing leads from the person to the figures any more.
    store = await projection.store()
    assert await store.forget_erased_links(datetime.now(UTC) + timedelta(days=8)) >= 1
    left = await tombstone(projection, person.beneficiary_id)
    assert left == {"_id": str(person.beneficiary_id), "erased": True}
    late = placed(person.beneficiary_id)
    await send(projection, ORIENTATION_EVENTS, late)
    await eventually(
        lambda: store.processed.count_documents({"_id": str(late.id)}), lambda n: n == 1
    )
    assert await projection.count(scope, "directed_to_employment") == 0
    assert await projection.count(scope, "trained") == 1


async def test_a_headcount_before_its_session_and_redelivered_counts_once_as_last_recorded(
    projection: Projection,
) -> None:
    association = f"asso-{uuid4().hex[:8]}"
    scope = f"association:{association}"
    session_id = f"session-{uuid4().hex[:8]}"
    first, corrected = (
        AnonymousAttendanceRecordedV1(
            session_id=session_id, count=count, recorded_at=NOW + timedelta(minutes=minutes)
        ).to_event("dn/training")
        for count, minutes in ((9, 0), (7, 30))
    )
    schedule = SessionScheduledV1(
        session_id=session_id, association_id=association, district_id="qpv-benauge",
        module_id="mod-premiers-pas", kind=SessionKind.COLLECTIVE,
        place_type="association_premises", starts_at=NOW, duration_minutes=120,
    ).to_event("dn/training")  # fmt: skip
    person = enrolment(association, district_id="qpv-benauge")

    # The correction first, then the count it corrects, each twice; the schedule last.
    await send(projection, TRAINING_EVENTS, corrected, times=2)
    await send(projection, TRAINING_EVENTS, first, times=2)
    processed = (await projection.store()).processed
    await eventually(
        lambda: processed.count_documents({"_id": {"$in": [str(first.id), str(corrected.id)]}}),
        lambda n: n == 2,
        what="both headcounts applied",
    )
    assert await projection.count(scope, "anonymous_attendees") == 0  # kind not known yet
    await send(projection, TRAINING_EVENTS, schedule, times=2)
    await send(projection, REGISTRATION_EVENTS, person.to_event("dn/registration"))

    assert await eventually(lambda: projection.count(scope, "enrolled"), lambda n: n == 1) == 1
    assert await eventually(
        lambda: projection.count(scope, "anonymous_attendees"), lambda n: n > 0
    ) == 7  # fmt: skip
    assert await projection.count(scope, "anonymous_attendees", "district", "qpv-benauge") == 7
    assert await projection.count(scope, "anonymous_attendees", "association", association) == 7
    assert await projection.count("district:qpv-benauge", "anonymous_attendees") >= 7


async def tombstone(projection: Projection, beneficiary_id: UUID) -> dict[str, object] | None:
    store = await projection.store()
    found: dict[str, object] | None = await store.facts.find_one(
        {"_id": str(beneficiary_id), "erased": True}
    )
    return found
