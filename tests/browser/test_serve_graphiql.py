"""The README's serve command, as a new user runs it: `./scripts/serve` on a fresh embedded
PostgreSQL, then GraphiQL in headless Chromium with the admin token it printed pasted into
the Headers tab, running the README's query to the README's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from services.users import EXAMPLE_QUERY
from tests.browser.conftest import OpenPage
from tests.browser.test_graphiql import (
    QUERY_EDITOR,
    README_ANSWER,
    RESPONSE,
    editor_text,
    fill_headers,
    response_json,
)
from tests.test_serve_e2e import Server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "pgdata")
    try:
        yield server
    finally:
        server.kill()


async def test_graphiql_of_the_serve_command_runs_the_readme_query_with_the_printed_token(
    served: Server, open_page: OpenPage
) -> None:
    await asyncio.to_thread(served.wait_until_ready)
    origin = served.url.removesuffix("/graphql")
    browser_page = await open_page(origin)
    page = browser_page.page

    await page.goto(served.url)
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()
    assert await editor_text(page, QUERY_EDITOR) == EXAMPLE_QUERY
    await fill_headers(page, served.printed_headers())  # as printed, pasted whole
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

    await expect(page.locator(RESPONSE)).to_contain_text('"name": "Ada Lovelace"')
    assert await response_json(page) == README_ANSWER
    assert browser_page.foreign_requests == []
    assert browser_page.errors == []
