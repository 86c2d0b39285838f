"""The scheduled follow-up job: announce every 3- and 6-month follow-up as it falls due."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from services.orientation.commands import Orientation

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(hours=1)


async def run_periodically(orientation: Orientation, every: timedelta = CHECK_EVERY) -> None:
    """Emit ``follow_up_due`` for follow-ups due by ``orientation.today()``, every ``every``.

    Runs once at start: each follow-up is announced once whatever the restarts, so there is
    no burst to fear, and a follow-up due while the service was down is announced at once.
    """
    while True:
        try:
            announced = await orientation.announce_due_follow_ups()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("follow-up job failed; next attempt in %s", every)
        else:
            if announced:
                log.info("follow-up job announced %d follow-up(s) due", announced)
        await asyncio.sleep(every.total_seconds())
