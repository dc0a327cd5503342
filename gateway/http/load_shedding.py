"""Load shedding: past a limit, a request is answered at once with a coded 503.

    HTTP/1.1 503 Service Unavailable
    retry-after: 1
    content-type: application/json

    {"data": null, "errors": [{"message": "The server is busy ...",
                               "extensions": {"code": "SERVER_BUSY"}}]}

An `InFlightGauge` counts the requests being answered. Two ASGI layers share it:

- `InFlightLimit`, inside the app (after RequestGuard has read the body, so that a client
  slow to send one holds no slot), counts each request and refuses one past the limit;
- `RefuseWhenFull`, around the whole app (gateway.http.server), refuses while the gauge is
  full before the framework's middleware stack runs: an answer then costs a few µs instead
  of ~250 µs, which is what keeps a client that ignores Retry-After from eating the CPU the
  admitted requests need.

Health probes are exempt from both: a load balancer must see a busy server as alive and
ready, not dead. `server_busy` also answers a connection past the connection limit
(gateway.http.protocol).

    gauge = InFlightGauge(64)
    app.add_middleware(InFlightLimit, gauge=gauge, exempt_prefixes=("/health/",))
    served = RefuseWhenFull(app, gauge=gauge, exempt_prefixes=("/health/",))
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.media_types import GRAPHQL_RESPONSE, JSON, negotiate
from gateway.http.refusal import error_body
from gateway.http.request_log import CORRELATION_HEADER

__all__ = [
    "HEALTH_PATHS",
    "RETRY_AFTER_SECONDS",
    "SERVER_BUSY",
    "InFlightGauge",
    "InFlightLimit",
    "RefuseWhenFull",
    "server_busy",
]

logger = logging.getLogger("gateway.http.load_shedding")

SERVER_BUSY = "SERVER_BUSY"
HEALTH_PATHS = ("/health/",)  # the exempt prefixes: probes must reach a busy server
RETRY_AFTER_SECONDS = 1  # a refused client should come back soon, not hammer at once

_MESSAGE = "The server is busy; retry after the delay in the Retry-After header."


def _busy_answer(media_type: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = error_body(SERVER_BUSY, _MESSAGE, media_type)
    return body, [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    ]


# Rendered once per media type: a busy server answers many of these, each next to free.
_ANSWERS = {media_type: _busy_answer(media_type) for media_type in (JSON, GRAPHQL_RESPONSE)}


async def server_busy(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer an HTTP request with the coded 503, without reading its body, and close the
    connection after it (for a connection past the connection limit)."""
    if scope["type"] == "http":  # a websocket or lifespan scope has no HTTP answer
        await _send_busy(send, scope, close=True)


async def _send_busy(send: Send, scope: Scope, *, close: bool) -> None:
    accept = b",".join(value for name, value in scope["headers"] if name.lower() == b"accept")
    body, headers = _ANSWERS[negotiate(accept or None) or JSON]
    # Every answer carries a correlation id, this one too (a uuid costs about a microsecond).
    headers = [*headers, (CORRELATION_HEADER.encode(), uuid.uuid4().hex.encode())]
    if close:
        headers = [*headers, (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class InFlightGauge:
    """How many requests are being answered, out of at most `max_in_flight`."""

    def __init__(self, max_in_flight: int) -> None:
        if max_in_flight < 1:
            raise ValueError(
                f"max_in_flight must be at least 1, not {max_in_flight}; set "
                "GATEWAY_MAX_IN_FLIGHT to the number of requests the server may answer at once."
            )
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    @property
    def full(self) -> bool:
        """Whether a request arriving now is refused."""
        return self.in_flight >= self.max_in_flight


class InFlightLimit:
    """Count HTTP requests on `gauge`, refusing one that finds it full with SERVER_BUSY.

    Paths starting with one of `exempt_prefixes` are neither counted nor refused. Each
    refusal carries a correlation id and is reported to `on_refusal(code, seconds)` (the
    app's metrics); its log line is the throttled warning below, not a request line each (a
    flood of them would fill the disk).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        gauge: InFlightGauge,
        exempt_prefixes: Sequence[str] = (),
        on_refusal: Callable[[str, float], None] | None = None,
    ) -> None:
        self.app = app
        self.gauge = gauge
        self.exempt_prefixes = tuple(exempt_prefixes)
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if self.gauge.full:
            await _refuse(send, scope, self.gauge, self.on_refusal)
            return
        self.gauge.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.gauge.in_flight -= 1


class RefuseWhenFull:
    """Around the whole app: refuse HTTP requests while `gauge` is full, counting none in
    flight (each refusal is reported to `on_refusal`, as InFlightLimit's are)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        gauge: InFlightGauge,
        exempt_prefixes: Sequence[str] = (),
        on_refusal: Callable[[str, float], None] | None = None,
    ) -> None:
        self.app = app
        self.gauge = gauge
        self.exempt_prefixes = tuple(exempt_prefixes)
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.gauge.full
            and scope["type"] == "http"
            and not scope["path"].startswith(self.exempt_prefixes)
        ):
            await _refuse(send, scope, self.gauge, self.on_refusal)
            return
        await self.app(scope, receive, send)


async def _refuse(
    send: Send,
    scope: Scope,
    gauge: InFlightGauge,
    on_refusal: Callable[[str, float], None] | None,
) -> None:
    started = time.perf_counter()
    # WARNING on purpose: the log throttle (gateway.http.log_throttle) keeps a flood of these to
    # a few lines per interval, with the count of those it dropped.
    logger.warning(
        "Refused a request with SERVER_BUSY: %d requests are in flight (GATEWAY_MAX_IN_FLIGHT).",
        gauge.max_in_flight,
    )
    # The connection stays open: the server reads past a body the app left unread.
    await _send_busy(send, scope, close=False)
    if on_refusal is not None:  # counted in the app's metrics
        on_refusal(SERVER_BUSY, time.perf_counter() - started)
