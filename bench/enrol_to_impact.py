"""Enrolment → impact latency on a running platform (`make up`), printed as JSON.

For each of N enrolments through GraphQL, measures the time from sending the mutation until
`impact.enrolled` counts it. Usage: python bench/enrol_to_impact.py [N] (gateway from DN_*).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from kit.auth import Role, issue_token
from kit.demo import ENROL, demo_enrolment
from kit.settings import Settings

IMPACT = "{ impact { enrolled } }"


def main(count: int) -> dict[str, object]:
    import random

    settings = Settings()
    rng = random.Random(7)
    association = {"id": "asso-saige-en-ligne", "districts": [{"id": "qpv-saige"}]}
    headers = {"authorization": f"Bearer {issue_token(settings, Role.COORDINATOR)}"}
    latencies = []
    with httpx.Client(base_url=settings.gateway_url, headers=headers, timeout=10) as client:

        def enrolled() -> int:
            response = client.post("/graphql", json={"query": IMPACT}).json()
            return int(response["data"]["impact"]["enrolled"])

        for _ in range(count):
            before = enrolled()
            started = time.perf_counter()
            person = demo_enrolment(rng, association)
            person["lastName"] += f"-{uuid.uuid4().hex[:8]}"  # duplicates are refused
            variables = {"input": person}
            answer = client.post("/graphql", json={"query": ENROL, "variables": variables})
            assert "errors" not in answer.json(), answer.text
            while enrolled() <= before:
                time.sleep(0.002)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "benchmark": "enrol_to_impact",
        "at": datetime.now(UTC).isoformat(),
        "enrolments": count,
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(latencies[int(0.95 * (count - 1))], 1),
            "max": round(latencies[-1], 1),
        },
    }


if __name__ == "__main__":
    report = main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
    out = Path(__file__).parent / "results" / "enrol_to_impact.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
