"""serving_metrics(app, host=..., port=...): the app's /metrics on a port of their own.

With `GATEWAY_METRICS_PORT` set, `gateway serve` keeps /metrics off the public port and runs a
second, small uvicorn server for them, in a thread of its own:

    with serving_metrics(app, host=settings.host, port=settings.metrics_port):
        uvicorn.run(app, host=settings.host, port=settings.port)

A thread, not a task on the API's event loop: Prometheus can still scrape while that loop is
busy, which is when the numbers matter most, and the API server keeps the process's signal
handling to itself (uvicorn listens to signals only in the main thread). The metrics object
is thread-safe (prometheus-client locks its values; the pool gauges read a few attributes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from gateway.http.router import RouterState
from gateway.metrics import metrics_app

__all__ = ["MetricsServerError", "serving_metrics"]

STARTUP_LIMIT = 10.0  # seconds for the metrics server to listen before serving gives up
STOP_LIMIT = 5.0  # seconds for it to stop once the API server has


class MetricsServerError(RuntimeError):
    """Raised when the metrics server cannot listen on its port (say, it is taken)."""


@contextmanager
def serving_metrics(app: FastAPI, *, host: str, port: int) -> Iterator[uvicorn.Server]:
    """Serve `app`'s metrics at http://`host`:`port`/metrics until the block ends.

    `app` is a gateway app (create_app); its metrics are the ones its requests update.
    Raises MetricsServerError, before the block runs, if the port cannot be listened on.
    """
    state = getattr(app.state, "gateway_router", None)
    if not isinstance(state, RouterState):
        raise TypeError("serving_metrics needs an app made by gateway.app.create_app.")
    config = uvicorn.Config(
        metrics_app(state.metrics),
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,  # the API server configures logging; do not do it twice
        log_level="warning",
    )
    server = uvicorn.Server(config)

    def run() -> None:
        try:
            server.run()
        except SystemExit:
            # uvicorn exits when it cannot listen; the wait below reports that to the caller,
            # so the thread ends quietly instead of dying with an unhandled exception.
            return

    thread = threading.Thread(target=run, name="gateway-metrics", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_LIMIT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        thread.join(STOP_LIMIT)
        raise MetricsServerError(
            f"Could not serve metrics on {host}:{port} (see the error above); free that port "
            "or choose another with GATEWAY_METRICS_PORT."
        )
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(STOP_LIMIT)
