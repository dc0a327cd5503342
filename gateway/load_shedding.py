"""Load shedding: past a limit, a request is answered at once with a coded 503.

    HTTP/1.1 503 Service Unavailable
    retry-after: 1
    content-type: application/json

    {"data": null, "errors": [{"message": "The server is busy ...",
                               "extensions": {"code": "SERVER_BUSY"}}]}

`InFlightLimit` is the ASGI middleware that refuses a request while `max_in_flight` others
are being answered (health probes exempt: a load balancer must see a busy server as alive
and ready, not dead). `server_busy` is the ASGI app that sends the answer, also used for a
connection past the connection limit (gateway.http_protocol).

    app.add_middleware(InFlightLimit, max_in_flight=64, exempt_prefixes=("/health/",))
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RETRY_AFTER_SECONDS", "SERVER_BUSY", "InFlightLimit", "server_busy"]

logger = logging.getLogger("gateway.load_shedding")

SERVER_BUSY = "SERVER_BUSY"
RETRY_AFTER_SECONDS = 1  # a refused client should come back soon, not hammer at once

_BODY = json.dumps(
    {
        "data": None,
        "errors": [
            {
                "message": "The server is busy; retry after the delay in the Retry-After header.",
                "extensions": {"code": SERVER_BUSY},
            }
        ],
    }
).encode()
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
]


async def server_busy(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer an HTTP request with the coded 503, without reading its body, and close the
    connection after it (for a connection past the connection limit)."""
    if scope["type"] == "http":  # a websocket or lifespan scope has no HTTP answer
        await _send_busy(send, close=True)


async def _send_busy(send: Send, *, close: bool) -> None:
    headers = [*_HEADERS, (b"connection", b"close")] if close else _HEADERS
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _BODY})


class InFlightLimit:
    """Refuse HTTP requests past `max_in_flight` at once with `server_busy`.

    Paths starting with one of `exempt_prefixes` are neither counted nor refused.
    """

    def __init__(
        self, app: ASGIApp, *, max_in_flight: int, exempt_prefixes: Sequence[str] = ()
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(
                f"max_in_flight must be at least 1, not {max_in_flight}; set "
                "GATEWAY_MAX_IN_FLIGHT to the number of requests the server may answer at once."
            )
        self.app = app
        self.max_in_flight = max_in_flight
        self.exempt_prefixes = tuple(exempt_prefixes)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            # WARNING on purpose: the log throttle (gateway.log_throttle) keeps a flood of
            # these to a few lines per interval, with the count of those it dropped.
            logger.warning(
                "Refused a request with SERVER_BUSY: %d requests are in flight "
                "(GATEWAY_MAX_IN_FLIGHT).",
                self.max_in_flight,
            )
            # The connection stays open: the server reads past a body the app left unread.
            await _send_busy(send, close=False)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
