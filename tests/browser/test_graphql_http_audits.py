"""The GraphQL-over-HTTP specification's own server audits (npm `graphql-http`, its
`serverAudits`), run by Node against the real app on a real uvicorn.

Every MUST and every SHOULD passes. Of the MAYs, only those the README argues against may
fail: a GET without a preflight header is refused CSRF_PREVENTED (README, "For frontend
teams"), which three MAY audits send.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp

from gateway.settings import PROJECT_ROOT
from tests.browser.conftest import LiveServer
from tests.browser.npm import exclusively, install, node

AUDITS = PROJECT_ROOT / "tests" / "browser" / "graphql_http_audits"
# MAY audits sending a GET without a preflight header: refused as a possible CSRF.
REFUSED_AS_CSRF = {"5A70", "D6D5", "6A70"}


def run_audits(url: str) -> list[dict[str, str | None]]:
    with exclusively(AUDITS):  # another test process may be installing it right now
        install(AUDITS)
    output = node(AUDITS, "audit.mjs", url)
    audits: list[dict[str, str | None]] = json.loads(output.splitlines()[-1])
    return audits


def test_every_must_and_should_audit_of_the_graphql_over_http_spec_passes(
    gateway_app: Callable[..., FastAPI], live_server: Callable[[ASGIApp], LiveServer]
) -> None:
    server = live_server(gateway_app())

    audits = run_audits(f"{server.origin}/graphql")

    assert len(audits) >= 60  # the suite ran whole
    failed = {a["id"]: f"{a['name']}: {a['reason']}" for a in audits if a["status"] != "ok"}
    musts_and_shoulds = {
        a["id"]: failed[str(a["id"])]
        for a in audits
        if a["id"] in failed and str(a["name"]).startswith(("MUST", "SHOULD"))
    }
    assert musts_and_shoulds == {}
    assert set(failed) <= REFUSED_AS_CSRF, failed


def test_the_may_audits_refused_as_csrf_pass_with_csrf_prevention_off(
    gateway_app: Callable[..., FastAPI], live_server: Callable[[ASGIApp], LiveServer]
) -> None:
    server = live_server(gateway_app(csrf_prevention=False))

    audits = run_audits(f"{server.origin}/graphql")

    assert [a for a in audits if a["status"] != "ok"] == []
