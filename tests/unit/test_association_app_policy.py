"""The associations' app is served like the dashboard (its own inline script and style by
hash, nothing from elsewhere) plus its service worker: worker-src 'self' and nothing more."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.association_app import PAGE, association_app_router
from gateway.page_policy import content_security_policy


def parts(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def client() -> TestClient:
    app = FastAPI()
    app.include_router(association_app_router())
    return TestClient(app)


def test_the_app_s_policy_is_the_dashboard_s_plus_its_own_service_worker() -> None:
    page = PAGE.read_text(encoding="utf-8")

    app = parts(content_security_policy(page, worker=True))
    dashboard = parts(content_security_policy(page))

    assert app.pop("worker-src") == "'self'"
    assert app.pop("manifest-src") == "'none'"
    assert app == dashboard
    assert "worker-src" not in dashboard


def test_the_page_is_served_with_its_policy_and_loads_nothing_from_elsewhere() -> None:
    answer = client().get("/app/")

    assert answer.status_code == 200
    policy = parts(answer.headers["content-security-policy"])
    assert policy["script-src"].startswith("'sha256-")
    assert policy["worker-src"] == "'self'"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert ' style="' not in answer.text
    assert not re.search(r"""(src|href)=["']https?:""", answer.text)
    assert client().get("/app", follow_redirects=False).headers["location"] == "/app/"


def test_the_service_worker_is_javascript_whose_scope_covers_the_app() -> None:
    answer = client().get("/app/sw.js")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "caches.open" in answer.text
    assert "/graphql" not in answer.text  # it keeps the page, never an answer
