"""A real `gateway serve` in production mode with GATEWAY_METRICS_PORT, attacked over real
HTTP as issue 13 did: what it shows of itself, and what its log shows of the attempts."""

from __future__ import annotations

import httpx

from tests.gateway.serving import sample
from tests.gateway_process import GatewayProcess, accepts_connections, free_port
from tests.tokens import TEST_SECRET

DEEP = "[" * 1000 + "]" * 1000
PLACE_ORDER = "mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }"


def test_production_shows_no_docs_hints_or_metrics_and_refuses_deep_json_with_a_code(
    database_url: str,
) -> None:
    metrics_port = free_port()
    server = GatewayProcess(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_ENV": "production",
            "GATEWAY_JWT_SECRET": TEST_SECRET,
            "GATEWAY_METRICS_PORT": str(metrics_port),
        }
    )
    try:
        server.wait_until_ready()
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            pages = [client.get(path).status_code for path in ("/docs", "/redoc", "/openapi.json")]
            public_metrics = client.get("/metrics")
            deep_post = client.post(
                "/graphql", content=DEEP, headers={"content-type": "application/json"}
            )
            deep_get = client.get(
                "/graphql",
                params={"query": "{ __typename }", "variables": f'{{"a": {DEEP}}}'},
                headers={"apollo-require-preflight": "true"},
            )
            hinted = client.post(
                "/graphql",
                json={
                    "query": PLACE_ORDER,
                    "variables": {"input": {"userid": 1, "items": []}},
                    "operationName": "JunkName",
                },
            )
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        server.terminate()
        returncode = server.wait_for_exit()
    finally:
        server.kill()

    assert pages == [404, 404, 404]
    assert public_metrics.status_code == 404
    for deep in (deep_post, deep_get):
        assert deep.status_code == 400
        assert deep.json()["errors"][0]["extensions"]["code"] == "JSON_TOO_DEEP"
    assert "Did you mean" not in hinted.text
    assert scraped.status_code == 200
    assert (
        sample(scraped.text, "gateway_graphql_requests_total", operation="refused") == 3
    )  # deep twice, hinted
    assert "JunkName" not in scraped.text
    assert returncode == 0, server.output
    assert not accepts_connections(metrics_port)
    assert "Traceback" not in server.output
    assert "RecursionError" not in server.output
