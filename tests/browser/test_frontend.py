"""examples/frontend in headless Chromium: built here (npm ci, GraphQL Code Generator from
schema.graphql, tsc, esbuild), served from its own origin, calling the gateway through CORS
with persisted operations (codegen's persisted-documents.json as the gateway's allow-list).

Signed in, the page keeps each listed order's status live over a WebSocket to the gateway
(the npm graphql-ws client, the token in connection_init).

`npm ci` runs only when node_modules does not match package-lock.json (tests/browser/npm.py);
codegen and the build run every time, so a schema change that breaks the client's
operations fails here.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from gateway.settings import PROJECT_ROOT
from tests.browser.conftest import LiveServer, OpenPage, save_screenshot
from tests.browser.npm import exclusively, install, npm
from tests.services.shop import Shop
from tests.tokens import token_for

FRONTEND = PROJECT_ROOT / "examples" / "frontend"
PERSISTED_DOCUMENTS = FRONTEND / "src" / "gql" / "persisted-documents.json"  # written by codegen
# What the page sends over HTTP; its subscription goes over the WebSocket, and its
# CurrentOrderStatus only after EVENTS_MISSED.
HTTP_OPERATIONS = {"Me", "UsersWithOrders", "PlaceOrder"}
WAIT_S = 30.0  # for the gateway to see the page's subscriptions; a bound, not a performance check


@pytest.fixture(scope="session")
def frontend_dist() -> Path:
    """examples/frontend/dist, built now (dependencies installed only when the lock changed)."""
    with exclusively(FRONTEND):  # another test process may be building it right now
        install(FRONTEND)
        npm(FRONTEND, "run", "build")
    return FRONTEND / "dist"


def static_site(folder: Path) -> ASGIApp:
    return Starlette(routes=[Mount("/", app=StaticFiles(directory=folder, html=True))])


def operation_name(document: str) -> str:
    match = re.search(r"\b(?:query|mutation|subscription) (\w+)", document)
    assert match is not None, document
    return match[1]


def websocket_origin(server: LiveServer) -> str:
    """The origin of the page's WebSocket to `server` (its http origin as ws)."""
    return "ws" + server.origin.removeprefix("http")


async def until_subscribed(app: FastAPI, count: int) -> None:
    """Until the gateway's event hub has `count` subscribers. graphql-transport-ws does not
    acknowledge a subscribe, so this is how a test knows a change committed now reaches the
    page rather than happening before its subscription was in place."""

    def subscribers() -> int:
        try:
            return int(app.state.events.subscriber_count)
        except RuntimeError:  # read while the server's thread added a channel
            return 0

    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                if subscribers() >= count:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"the gateway has {subscribers()} subscribers, not {count}")


# Ada Lovelace (user 1), and with the admin role: the page lists every user only for an admin.
ADA = token_for(1)
ADA_AS_ADMIN = token_for(1, roles=["admin"])
PAY = """mutation ($orderId: Int!, $amount: Decimal!) {
  recordPayment(input: {orderId: $orderId, amount: $amount, currency: "EUR"}) { id }
}"""


async def sign_in(page: Page, token: str) -> None:
    """Paste `token` into the page's sign-in form and send it, as a person would."""
    await page.get_by_label("Bearer token").fill(token)
    await page.get_by_role("button", name="Sign in").click()


async def test_example_frontend_lists_users_with_orders_and_places_an_order(
    frontend_dist: Path,
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[ASGIApp], LiveServer],
    open_page: OpenPage,
    database_url: str,
) -> None:
    frontend = live_server(static_site(frontend_dist))
    gateway = live_server(
        gateway_app(
            cors_origins=(frontend.origin,),
            persisted_queries="allowlist",
            persisted_manifest=PERSISTED_DOCUMENTS,
        )
    )
    browser_page = await open_page(frontend.origin, gateway.origin, websocket_origin(gateway))
    page = browser_page.page
    sent: list[dict[str, Any]] = []
    page.on("request", lambda request: sent.append(json.loads(request.post_data or "null")))

    await page.goto(f"{frontend.origin}/?endpoint={gateway.origin}/graphql")
    await expect(page.locator("#users")).to_have_text("Sign in to see your orders.")
    await sign_in(page, ADA_AS_ADMIN)
    await expect(page.locator("section.user")).to_have_count(5)
    ada = page.get_by_role("region", name="Ada Lovelace").get_by_role("listitem")
    await expect(ada).to_have_text(
        ["#1 PAID 47.40 — BOOK-001 (1), PEN-014 (3)", "#2 PENDING 1299.00 — LAPTOP-13 (1)"]
    )

    await page.get_by_label("Customer").select_option(label="Grace Hopper")
    await page.get_by_label("SKU").fill("MUG-042")
    await page.get_by_label("Quantity").fill("2")
    await page.get_by_label("Unit price").fill("7.25")
    await page.get_by_role("button", name="Place order").click()

    await expect(page.locator("#status")).to_have_text(
        "Order #11 placed for Grace Hopper: 14.50 (PENDING)"
    )
    grace = page.get_by_role("region", name="Grace Hopper").get_by_role("listitem")
    await expect(grace).to_have_count(3)
    await expect(grace.last).to_have_text("#11 PENDING 14.50 — MUG-042 (2)")
    await save_screenshot(page, "frontend.png")

    connection = await asyncpg.connect(database_url)
    try:
        order = await connection.fetchrow(
            "SELECT user_id, status, total::text FROM orders.orders WHERE id = 11"
        )
        items = await connection.fetch(
            "SELECT sku, quantity, unit_price::text FROM orders.line_items WHERE order_id = 11"
        )
    finally:
        await connection.close()
    assert order is not None
    assert tuple(order) == (2, "PENDING", "14.50")
    assert [tuple(item) for item in items] == [("MUG-042", 2, "7.25")]

    operations = [body for body in sent if body is not None]
    # who is signed in (anonymous, then Ada), the list, the order, the list again
    assert len(operations) == 5
    hashes = {body["extensions"]["persistedQuery"]["sha256Hash"] for body in operations}
    manifest: dict[str, str] = json.loads(PERSISTED_DOCUMENTS.read_text())
    assert hashes == {
        sha for sha, document in manifest.items() if operation_name(document) in HTTP_OPERATIONS
    }
    assert not any("query" in body for body in operations)  # hashes only, no documents
    assert browser_page.foreign_requests == []
    assert browser_page.errors == []


async def test_example_frontend_sends_its_documents_to_a_gateway_without_its_manifest(
    frontend_dist: Path,
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[ASGIApp], LiveServer],
    open_page: OpenPage,
) -> None:
    frontend = live_server(static_site(frontend_dist))
    gateway = live_server(gateway_app(cors_origins=(frontend.origin,), persisted_queries="apq"))
    browser_page = await open_page(frontend.origin, gateway.origin)

    await browser_page.page.goto(f"{frontend.origin}/?endpoint={gateway.origin}/graphql")
    await sign_in(browser_page.page, ADA_AS_ADMIN)

    await expect(browser_page.page.locator("section.user")).to_have_count(5)
    assert browser_page.errors == []


async def test_example_frontend_is_refused_by_a_gateway_that_does_not_allow_its_origin(
    frontend_dist: Path,
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[ASGIApp], LiveServer],
    open_page: OpenPage,
) -> None:
    frontend = live_server(static_site(frontend_dist))
    gateway = live_server(gateway_app())  # no cors_origins
    browser_page = await open_page(frontend.origin, gateway.origin)

    await browser_page.page.goto(f"{frontend.origin}/?endpoint={gateway.origin}/graphql")

    await expect(browser_page.page.get_by_role("alert")).to_contain_text(
        f"Could not reach the gateway at {gateway.origin}/graphql"
    )
    assert any(re.search("blocked by CORS policy", error) for error in browser_page.errors)


async def test_example_frontend_signs_in_with_a_development_token(
    frontend_dist: Path,
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[ASGIApp], LiveServer],
    open_page: OpenPage,
) -> None:
    frontend = live_server(static_site(frontend_dist))
    gateway = live_server(gateway_app(cors_origins=(frontend.origin,)))
    browser_page = await open_page(frontend.origin, gateway.origin)
    page = browser_page.page
    viewer = page.locator("#viewer")
    await page.goto(f"{frontend.origin}/?endpoint={gateway.origin}/graphql")
    await expect(viewer).to_have_text("Not signed in")

    # What `gateway token --sub 1` prints, signed with the key the gateway verifies with: Ada,
    # no admin, is refused the list of users and sees her own account and orders only.
    await sign_in(page, token_for(1))
    await expect(viewer).to_have_text("Signed in as Ada Lovelace")
    await expect(page.locator("section.user")).to_have_count(1)
    ada = page.get_by_role("region", name="Ada Lovelace")
    await expect(ada.locator(".email")).to_have_text("ada@example.com")
    await expect(ada.get_by_role("listitem")).to_have_count(2)
    await expect(page.get_by_label("Customer").locator("option")).to_have_text(["Ada Lovelace"])

    await sign_in(page, token_for(1)[:-3] + "AAA")  # forged
    await expect(page.get_by_role("alert")).to_contain_text("(UNAUTHENTICATED")
    await expect(viewer).to_have_text("Not signed in")
    await expect(page.locator("section.user")).to_have_count(0)
    await page.reload()  # the refused token was not kept
    await expect(viewer).to_have_text("Not signed in")


async def test_example_frontend_shows_an_order_becoming_paid_live(
    frontend_dist: Path,
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[ASGIApp], LiveServer],
    open_page: OpenPage,
) -> None:
    frontend = live_server(static_site(frontend_dist))
    app = gateway_app(cors_origins=(frontend.origin,))
    gateway = live_server(app)
    browser_page = await open_page(frontend.origin, gateway.origin, websocket_origin(gateway))
    page = browser_page.page
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    received: list[str] = []
    page.on(
        "websocket",
        lambda socket: socket.on("framereceived", lambda frame: received.append(str(frame))),
    )

    await page.goto(f"{frontend.origin}/?endpoint={gateway.origin}/graphql")
    await sign_in(page, ADA)
    orders = page.get_by_role("region", name="Ada Lovelace").get_by_role("listitem")
    await expect(orders).to_have_text(
        ["#1 PAID 47.40 — BOOK-001 (1), PEN-014 (3)", "#2 PENDING 1299.00 — LAPTOP-13 (1)"]
    )
    await until_subscribed(app, 2)  # one orderUpdated per listed order, on one socket
    before = len(sent)

    # Ada pays her order #2 in full from elsewhere: the page, not reloaded, shows it PAID.
    async with httpx.AsyncClient(base_url=gateway.origin, timeout=30) as client:
        paid = await Shop(client).ask(PAY, ADA, orderId=2, amount="1299.00")
    assert "errors" not in paid, paid
    await expect(orders).to_have_text(
        ["#1 PAID 47.40 — BOOK-001 (1), PEN-014 (3)", "#2 PAID 1299.00 — LAPTOP-13 (1)"]
    )
    await expect(orders.last.locator(".status")).to_have_class("status status-PAID")

    assert sent[before:] == []  # the change came over the WebSocket, not a request
    assert any('"orderUpdated"' in frame and '"PAID"' in frame for frame in received)
    assert browser_page.requests.count(f"{websocket_origin(gateway)}/graphql") == 1
    assert browser_page.foreign_requests == []
    assert browser_page.errors == []
