"""Which parked partner requests are applied, which wait on, which expire (kit.parking)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kit.parking import Parked, Waiting, describe_wait, new_parked, plan_release

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def parked(
    request_id: str,
    *refs: str,
    creates: tuple[str, ...] = (),
    age: timedelta = timedelta(seconds=1),
) -> Parked:
    return new_parked(request_id, "partner/a", refs, creates, NOW - age)


def ids(requests: list[Parked]) -> list[str]:
    return [r.id for r in requests]


def test_a_request_is_released_once_all_it_names_is_known() -> None:
    attendance = parked("a1", "session:s1", "beneficiary:b1")
    assert ids(plan_release([attendance], {"session:s1"}, NOW, WEEK).release) == []
    both = {"session:s1", "beneficiary:b1"}
    assert ids(plan_release([attendance], both, NOW, WEEK).release) == ["a1"]


def test_requests_are_released_in_the_order_received() -> None:
    first = parked("first", "session:s1")
    second = parked("second", "session:s1")
    plan = plan_release([second, first], {"session:s1"}, NOW, WEEK)
    assert ids(plan.release) == ["first", "second"]


def test_what_a_released_request_makes_releases_one_received_before_it_in_the_same_pass() -> None:
    """A resolution sent ahead of its referral, both before the person's enrolment: once the
    person is known both go in one pass, the referral first (a reader never sees the referral
    open; an e2e test caught the one-pass delay in CI)."""
    resolution = parked("resolution", "referral:r1")
    referral = parked("referral", "beneficiary:b1", creates=("referral:r1",))
    waiting = plan_release([resolution, referral], set(), NOW, WEEK)
    assert waiting.release == []
    plan = plan_release([resolution, referral], {"beneficiary:b1"}, NOW, WEEK)
    assert ids(plan.release) == ["referral", "resolution"]
    assert plan.expire == []


def test_a_request_waits_behind_an_earlier_one_about_the_same_record() -> None:
    """The later correction of an attendance must not be applied before the first report."""
    earlier = parked("earlier", "session:s1", "beneficiary:b1")
    later = parked("later", "session:s1", "beneficiary:b1")
    plan = plan_release([earlier, later], {"session:s1"}, NOW, WEEK)
    assert plan.release == []
    assert plan.expire == []
    both = plan_release([earlier, later], {"session:s1", "beneficiary:b1"}, NOW, WEEK)
    assert ids(both.release) == ["earlier", "later"]


def test_a_request_about_another_record_is_not_held_up_by_one_still_waiting() -> None:
    """One attendance naming a mistyped person holds up no other attendance of its session,
    nor the session's headcount."""
    mistyped = parked("mistyped", "session:s1", "beneficiary:nobody")
    other = parked("other", "session:s1", "beneficiary:b2")
    headcount = parked("headcount", "session:s1")
    known = {"session:s1", "beneficiary:b2"}
    assert ids(plan_release([mistyped, other, headcount], known, NOW, WEEK).release) == [
        "other",
        "headcount",
    ]


def test_what_a_released_request_creates_releases_the_ones_behind_it() -> None:
    """A referral's resolution waits for the referral, itself waiting for the enrolment."""
    referral = parked("ask", "beneficiary:b1", creates=("referral:r1",))
    resolution = parked("resolve", "referral:r1")
    assert ids(plan_release([referral, resolution], set(), NOW, WEEK).release) == []
    plan = plan_release([referral, resolution], {"beneficiary:b1"}, NOW, WEEK)
    assert ids(plan.release) == ["ask", "resolve"]


def test_a_request_waiting_too_long_expires_and_frees_the_ones_behind() -> None:
    stale = parked("stale", "session:gone", "beneficiary:b1", age=WEEK + timedelta(seconds=1))
    behind = parked("behind", "session:gone", "beneficiary:b1")
    plan = plan_release([stale, behind], {"beneficiary:b1"}, NOW, WEEK)
    assert [(p.id, missing) for p, missing in plan.expire] == [("stale", ["session:gone"])]
    assert ids(plan.release) == [], "still missing its session, but no longer behind"
    arrived = plan_release([stale, behind], {"beneficiary:b1", "session:gone"}, NOW, WEEK)
    assert ids(arrived.release) == ["stale", "behind"], "arrived in time after all: in order"


def test_an_old_request_whose_things_arrived_is_released_not_expired() -> None:
    old = parked("old", "session:s1", age=WEEK * 2)
    plan = plan_release([old], {"session:s1"}, NOW, WEEK)
    assert ids(plan.release) == ["old"]
    assert plan.expire == []


def test_waiting_names_the_dead_letter_reason_by_the_first_thing_missing() -> None:
    assert Waiting(["placement:p1", "beneficiary:b"], "").reason == "unknown_placement"


def test_waits_read_as_people_say_them() -> None:
    assert describe_wait(timedelta(seconds=4)) == "4 s"
    assert describe_wait(timedelta(minutes=3, seconds=2)) == "3 min 2 s"
    assert describe_wait(timedelta(days=7, hours=1)) == "7 d 1 h"
