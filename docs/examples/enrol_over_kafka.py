"""A partner's system enrols a resident by writing one CloudEvent to dn.intake.registration.

Run: DN_KAFKA_BOOTSTRAP=127.0.0.1:19092 python enrol_over_kafka.py
Needs only aiokafka (pip install aiokafka). Binary mode: the record value is the event data,
its CloudEvents attributes travel as ce_* headers. The person's id is the key.
"""

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

BOOTSTRAP = os.environ.get("DN_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
PARTNER = os.environ.get("PARTNER_SOURCE", "partner/asso-lac-connecte-crm")
REFERENCE = os.environ.get("PARTNER_REFERENCE", f"crm-{uuid.uuid4().hex[:8]}")
PERSON = str(uuid.uuid4())

data = {
    "association_id": "asso-lac-connecte",
    "district_id": "qpv-aubiers-lac",
    "first_name": os.environ.get("FIRST_NAME", "Awa"),
    "last_name": os.environ.get("LAST_NAME", "Exemple"),
    "birth_year": 1991,
    "phone": None,  # the person has no phone
    "gender": "female",
    "tracks": ["digital_inclusion", "digital_careers"],
    "employment_status": "registered_job_seeker",
    "consent": {
        "programme_follow_up": True,
        "share_with_partners": True,
        "contact_for_surveys": False,
    },
    "partner_reference": REFERENCE,
    "beneficiary_id": PERSON,  # yours to keep: later requests name the person by it
}
headers = {
    "ce_specversion": "1.0",
    "ce_id": str(uuid.uuid4()),  # keep it when you retry: a resent event is applied once
    "ce_source": PARTNER,
    "ce_type": "dn.intake.registration.enrolment_requested.v1",
    "ce_time": datetime.now(UTC).isoformat(),
    "content-type": "application/json",
}


async def main() -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "dn.intake.registration",
            value=json.dumps(data).encode(),
            key=PERSON.encode(),  # per-person order
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
    finally:
        await producer.stop()
    print(f"sent {headers['ce_id']}")


asyncio.run(main())
