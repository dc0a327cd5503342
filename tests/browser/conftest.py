"""Browser fixtures: a real uvicorn serving the gateway, and headless Chromium driving it.

Chromium is Debian's (`/usr/bin/chromium`), driven by Playwright for Python with
`executable_path`, so nothing downloads a browser. `./scripts/test` installs it through
`scripts/setup-browser` when it runs as root; otherwise the tests fail saying what to install.
Every page records each request it makes, and requests to any other origin than the gateway
are refused, so a test can assert that the page needed nothing from elsewhere.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, sync_playwright

import services
from gateway.app import create_app
from gateway.settings import PROJECT_ROOT, Settings
from services.demo import load_demo_data

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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (a new empty profile), for the whole session."""
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserPage:
    """A page of a fresh context that records its requests and its errors."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def foreign_requests(self) -> list[str]:
        """Requests to anything but `origin` (refused, but recorded here)."""
        return [url for url in self.requests if not url.startswith(self.origin + "/")]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[str], BrowserPage]]:
    """`open_page(origin)`: a new page whose requests outside `origin` are refused."""
    contexts = []

    def open_(origin: str) -> BrowserPage:
        context = browser.new_context(viewport={"width": 1400, "height": 860})
        contexts.append(context)
        page = context.new_page()
        recorder = BrowserPage(page, origin)

        def route(route: Route) -> None:
            if route.request.url.startswith(origin + "/"):
                route.continue_()
            else:
                route.abort("blockedbyclient")

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                recorder.errors.append(f"console: {message.text}")

        def request(request: Request) -> None:
            recorder.requests.append(request.url)

        context.route("**/*", route)
        context.on("request", request)
        context.on("console", console)
        page.on("pageerror", lambda error: recorder.errors.append(f"page error: {error}"))
        page.on("websocket", lambda socket: recorder.requests.append(socket.url))
        return recorder

    try:
        yield open_
    finally:
        for context in contexts:
            context.close()


class LiveServer:
    """`app` served by a real uvicorn on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        port = self.socket.getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_LIMIT
        while not self.server.started:
            if not self.thread.is_alive():
                pytest.fail("the gateway did not start; its lifespan failed (see the log)")
            if time.monotonic() > deadline:
                pytest.fail(f"the gateway did not start within {STARTUP_LIMIT}s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def gateway_app(database_url: str) -> Callable[..., FastAPI]:
    """`gateway_app(**settings)`: the real app on this test's database, with the demo data."""

    def make(**overrides: object) -> FastAPI:
        settings = Settings(
            **{"database_url": database_url, "min_connections": 1, "max_connections": 4}
            | overrides  # type: ignore[arg-type]
        )
        return create_app(settings, services.SERVICES, on_startup=load_demo_data)

    return make


@pytest.fixture
def live_server() -> Iterator[Callable[[FastAPI], LiveServer]]:
    """`live_server(app)`: start `app` on a real uvicorn; stopped after the test."""
    servers: list[LiveServer] = []

    def start(app: FastAPI) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def save_screenshot(page: Page, name: str) -> Path:
    """A PNG of the page in tests/artifacts/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path
