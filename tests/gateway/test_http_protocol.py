"""The startup check of the uvicorn internals gateway.http.protocol relies on.

The protocol's behaviour (header timeout, connection limit) is tested against a real
server in tests/faults/test_slow_clients.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from gateway.http.protocol import GatewayH11Protocol, check_uvicorn_internals


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that is never called: the check only builds a protocol."""


def loaded_config() -> uvicorn.Config:
    config = uvicorn.Config(app, http=GatewayH11Protocol, log_config=None, lifespan="off")
    config.load()
    return config


def test_the_installed_uvicorn_passes_the_check() -> None:
    protocol = GatewayH11Protocol.configured(header_timeout=1, max_connections=10)

    check_uvicorn_internals(loaded_config(), protocol)


def test_a_protocol_that_no_longer_runs_the_app_it_was_given_fails_loudly() -> None:
    # As if a uvicorn release kept the application under another attribute.
    class Renamed(GatewayH11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.app = app

    with pytest.raises(RuntimeError, match="not the application it serves"):
        check_uvicorn_internals(loaded_config(), Renamed)


def test_bounds_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="GATEWAY_HEADER_TIMEOUT"):
        GatewayH11Protocol.configured(header_timeout=0, max_connections=10)
