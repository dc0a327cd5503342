"""GraphiQL in headless Chromium against a real uvicorn: everything it loads comes from the
gateway itself, it opens on the README's query, runs queries, and has the explorer plugin."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from playwright.async_api import Page, expect

from gateway.settings import PROJECT_ROOT
from services.users import EXAMPLE_QUERY
from tests.browser.conftest import LiveServer, OpenPage, save_screenshot
from tests.tokens import token_for

README = (PROJECT_ROOT / "README.md").read_text()
README_ANSWER = json.loads(re.findall(r"```json\n(.*?)```", README, flags=re.DOTALL)[0])
DOCS_SCREENSHOT = PROJECT_ROOT / "docs" / "graphiql.png"
TYPED_QUERY = "{ user(id: 2) { name email orders { nodes { status total } } } }"

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = (
    '.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror'
)
ME_QUERY = "{ me { name } }"
RESPONSE = ".graphiql-response .CodeMirror"


async def editor_text(page: Page, selector: str) -> str:
    """The whole text of a GraphiQL editor (CodeMirror draws only the lines in view)."""
    text: str = await page.locator(selector).evaluate("element => element.CodeMirror.getValue()")
    return text


async def response_json(page: Page) -> Any:
    return json.loads(await editor_text(page, RESPONSE))


# What `./scripts/serve` prints for the Headers tab: an admin token for user 1 (Ada). The
# README's query lists users, which only an admin may.
ADMIN_HEADERS = json.dumps({"Authorization": f"Bearer {token_for(1, roles=['admin'])}"})


async def fill_headers(page: Page, headers: str) -> None:
    """Open GraphiQL's Headers tab and put `headers` (JSON) in it, as the README says."""
    await page.locator('.graphiql-editor-tools button[data-name="headers"]').click()
    headers_editor = page.locator(HEADERS_EDITOR)
    await expect(headers_editor).to_be_visible()
    await headers_editor.evaluate("(element, text) => element.CodeMirror.setValue(text)", headers)


async def test_graphiql_loads_from_the_gateway_alone_and_runs_the_readme_query(
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[FastAPI], LiveServer],
    open_page: OpenPage,
) -> None:
    server = live_server(gateway_app())
    browser_page = await open_page(server.origin)
    page = browser_page.page

    await page.goto(f"{server.origin}/graphql")
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()
    assert await editor_text(page, QUERY_EDITOR) == EXAMPLE_QUERY
    await fill_headers(page, ADMIN_HEADERS)

    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    explorer = page.locator(".graphiql-explorer-root")
    for root_field in ("order", "user", "users"):  # read from the schema by introspection
        await expect(explorer.get_by_text(root_field, exact=True).first).to_be_visible()

    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await expect(page.locator(RESPONSE)).to_contain_text('"name": "Ada Lovelace"')
    assert await response_json(page) == README_ANSWER

    screenshot = await save_screenshot(page, "graphiql.png")
    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, DOCS_SCREENSHOT)  # the README shows it

    # The explorer edits the query: ticking User.email adds it to the editor.
    await explorer.get_by_text("email", exact=True).first.click()
    assert re.search(r"^\s+email$", await editor_text(page, QUERY_EDITOR), flags=re.MULTILINE)

    assert browser_page.foreign_requests == []
    assert f"{server.origin}/graphql/static/graphiql/graphiql/graphiql.min.js" in (
        browser_page.requests
    )
    assert browser_page.errors == []


async def test_a_query_typed_into_graphiql_runs_and_its_result_shows(
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[FastAPI], LiveServer],
    open_page: OpenPage,
) -> None:
    server = live_server(gateway_app())
    browser_page = await open_page(server.origin)
    page = browser_page.page
    await page.goto(f"{server.origin}/graphql")
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()
    await fill_headers(page, ADMIN_HEADERS)

    await page.locator(QUERY_EDITOR).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.type(TYPED_QUERY)  # GraphiQL closes brackets; typing over them
    assert await editor_text(page, QUERY_EDITOR) == TYPED_QUERY
    await page.keyboard.press("Control+Enter")

    await expect(page.locator(RESPONSE)).to_contain_text('"name": "Grace Hopper"')
    assert await response_json(page) == {
        "data": {
            "user": {
                "name": "Grace Hopper",
                "email": "grace@example.com",
                "orders": {
                    "nodes": [
                        {"status": "PAID", "total": "47.40"},
                        {"status": "PENDING", "total": "1299.00"},
                    ]
                },
            }
        }
    }
    assert browser_page.foreign_requests == []
    assert browser_page.errors == []


async def test_a_token_pasted_into_the_headers_tab_signs_graphiql_in(
    gateway_app: Callable[..., FastAPI],
    live_server: Callable[[FastAPI], LiveServer],
    open_page: OpenPage,
) -> None:
    server = live_server(gateway_app())
    browser_page = await open_page(server.origin)
    page = browser_page.page
    await page.goto(f"{server.origin}/graphql")
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()
    await page.locator(QUERY_EDITOR).evaluate(
        "(element, query) => element.CodeMirror.setValue(query)", ME_QUERY
    )

    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await expect(page.locator(RESPONSE)).to_contain_text('"me": null')  # anonymous

    await fill_headers(page, ADMIN_HEADERS)
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

    await expect(page.locator(RESPONSE)).to_contain_text('"name": "Ada Lovelace"')
    assert await response_json(page) == {"data": {"me": {"name": "Ada Lovelace"}}}
    assert browser_page.foreign_requests == []
    assert browser_page.errors == []
