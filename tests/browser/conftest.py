"""Browser fixtures: a real uvicorn serving the gateway, and headless Chromium driving it.

Chromium is Debian's (`/usr/bin/chromium`), driven by Playwright for Python with
`executable_path`, so nothing downloads a browser. `./scripts/test` installs it through
`scripts/setup-browser` when it runs as root; otherwise the tests fail saying what to install.
Every page records each request it makes and refuses those outside the origins it was opened
for, so a test can assert that the page needed nothing from anywhere else.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, ConsoleMessage, Page, Request, Route, async_playwright
from starlette.types import ASGIApp

import services
from gateway.app import create_app
from gateway.settings import PROJECT_ROOT
from services.demo import load_demo_data
from tests.live_server import LiveServer, live_servers
from tests.tokens import app_settings

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
STARTUP_LIMIT = 60.0  # seconds for migrations and demo data; not a performance assertion
# With Playwright's headless=True and its fresh temporary profile: no sandbox (root in CI),
# and no background connections, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = (
    "Chromium is not installed (no `chromium` on PATH). The browser tests use Debian's: "
    "`sudo apt-get install chromium` (scripts/setup-browser does it when run as root, and "
    "./scripts/test runs scripts/setup-browser)."
)


def chromium_executable() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    return path


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """This test's fresh database, the demo services' migrations applied once per run."""
    return migrated_database_url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium with a new empty profile.

    Playwright's async API: its sync API keeps an event loop running in the test's thread,
    where the database fixtures' asyncio.run() would then fail.
    """
    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class BrowserPage:
    """A page of a fresh context that records its requests and its errors."""

    page: Page
    origins: tuple[str, ...]
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def allows(self, url: str) -> bool:
        return any(url.startswith(origin + "/") for origin in self.origins)

    @property
    def foreign_requests(self) -> list[str]:
        """Requests to anything but `origins` (refused, but recorded here)."""
        return [url for url in self.requests if not self.allows(url)]


OpenPage = Callable[..., Awaitable[BrowserPage]]


@pytest.fixture
def open_page(browser: Browser) -> OpenPage:
    """`await open_page(*origins)`: a new page whose requests elsewhere are refused."""

    async def open_(*origins: str) -> BrowserPage:
        context = await browser.new_context(viewport={"width": 1400, "height": 860})
        page = await context.new_page()
        recorder = BrowserPage(page, origins)

        async def route(route: Route) -> None:
            if recorder.allows(route.request.url):
                await route.continue_()
            else:
                await route.abort("blockedbyclient")

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                recorder.errors.append(f"console: {message.text}")

        def request(request: Request) -> None:
            recorder.requests.append(request.url)

        await context.route("**/*", route)
        context.on("request", request)
        context.on("console", console)
        page.on("pageerror", lambda error: recorder.errors.append(f"page error: {error}"))
        page.on("websocket", lambda socket: recorder.requests.append(socket.url))
        return recorder

    return open_


@pytest.fixture
def gateway_app(database_url: str) -> Callable[..., FastAPI]:
    """`gateway_app(**settings)`: the real app on this test's database, with the demo data."""

    def make(**overrides: object) -> FastAPI:
        settings = app_settings(
            **{"database_url": database_url, "min_connections": 1, "max_connections": 4} | overrides  # type: ignore[arg-type]
        )
        return create_app(settings, services.SERVICES, on_startup=load_demo_data)

    return make


@pytest.fixture
def live_server() -> Iterator[Callable[[ASGIApp], LiveServer]]:
    """`live_server(app)`: start `app` on a real uvicorn; stopped after the test."""
    with live_servers() as start:
        yield start


async def save_screenshot(page: Page, name: str) -> Path:
    """A PNG of the page in tests/artifacts/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path
