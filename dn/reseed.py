"""The wait, as ``dn up`` starts, for the services' relays to re-seed the broker from their logs.

An embedded broker keeps nothing across a restart, so each relay re-publishes its whole log
when it starts (see ``kit.outbox``). The platform answers before that is over; the figures
are whole only once it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from kit.event_logs import EventLogReport, read_event_logs
from kit.settings import Settings

RESEED_TIMEOUT_S = 60.0
POLL_S = 0.25


@dataclass(frozen=True)
class ReseedState:
    """Where the services' re-seeding stands, all relays together."""

    events: int  # re-published so far
    pending: int  # still to re-publish
    seconds: float  # the relays run side by side: the longest one's time
    waiting: tuple[str, ...]  # the services not done yet

    @property
    def done(self) -> bool:
        return not self.waiting

    def progress_line(self) -> str:
        return (
            f"re-seeding the broker from the services' logs: {self.events:,} events "
            f"re-published so far ({', '.join(self.waiting)})…"
        )

    def late_line(self, waited_s: float) -> str:
        return (
            f"not done after {waited_s:.0f} s ({', '.join(self.waiting)}; {self.pending:,} "
            "events to go): figures stay partial until it is; see `dn status` and the logs"
        )

    def summary_line(self, *, broker_fresh: bool) -> str:
        why = "the broker starts empty" if broker_fresh else "the broker had lost them"
        return (
            f"re-published {self.events:,} events in {self.seconds:.1f} s "
            f"({why}; the services' logs are the record)"
        )


def reseed_state(logs: Mapping[str, EventLogReport | None], *, broker_fresh: bool) -> ReseedState:
    """Which services are still re-seeding. With ``broker_fresh`` (the broker was started now,
    empty), a service whose log has published events must re-seed even if its relay has not
    noticed yet; otherwise only a relay saying it is under way is waited for."""
    waiting = tuple(name for name, log in logs.items() if _reseeding(log, broker_fresh))
    found = [log for log in logs.values() if log is not None]
    return ReseedState(
        events=sum(log.reseed.events for log in found),
        pending=sum(log.reseed.pending for log in found),
        seconds=max((log.reseed.seconds for log in found), default=0.0),
        waiting=waiting,
    )


def _reseeding(log: EventLogReport | None, broker_fresh: bool) -> bool:
    if log is None:
        return True  # not answering now: cannot tell
    if log.reseed.running or log.reseed.pending:
        return True
    if log.reseed.checked:
        # The relay asked this broker: what it published since (a new platform's first
        # events) is there, and a re-seed it needed would be running.
        return False
    # A fresh broker lacks every published event: the relay has just not looked yet.
    return broker_fresh and log.reseed.events == 0 and log.published_before > 0


def wait_for_reseed(
    settings: Settings,
    *,
    broker_fresh: bool,
    progress: Callable[[ReseedState], None],
    give_up: Callable[[], bool] = lambda: False,
    timeout_s: float = RESEED_TIMEOUT_S,
) -> ReseedState:
    """Poll every service's ``GET /log`` until no relay is re-seeding, ``timeout_s`` passes or
    ``give_up()`` says so; ``progress`` hears each state while some are. Returns the last."""
    return asyncio.run(_wait(settings, broker_fresh, progress, give_up, timeout_s))


async def _wait(
    settings: Settings,
    broker_fresh: bool,
    progress: Callable[[ReseedState], None],
    give_up: Callable[[], bool],
    timeout_s: float,
) -> ReseedState:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            state = reseed_state(await read_event_logs(settings, client), broker_fresh=broker_fresh)
            if state.done or time.monotonic() > deadline or give_up():
                return state
            progress(state)
            await asyncio.sleep(POLL_S)
