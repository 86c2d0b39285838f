"""The scheduled retention job: anonymise people without contact for the retention period."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from kit.audit import Action, Actor, AuditLog, RecordKind
from kit.mongo import Session, in_transaction, sharing
from kit.settings import Settings
from services.registration.commands import Registration

log = logging.getLogger(__name__)
JOB = Actor.job("retention-job")
ROUTE = "job retention"


async def run_periodically(
    registration: Registration, audit: AuditLog, period: timedelta, every: timedelta
) -> None:
    """Erase (reason: retention) everyone past ``period`` without contact, every ``every``;
    each erasure is in the access log under the job's name.

    The first run waits one interval, so a restart loop never erases in a burst.
    """
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            erased = await retention_run(registration, audit, period)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention job failed; next attempt in %s", every)
            continue
        log.info("retention job anonymised %d record(s)", len(erased))


async def retention_run(
    registration: Registration, audit: AuditLog, period: timedelta
) -> list[str]:
    """One run in one transaction with its access-log entries (kit.mongo.sharing): a stop or a
    crash never leaves an erasure the access log does not show."""

    async def work(session: Session) -> list[str]:
        async with sharing(session):
            erased = await registration.apply_retention(period, JOB.subject, dry_run=False)
            await audit.write(JOB, Action.ERASE, RecordKind.BENEFICIARY, erased, ROUTE, session)
            return erased

    return await in_transaction(registration.store.db.client, work)


async def run_as_configured(
    registration: Registration, audit: AuditLog, settings: Settings
) -> None:
    """The job with ``DN_RETENTION_DAYS`` and ``DN_RETENTION_CHECK_HOURS`` (or ``_S``)."""
    await run_periodically(
        registration,
        audit,
        period=timedelta(days=settings.retention_days),
        every=settings.retention_check_interval,
    )
