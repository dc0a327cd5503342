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


def run_http_server(app: FastAPI, settings: Settings) -> bool:
    """Serve `app` (made by create_app) on settings.host:port until a signal stops it;
    False if startup failed."""
    bounds = client_connection_bounds(
        settings.max_client_connections,
        raise_open_file_limit(),
        reserved=settings.max_connections + 1 + _PROCESS_DESCRIPTORS,
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
    )
    config.load()
    check_uvicorn_internals(config, protocol)
    install_log_throttle()  # after Config: it has set up uvicorn's handlers
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down already
        server.run()
    return server.started
