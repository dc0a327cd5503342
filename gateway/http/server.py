"""run_http_server(app, settings): uvicorn, configured to hold up against hostile clients.

    file limit   RLIMIT_NOFILE raised to its hard limit (gateway.http.file_limit)
    connections  header deadline and connection limit (gateway.http.protocol), the limit
                 kept below the file limit with descriptors left for the pool
    logs         repeated warnings throttled (gateway.http.log_throttle)
    headers      no `server: uvicorn` (the date header stays)
    access log   off: the gateway logs each GraphQL request itself (gateway.http.request_log);
                 uvicorn's line per request doubled that, and wrote one per refused
                 request under attack, blocking the event loop on a slow log sink
    shedding     requests refused while the app's in-flight gauge is full before they reach
                 its middleware stack (gateway.http.load_shedding.RefuseWhenFull)

The in-flight limit and the body timeout are the app's own (gateway.app), so they hold
under any ASGI server; this only makes refusing cheaper.

    run_http_server(create_app(settings, SERVICES), settings)
"""

from __future__ import annotations

import contextlib
import socket

import uvicorn
from fastapi import FastAPI

from gateway.http.file_limit import client_connection_bounds, raise_open_file_limit
from gateway.http.load_shedding import HEALTH_PATHS, InFlightGauge, RefuseWhenFull
from gateway.http.log_throttle import install_log_throttle
from gateway.http.protocol import GatewayH11Protocol, check_uvicorn_internals
from gateway.settings import Settings

__all__ = ["run_http_server"]

# Descriptors kept for the process itself beyond the pool and the health connection: the
# listening socket, the embedded server's pipes, log and migration files, imports.
_PROCESS_DESCRIPTORS = 64
_SUBSCRIPTIONS_END_S = 5.0  # for the subscriptions' `complete` messages to go out


class _GracefulServer(uvicorn.Server):
    """uvicorn's server, ending the app's subscriptions before it closes the connections:
    each client receives `complete` for every subscription, then the close (1012)."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        events = getattr(self._app.state, "events", None)
        if events is not None:
            await events.close(wait_s=_SUBSCRIPTIONS_END_S)
        await super().shutdown(sockets)


def run_http_server(
    app: FastAPI, settings: Settings, sockets: list[socket.socket] | None = None
) -> bool:
    """Serve `app` (made by create_app) on settings.host:port, or on `sockets` already
    bound (a worker's, gateway.http.workers), until a signal stops it; False if startup
    failed."""
    bounds = client_connection_bounds(
        settings.max_client_connections,
        raise_open_file_limit(),
        # the pool, the health check's connection, the event listener's
        reserved=settings.max_connections + 2 + _PROCESS_DESCRIPTORS,
    )
    protocol = GatewayH11Protocol.configured(
        header_timeout=settings.header_timeout,
        max_connections=bounds.limit,
        overflow=bounds.overflow,
    )
    gauge: InFlightGauge = app.state.in_flight
    config = uvicorn.Config(
        # Requests refused while the app is full never reach its middleware stack.
        RefuseWhenFull(
            app,
            gauge=gauge,
            exempt_prefixes=HEALTH_PATHS,
            on_refusal=app.state.gateway_router.metrics.observe_refusal,
        ),
        host=settings.host,
        port=settings.port,
        log_level="info",
        http=protocol,
        backlog=bounds.accept_batch,
        server_header=False,
        access_log=False,
        # WebSockets (subscriptions): the sans-I/O implementation of the websockets package,
        # a bound on a client's message, and pings that free a dead peer's slot.
        ws="websockets-sansio",
        ws_max_size=settings.subscriptions.message_bytes,
        ws_ping_interval=settings.subscriptions.ping_interval,
        ws_ping_timeout=settings.subscriptions.ping_timeout,
    )
    config.load()
    check_uvicorn_internals(config, protocol)
    install_log_throttle()  # after Config: it has set up uvicorn's handlers
    server = _GracefulServer(config, app)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down already
        server.run(sockets=sockets)
    return server.started
