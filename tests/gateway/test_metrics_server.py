"""/metrics on a port of their own (serving_metrics), over real HTTP; tests/test_production_e2e.py
runs it in a real `gateway serve`."""

from __future__ import annotations

import socket

import httpx
import pytest

from gateway.http.metrics_server import MetricsServerError, serving_metrics
from gateway.settings import Settings
from tests.asgi import serve
from tests.gateway.serving import app_for, post, sample
from tests.gateway_process import accepts_connections, free_port


def test_the_metrics_port_is_read_from_the_environment() -> None:
    assert Settings.from_env({"GATEWAY_METRICS_PORT": "9464"}).metrics_port == 9464
    assert Settings.from_env({}).metrics_port is None
    assert Settings.from_env({}).metrics_on_public_port
    assert not Settings.from_env({"GATEWAY_ENV": "production"}).metrics_on_public_port


async def test_serving_metrics_answers_while_the_apps_loop_is_blocked_until_the_block_ends(
    database_url: str,
) -> None:
    port = free_port()
    app = app_for(database_url, metrics_port=port)

    async with serve(app) as client:
        with serving_metrics(app, host="127.0.0.1", port=port):
            await post(client, query="query Counted { __typename }", operationName="Counted")
            # A blocking call: the app's event loop stands still until it returns, and the
            # metrics server, on a thread of its own, answers all the same.
            scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)  # noqa: ASYNC210
        listening_after = accepts_connections(port)

    assert scraped.status_code == 200
    assert sample(scraped.text, "gateway_graphql_requests_total", operation="Counted") == 1
    assert not listening_after


def test_a_taken_metrics_port_fails_saying_so(database_url: str) -> None:
    app = app_for(database_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(MetricsServerError, match="GATEWAY_METRICS_PORT"),
            serving_metrics(app, host="127.0.0.1", port=port),
        ):
            pytest.fail("the block ran without a metrics server")
