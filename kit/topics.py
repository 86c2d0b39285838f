"""Creates the platform's topics on a broker, idempotently; and no client of ours creates one
by asking about it.

aiokafka asks for a topic's metadata with ``allow_auto_topic_creation`` set, and the embedded
broker (Tansu 0.6) then creates a missing topic with its own default of 4 partitions. After the
broker restarted empty, the services' producers and consumers ask about the topics they knew
at once, and could so create them before ``ensure_topics`` did, with 4 partitions where the
services' event logs are placed over ``DN_KAFKA_PARTITIONS`` (6): the relay could then never
publish the partitions beyond (aiokafka: "Unrecognized partition"), and reporting's figures
stayed short. Topics are created here, explicitly, with the platform's partition count; a
client asking about one that is missing now hears that it is missing, and asks again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiokafka.client
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from contracts.topics import ALL_TOPICS

log = logging.getLogger(__name__)


class _MetadataRequestCreatingNothing(MetadataRequest):  # type: ignore[misc]
    """aiokafka's metadata request, never asking the broker to create what it asks about."""

    def __init__(
        self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None
    ) -> None:
        super().__init__(topics, bool(allow_auto_topic_creation))


def never_create_topics_by_asking() -> None:
    """Make every aiokafka client of this process ask for metadata without creating topics
    (see the module's text). Idempotent."""
    aiokafka.client.MetadataRequest = _MetadataRequestCreatingNothing


never_create_topics_by_asking()


async def ensure_topics(
    bootstrap: str, partitions: int, replication: int, *, attempts: int = 40
) -> list[str]:
    """Create every missing topic; returns the names created. Retries while the broker starts."""
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in ALL_TOPICS if t not in existing]
            if missing:
                # Another process may create them between our list and this call.
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(t, partitions, replication) for t in missing]
                    )
            return missing
        except KafkaError as error:
            if attempt == attempts - 1:
                raise
            log.debug("broker not ready yet: %s", error)
            await asyncio.sleep(0.25)
        finally:
            await admin.close()
    return []
