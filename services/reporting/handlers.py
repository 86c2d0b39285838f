"""Reporting's Kafka subscribers: canonical events in, projection transitions out."""

from __future__ import annotations

from contracts import catalogue, topics
from contracts.envelope import CloudEvent
from contracts.registration import BeneficiaryErasedV1
from kit.consumer import IdempotentConsumer
from kit.mongo import Session
from services.reporting import domain
from services.reporting.store import ReportingStore

GROUP_ID = "dn-reporting-projection"
TOPICS = (topics.REGISTRATION_EVENTS,)


class ProjectionHandler:
    """Applies each canonical event to the beneficiary's facts and the counters, once."""

    def __init__(self, store: ReportingStore, consumer: IdempotentConsumer) -> None:
        self.store = store
        self.consumer = consumer

    async def __call__(self, event: CloudEvent) -> bool:
        data = catalogue.decode(event)
        beneficiary_id = domain.beneficiary_of(data)
        if beneficiary_id is None:
            return False

        async def effect(_: CloudEvent, session: Session) -> None:
            if await self.store.is_erased(session, beneficiary_id):
                return  # a late event about someone erased: nothing to link it to
            if isinstance(data, BeneficiaryErasedV1):
                # Counters stay as they are; only the link to the person goes.
                await self.store.pseudonymise(session, beneficiary_id)
                return
            old = await self.store.load_facts(session, beneficiary_id)
            new = domain.apply(old, data)
            await self.store.save_transition(session, new, domain.transition(old, new), event.time)

        return await self.consumer.apply(event, effect)
