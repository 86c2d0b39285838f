"""A clean stop's drain and the start's re-seed wait, from made-up /log answers and offsets
(dn.drain, dn.reseed, kit.event_logs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dn.drain import Backlog, DrainOutcome, Subscription, events_backlog, partner_backlog
from dn.reseed import reseed_state
from kit.event_logs import EventLogReport

REGISTRATION_LOG = "reg-log"
TRAINING_LOG = "train-log"
INTAKE = (
    Subscription("dn-registration-intake", ("dn.intake.registration",)),
    Subscription("dn-training-intake", ("dn.intake.training",)),
)
CANONICAL = (
    Subscription("dn-training-beneficiaries", ("dn.registration.events",)),
    Subscription("dn-reporting-projection", ("dn.registration.events", "dn.training.events")),
)


def log_answer(
    service: str,
    log_id: str,
    topic: str | None,
    heads: dict[int, int],
    *,
    unsent: int = 0,
    subscribers: Sequence[tuple[str, str, int, str, int]] = (),
    reseed: dict[str, Any] | None = None,
    events: int | None = None,
) -> EventLogReport:
    """A service's GET /log as the JSON it sends (partition numbers are strings there)."""
    return EventLogReport.model_validate(
        {
            "service": service,
            "log_id": log_id,
            "topic": topic,
            "events": sum(heads.values()) + unsent if events is None else events,
            "unsent": unsent,
            "partitions": {str(p): n for p, n in heads.items()},
            "reseed": reseed or {"events": 0, "seconds": 0.0, "pending": 0, "running": False},
            "subscribers": [
                {"group": g, "topic": t, "partition": p, "log_id": i, "position": n, "offset": 9}
                for g, t, p, i, n in subscribers
            ],
        }
    )


def registration(heads: dict[int, int], **overrides: Any) -> EventLogReport:
    return log_answer(
        "registration", REGISTRATION_LOG, "dn.registration.events", heads, **overrides
    )


def training(subscribers: list[tuple[str, str, int, str, int]], **overrides: Any) -> EventLogReport:
    return log_answer(
        "training", TRAINING_LOG, "dn.training.events", {}, subscribers=subscribers, **overrides
    )


def reporting(subscribers: list[tuple[str, str, int, str, int]]) -> EventLogReport:
    return log_answer("reporting", "rep-log", None, {}, subscribers=subscribers)


# -- partner records ---------------------------------------------------------------------------


def test_partner_records_behind_are_the_ends_less_what_each_intake_group_committed() -> None:
    ends = {
        ("dn.intake.registration", 0): 10,
        ("dn.intake.registration", 1): 4,
        ("dn.intake.training", 0): 7,
    }
    committed = {
        "dn-registration-intake": {("dn.intake.registration", 0): 8},
        "dn-training-intake": {("dn.intake.training", 0): 7},
    }
    # partition 1 was never committed: the group reads it from the start
    assert partner_backlog(INTAKE, ends, committed) == 2 + 4


def test_intake_read_to_its_end_leaves_no_partner_record() -> None:
    ends = {("dn.intake.registration", 0): 3, ("dn.intake.training", 2): 0}
    committed = {"dn-registration-intake": {("dn.intake.registration", 0): 3}}
    assert partner_backlog(INTAKE, ends, committed) == 0


def test_a_group_counts_only_its_own_topics() -> None:
    ends = {("dn.intake.training", 0): 5}
    committed = {"dn-registration-intake": {("dn.intake.training", 0): 5}}
    assert partner_backlog(INTAKE, ends, committed) == 5


# -- canonical events --------------------------------------------------------------------------


def test_subscribers_at_every_head_leave_no_event() -> None:
    logs = [
        registration({0: 5, 3: 2}),
        training([("dn-training-beneficiaries", "dn.registration.events", 0, REGISTRATION_LOG, 5),
                  ("dn-training-beneficiaries", "dn.registration.events", 3, REGISTRATION_LOG, 2)]),
        reporting([("dn-reporting-projection", "dn.registration.events", 0, REGISTRATION_LOG, 5),
                   ("dn-reporting-projection", "dn.registration.events", 3, REGISTRATION_LOG, 2)]),
    ]  # fmt: skip
    assert events_backlog(logs, CANONICAL, {}, {}) == 0


def test_events_behind_are_the_heads_less_each_subscribers_position() -> None:
    logs = [
        registration({0: 5, 3: 2}),
        training([("dn-training-beneficiaries", "dn.registration.events", 0, REGISTRATION_LOG, 3)]),
        reporting([("dn-reporting-projection", "dn.registration.events", 0, REGISTRATION_LOG, 5),
                   ("dn-reporting-projection", "dn.registration.events", 3, REGISTRATION_LOG, 1)]),
    ]  # fmt: skip
    # training: 2 in partition 0, 2 in partition 3 (no position saved there); reporting: 1
    assert events_backlog(logs, CANONICAL, {}, {}) == 2 + 2 + 1


def test_unsent_records_are_events_still_to_apply() -> None:
    logs = [registration({}, unsent=4), training([]), reporting([])]
    assert events_backlog(logs, CANONICAL, {}, {}) == 4


def test_a_position_in_an_older_log_counts_as_none() -> None:
    logs = [
        registration({0: 3}),
        training([("dn-training-beneficiaries", "dn.registration.events", 0, "old-log", 9)]),
        reporting([("dn-reporting-projection", "dn.registration.events", 0, REGISTRATION_LOG, 3)]),
    ]
    assert events_backlog(logs, CANONICAL, {}, {}) == 3


def test_a_subscriber_that_read_to_the_brokers_end_is_there_though_its_position_lags() -> None:
    # Positions are saved at most once a second: the last ones may not be saved yet.
    logs = [
        registration({0: 5}),
        training([("dn-training-beneficiaries", "dn.registration.events", 0, REGISTRATION_LOG, 4)]),
        reporting([("dn-reporting-projection", "dn.registration.events", 0, REGISTRATION_LOG, 2)]),
    ]
    ends = {("dn.registration.events", 0): 5}
    committed = {
        "dn-training-beneficiaries": {("dn.registration.events", 0): 5},
        "dn-reporting-projection": {("dn.registration.events", 0): 4},
    }
    assert events_backlog(logs, CANONICAL, ends, committed) == 3  # reporting only


def test_an_empty_partition_on_the_broker_does_not_stand_for_read_to_the_end() -> None:
    # The broker restarted empty and the relay has not re-published yet.
    logs = [
        registration({0: 5}),
        training([]),
        reporting([("dn-reporting-projection", "dn.registration.events", 0, REGISTRATION_LOG, 5)]),
    ]
    ends = {("dn.registration.events", 0): 0}
    committed = {"dn-training-beneficiaries": {("dn.registration.events", 0): 0}}
    assert events_backlog(logs, CANONICAL, ends, committed) == 5


def test_drain_lines_say_what_is_left_and_how_it_ended() -> None:
    backlog = Backlog(partner_records=1200, events=40)
    assert backlog.line() == "draining: 1,200 partner records and 40 events still to apply…"
    assert not backlog.empty
    assert Backlog(0, 0).empty
    assert DrainOutcome(Backlog(0, 0), 1.24, "drained").line() == (
        "drained in 1.2 s: every accepted record applied"
    )
    timed_out = DrainOutcome(backlog, 30.0, "timed out").line()
    assert timed_out.startswith("drain stopped after 30 s (1,200 partner records and 40 events")
    assert DrainOutcome(None, 0.4, "skipped").line() == "drain skipped after 0.4 s"


# -- the re-seed wait on start -------------------------------------------------------------------


def reseeding(events: int, pending: int, seconds: float, running: bool) -> dict[str, Any]:
    return {"events": events, "seconds": seconds, "pending": pending, "running": running}


def test_the_wait_ends_when_no_relay_re_publishes() -> None:
    logs: dict[str, EventLogReport | None] = {
        "registration": registration({0: 300}, reseed=reseeding(300, 0, 0.4, False)),
        "training": training([], reseed=reseeding(120, 0, 0.2, False), events=120),
    }
    state = reseed_state(logs, broker_fresh=True)
    assert state.done
    assert (state.events, state.seconds) == (420, 0.4)
    assert state.summary_line(broker_fresh=True) == (
        "re-published 420 events in 0.4 s "
        "(the broker starts empty; the services' logs are the record)"
    )


def test_a_relay_under_way_is_waited_for() -> None:
    logs: dict[str, EventLogReport | None] = {
        "registration": registration({0: 3000}, unsent=0, reseed=reseeding(500, 2500, 0, True)),
        "reporting": reporting([]),
    }
    state = reseed_state(logs, broker_fresh=False)
    assert state.waiting == ("registration",)
    assert "500 events re-published so far (registration)" in state.progress_line()


def test_on_a_fresh_broker_a_log_not_yet_re_published_is_waited_for() -> None:
    logs: dict[str, EventLogReport | None] = {
        "registration": registration({0: 30}),  # published before; relay has not looked yet
        "training": training([]),  # an empty log: nothing to re-seed
        "orientation": None,  # not answering: cannot tell
    }
    assert reseed_state(logs, broker_fresh=True).waiting == ("registration", "orientation")
    # On a broker that kept its topics, nothing is missing.
    assert reseed_state(logs, broker_fresh=False).waiting == ("orientation",)


def test_a_new_platforms_first_events_are_not_waited_for_once_the_relay_asked_the_broker() -> None:
    """A new platform: registration announces its districts and associations as it starts, on
    the fresh broker, before `dn up` first looks; its relay found nothing lost."""
    asked = {**reseeding(0, 0, 0.0, False), "checked": True}
    logs: dict[str, EventLogReport | None] = {
        "registration": registration({0: 10}, reseed=asked),
        "training": training([]),
    }
    assert reseed_state(logs, broker_fresh=True).done
    # The same log from a relay that has not had the broker's answer yet is waited for.
    logs["registration"] = registration({0: 10}, reseed=reseeding(0, 0, 0.0, False))
    assert reseed_state(logs, broker_fresh=True).waiting == ("registration",)


def test_a_log_partition_number_arrives_as_an_int() -> None:
    assert registration({2: 7}).partitions == {2: 7}
