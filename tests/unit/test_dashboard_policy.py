"""The dashboard's content security policy allows exactly its own inline script and style."""

from __future__ import annotations

import base64
import hashlib

from gateway.app import DASHBOARD
from gateway.page_policy import content_security_policy


def digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_only_the_page_s_own_script_and_style_may_run_and_it_talks_only_to_the_gateway() -> None:
    page = "<html><style>p{}</style><script>go()</script></html>"

    policy = dict(part.strip().split(" ", 1) for part in content_security_policy(page).split(";"))

    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == digest("go()")
    assert policy["style-src"] == digest("p{}")
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


def test_the_shipped_dashboard_has_no_style_attribute_the_policy_would_block() -> None:
    page = DASHBOARD.read_text(encoding="utf-8")

    assert ' style="' not in page
    assert "'sha256-" in content_security_policy(page)
