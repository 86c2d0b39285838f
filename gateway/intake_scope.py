"""Whose records a partner's request over HTTP names: the gateway asks the service that takes
the request (``POST /intake/scope``, ``contracts.scope``) which association each named
session, person, referral or placement belongs to, and a partner token may name only its own
association's. A record the service does not know yet is no reason to refuse: the request may
arrive before what it names, and the service deals with that."""

from __future__ import annotations

import logging

import httpx
from pydantic import ValidationError

from contracts.event import EventData
from contracts.scope import Owner, ScopeAnswer, ScopeQuestion, references_of

from .services import Services

SCOPE_PATH = "/intake/scope"
SCOPE_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


class ScopeUnavailable(Exception):
    """The service that keeps the named records did not answer whose they are."""

    def __init__(self, service: str) -> None:
        super().__init__(
            f"the {service} service did not answer whose records this event names, so it "
            "cannot be checked; send it again shortly with the same id (a repeated id is "
            "applied once)"
        )


async def foreign_record(
    services: Services, service: str, association_id: str, data: EventData
) -> str | None:
    """Why a token of ``association_id`` may not send ``data`` to ``service`` (a named record
    belongs to another association), or None; raises :class:`ScopeUnavailable`."""
    references = references_of(data)
    if not references:
        return None
    known = await owners(services, service, ScopeQuestion(references=references))
    return refusal(known, association_id)


async def owners(services: Services, service: str, question: ScopeQuestion) -> list[Owner]:
    """The owners ``service`` knows of the records in ``question``."""
    try:
        response = await services.ask_unattended(
            service,
            "POST",
            SCOPE_PATH,
            json=question.model_dump(mode="json"),
            timeout_s=SCOPE_TIMEOUT_S,
        )
    except httpx.HTTPError as error:
        raise ScopeUnavailable(service) from error
    if response.status_code != 200:
        answer = response.text[:300]
        log.warning("%s answered %s to %s: %s", service, response.status_code, SCOPE_PATH, answer)
        raise ScopeUnavailable(service)
    try:
        return ScopeAnswer.model_validate_json(response.content).owners
    except ValidationError as error:
        log.error("%s answered %s in an unexpected shape: %s", service, SCOPE_PATH, error)
        raise ScopeUnavailable(service) from error


def refusal(owners: list[Owner], association_id: str) -> str | None:
    """The first named record of another association, as the reason to refuse; None when
    every known one is ``association_id``'s."""
    for owner in owners:
        if owner.association_id != association_id:
            return (
                f"{owner.kind.value} {owner.id} belongs to association {owner.association_id}; "
                f"this token may send events only for association {association_id}"
            )
    return None
