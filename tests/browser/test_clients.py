"""The clients people use, set up as their docs show, in headless Chromium against the real
gateway on another origin (CORS): Apollo Client 4 (HttpLink, the persisted-queries link,
relayStylePagination) and urql 6 (the persisted exchange, queries as GET). Each page runs a
paginated list, a mutation, a refusal whose code it shows, an anonymous request, and APQ
(hash first, the document once, the hash alone afterwards). tests/browser/clients/ holds the
pages; they are bundled here by esbuild."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import pytest
from fastapi import FastAPI
from playwright.async_api import Response, expect
from starlette.types import ASGIApp

from gateway.settings import PROJECT_ROOT
from tests.browser.conftest import LiveServer, OpenPage
from tests.browser.npm import exclusively, install, node
from tests.browser.test_frontend import static_site
from tests.tokens import token_for

CLIENTS = PROJECT_ROOT / "tests" / "browser" / "clients"
ADA_AS_ADMIN = token_for(1, roles=["admin"])
FIRST_FOUR = "Ada Lovelace, Grace Hopper, Alan Turing, Katherine Johnson"
CSRF_ADVICE = "apollo-require-preflight"


@pytest.fixture(scope="session")
def client_pages() -> Path:
    """tests/browser/clients/dist: both pages, bundled now."""
    with exclusively(CLIENTS):  # another test process may be building them right now
        install(CLIENTS)
        node(CLIENTS, "build.mjs")
    return CLIENTS / "dist"


def graphql_bodies(sent: list[tuple[str, str, str | None]], gateway: str) -> list[dict[str, Any]]:
    """What each request to the gateway's /graphql carried: a POST's JSON body, or a GET's
    parameters (`variables` and `extensions` decoded)."""
    bodies = []
    for method, url, body in sent:
        if not url.startswith(f"{gateway}/graphql") or method == "OPTIONS":
            continue
        if method == "POST":
            bodies.append(json.loads(body or "null"))
        else:
            fields = dict(parse_qsl(urlsplit(url).query))
            bodies.append(
                {
                    key: json.loads(value) if key in ("variables", "extensions") else value
                    for key, value in fields.items()
                }
            )
    return bodies


def persisted_hashes_then_documents(bodies: list[dict[str, Any]]) -> list[str]:
    """Each request as `hash` (a persisted query sent by hash alone) or `document`."""
    return [
        "hash" if "query" not in body and "persistedQuery" in body.get("extensions", {})
        else "document"
        for body in bodies
    ]  # fmt: skip


@pytest.mark.parametrize("client", ["apollo", "urql"])
async def test_a_client_page_lists_pages_places_an_order_shows_refusals_and_uses_apq(
    client: str,
    client_pages: Path,
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[ASGIApp], LiveServer],
    open_page: OpenPage,
    database_url: str,
) -> None:
    pages = live_server(static_site(client_pages))
    gateway = live_server(gateway_app(cors_origins=(pages.origin,)))
    browser_page = await open_page(pages.origin, gateway.origin)
    page = browser_page.page
    sent: list[tuple[str, str, str | None]] = []
    page.on(
        "request", lambda request: sent.append((request.method, request.url, request.post_data))
    )
    answers: list[tuple[int, str]] = []

    def answered(response: Response) -> None:
        if response.url.startswith(f"{gateway.origin}/graphql") and (
            response.request.method != "OPTIONS"
        ):
            answers.append((response.status, response.headers.get("content-type", "")))

    page.on("response", answered)

    await page.goto(
        f"{pages.origin}/{client}.html?endpoint={gateway.origin}/graphql&token={ADA_AS_ADMIN}"
    )

    await expect(page.locator("#done")).to_have_text("done", timeout=30_000)
    assert await page.locator("#problem").text_content() == ""
    await expect(page.locator("#users")).to_have_text(FIRST_FOUR)
    await expect(page.locator("#order")).to_have_text("Order #11 for Ada Lovelace: 7.25")
    await expect(page.locator("#refusal")).to_have_text("QUERY_TOO_COSTLY")
    await expect(page.locator("#again")).to_have_text("Ada Lovelace, Grace Hopper")
    csrf = await page.locator("#csrf").text_content()
    if client == "urql":  # its anonymous GET: refused, saying what to change; then served
        assert csrf is not None
        assert csrf.startswith("CSRF_PREVENTED: ")
        assert CSRF_ADVICE in csrf
        assert csrf.endswith('with the header: {"me":null}')
    else:  # Apollo POSTs JSON: nothing to preflight-proof
        assert csrf == "anonymous POST served"

    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval("SELECT count(*) FROM orders.orders WHERE id = 11")
    finally:
        await connection.close()
    assert stored == 1

    bodies = graphql_bodies(sent, gateway.origin)
    users_requests = [b for b in bodies if "UsersPage" in json.dumps(b)]
    # APQ: the first UsersPage went as a hash, was not known, went again with its document;
    # the last one (from a new client) went as the hash alone and was served.
    kinds = persisted_hashes_then_documents(users_requests)
    assert kinds[:2] == ["hash", "document"]
    assert kinds[-1] == "hash"
    assert all(
        content_type.startswith("application/graphql-response+json") for _, content_type in answers
    )
    assert any(status == 400 for status, _ in answers)  # the refusal, readable as GraphQL
    assert browser_page.foreign_requests == []
