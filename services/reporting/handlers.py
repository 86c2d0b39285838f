"""Reporting's Kafka subscribers: canonical events in, projection transitions out."""

from __future__ import annotations

from contracts import catalogue, topics
from contracts.envelope import CloudEvent
from contracts.event import EventData
from contracts.registration import BeneficiariesMergedV1, BeneficiaryErasedV1
from contracts.training import AssociationUpskilledV1
from kit.consumer import Effect, IdempotentConsumer
from kit.mongo import Session
from services.reporting import domain
from services.reporting.live import ImpactFeed, current_traceparent
from services.reporting.store import ReportingStore

GROUP_ID = "dn-reporting-projection"
TOPICS = (topics.REGISTRATION_EVENTS, topics.TRAINING_EVENTS, topics.ORIENTATION_EVENTS)


class ProjectionHandler:
    """Applies each canonical event to the facts it changes and to the counters, once."""

    def __init__(
        self, store: ReportingStore, consumer: IdempotentConsumer, feed: ImpactFeed | None = None
    ) -> None:
        self.store = store
        self.consumer = consumer
        self.feed = feed

    async def __call__(self, event: CloudEvent) -> bool:
        data = catalogue.decode(event)
        touched: set[str] = set()  # the scopes whose figures moved, told once committed
        if isinstance(data, AssociationUpskilledV1):
            touched.update((domain.ALL, f"association:{data.association_id}"))
            applied = await self.consumer.apply(event, self._association_effect(data))
        else:
            beneficiary_id = domain.beneficiary_of(data)
            if beneficiary_id is None:
                return False
            effect = self._beneficiary_effect(beneficiary_id, data, touched)
            applied = await self.consumer.apply(event, effect)
        if applied and touched and self.feed is not None:
            self.feed.publish(touched, event.time, current_traceparent())
        return applied

    def _beneficiary_effect(
        self, beneficiary_id: str, data: EventData, touched: set[str]
    ) -> Effect:
        async def effect(event: CloudEvent, session: Session) -> None:
            if await self.store.is_erased(session, beneficiary_id):
                return  # a late event about someone erased: nothing to link it to
            if isinstance(data, BeneficiaryErasedV1):
                # Counters stay as they are; only the link to the person goes.
                await self.store.pseudonymise(session, beneficiary_id)
                return
            old = await self.store.load_facts(session, beneficiary_id)
            new = domain.apply(old, data)
            deltas = domain.transition(old, new)
            await self.store.save_transition(session, new, deltas, event.time)
            if deltas:
                touched.update(domain.scopes(old), domain.scopes(new))
            if isinstance(data, BeneficiariesMergedV1):
                # What the merged record achieved now counts for the kept one.
                kept_id = str(data.beneficiary_id)
                kept = await self.store.load_facts(session, kept_id)
                absorbed = domain.absorb(kept, old)
                await self.store.save_transition(
                    session, absorbed, domain.transition(kept, absorbed), event.time
                )
                touched.update(domain.scopes(kept), domain.scopes(absorbed))

        return effect

    def _association_effect(self, data: AssociationUpskilledV1) -> Effect:
        async def effect(event: CloudEvent, session: Session) -> None:
            await self.store.mark_association_upskilled(session, data.association_id, event.time)

        return effect
