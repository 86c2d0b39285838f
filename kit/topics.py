"""Creates the platform's topics on a broker, idempotently."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from contracts.topics import ALL_TOPICS

log = logging.getLogger(__name__)


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
