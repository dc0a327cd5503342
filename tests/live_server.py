"""LiveServer: an ASGI app served by a real uvicorn on 127.0.0.1 (a free port), in a thread,
with the WebSocket implementation and bounds `gateway serve` uses."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.types import ASGIApp

STARTUP_LIMIT = 60.0  # seconds for the lifespan to finish; a bound, not a performance check


class LiveServer:
    """`app` served by a real uvicorn on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, app: ASGIApp, **options: object) -> None:
        self.app = app
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        port = self.socket.getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", lifespan="on", ws="websockets-sansio", **options
            )
        )
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


@contextmanager
def live_servers() -> Iterator[Callable[[ASGIApp], LiveServer]]:
    """`start(app)` for the block: each app on a real uvicorn, every one stopped after."""
    servers: list[LiveServer] = []

    def start(app: ASGIApp) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
