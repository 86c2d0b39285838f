"""The scheduled retention job: anonymise people without contact for the retention period."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from services.registration.commands import Registration

log = logging.getLogger(__name__)


async def run_periodically(registration: Registration, period: timedelta, every: timedelta) -> None:
    """Erase (reason: retention) everyone past ``period`` without contact, every ``every``.

    The first run waits one interval, so a restart loop never erases in a burst.
    """
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            erased = await registration.apply_retention(period, "retention-job", dry_run=False)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention job failed; next attempt in %s", every)
            continue
        log.info("retention job anonymised %d record(s)", len(erased))
