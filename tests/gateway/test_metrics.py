"""/metrics over HTTP: Prometheus text with the pool, requests, errors, statements, batches.

Values are read back by parsing the scrape with prometheus-client's own parser.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from gateway.http.router import RouterState
from gateway.metrics import metrics_app
from tests.asgi import serve
from tests.gateway.serving import app_for, post, sample, scrape

NESTED = """
query Nested {
  users(first: 5) {
    nodes { name orders(first: 5) { nodes { total payments(first: 5) { nodes { amount } } } } }
  }
}
"""


async def seed_three_users_with_two_paid_orders_each(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO users.users (email, name) "
        "SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, 3) n"
    )
    await conn.execute(
        "INSERT INTO orders.orders (user_id, total) "
        "SELECT u.id, 10 FROM users.users u CROSS JOIN generate_series(1, 2)"
    )
    await conn.execute(
        "INSERT INTO payments.payments (order_id, amount, currency) "
        "SELECT id, 10, 'EUR' FROM orders.orders"
    )


async def test_metrics_are_prometheus_text_with_the_pools_sizes(database_url: str) -> None:
    app = app_for(database_url, min_connections=2, max_connections=4)

    async with serve(app) as client:
        response = await client.get("/metrics")
        size = app.state.pool.get_size()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE gateway_pool_size gauge" in text
    assert sample(text, "gateway_pool_size") == size == 2
    assert sample(text, "gateway_pool_max_size") == 4
    assert sample(text, "gateway_pool_used_connections") == 0
    assert sample(text, "gateway_pool_idle_connections") == 2


async def test_pool_gauges_are_read_at_scrape_time(database_url: str) -> None:
    app = app_for(database_url, min_connections=1, max_connections=4)

    async with serve(app) as client:
        pool: asyncpg.Pool = app.state.pool
        held = [await pool.acquire() for _ in range(3)]
        while_held = await scrape(client)
        for conn in held:
            await pool.release(conn)
        after = await scrape(client)

    assert sample(while_held, "gateway_pool_used_connections") == 3
    assert sample(while_held, "gateway_pool_size") == 3
    assert sample(after, "gateway_pool_used_connections") == 0
    assert sample(after, "gateway_pool_idle_connections") == 3


async def test_requests_and_their_latency_are_counted_by_operation_name(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as client:
        for _ in range(2):
            await post(
                client, query="query UserList { users { nodes { id } } }", operationName="UserList"
            )
        await post(client, query="query Unnamed { __typename }")  # no operationName sent
        text = await scrape(client)

    assert sample(text, "gateway_graphql_requests_total", operation="UserList") == 2
    assert sample(text, "gateway_graphql_requests_total", operation="anonymous") == 1
    assert sample(text, "gateway_graphql_request_duration_seconds_count", operation="UserList") == 2
    assert (
        sample(
            text, "gateway_graphql_request_duration_seconds_bucket", operation="UserList", le="+Inf"
        )
        == 2
    )


async def test_operation_name_comes_from_the_requests_operation_name(database_url: str) -> None:
    document = "query First { __typename } query Second { __typename }"

    async with serve(app_for(database_url)) as client:
        await post(client, query=document, operationName="Second")
        text = await scrape(client)

    assert sample(text, "gateway_graphql_requests_total", operation="Second") == 1
    assert sample(text, "gateway_graphql_requests_total", operation="First") is None


async def test_errors_are_counted_by_their_extensions_code(database_url: str) -> None:
    create = 'mutation { createUser(input: {email: "ada@example.com", name: "Ada"}) { id } }'

    async with serve(app_for(database_url)) as client:
        await post(client, query=create)
        duplicate = await post(client, query=create)
        await post(client, query="{ users { nodes { id } ")
        await post(client, query="{ nosuchfield }")
        await post(client, query="{ nosuchfield }")
        text = await scrape(client)

    assert duplicate["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert sample(text, "gateway_graphql_errors_total", code="CONFLICT") == 1
    assert sample(text, "gateway_graphql_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
    assert sample(text, "gateway_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 2


async def test_statements_per_request_are_one_per_level_of_a_nested_query(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    # One connection: asyncpg's one-off type introspection happens in the warm-up only.
    app = app_for(database_url, min_connections=1, max_connections=1)

    async with serve(app) as client:
        await seed_three_users_with_two_paid_orders_each(raw_connection)
        warm_up = await post(client, query=NESTED)
        body = await post(client, query=NESTED, operationName="Nested")
        text = await scrape(client)

    assert "errors" not in warm_up
    assert len(body["data"]["users"]["nodes"]) == 3
    assert sample(text, "gateway_graphql_request_statements_count", operation="Nested") == 1
    assert sample(text, "gateway_graphql_request_statements_sum", operation="Nested") == 3
    assert (
        sample(text, "gateway_graphql_request_statements_bucket", operation="Nested", le="2.0") == 0
    )
    assert (
        sample(text, "gateway_graphql_request_statements_bucket", operation="Nested", le="3.0") == 1
    )


async def test_dataloader_batch_sizes_are_observed(
    database_url: str, raw_connection: asyncpg.Connection
) -> None:
    async with serve(app_for(database_url)) as client:
        await seed_three_users_with_two_paid_orders_each(raw_connection)
        await post(client, query=NESTED, operationName="Nested")
        text = await scrape(client)

    # orders of the 3 users in one batch, then payments of their 6 orders in another
    assert sample(text, "gateway_dataloader_batch_size_count") == 2
    assert sample(text, "gateway_dataloader_batch_size_sum") == 3 + 6
    assert sample(text, "gateway_dataloader_batch_size_bucket", le="2.0") == 0
    assert sample(text, "gateway_dataloader_batch_size_bucket", le="5.0") == 1
    assert sample(text, "gateway_dataloader_batch_size_bucket", le="10.0") == 2


async def test_operation_names_past_the_cap_are_counted_as_other(database_url: str) -> None:
    async with serve(app_for(database_url)) as client:
        for n in range(100):
            await post(client, query=f"query Op{n} {{ __typename }}", operationName=f"Op{n}")
        await post(client, query="query OneTooMany { __typename }", operationName="OneTooMany")
        await post(client, query="query Op7 { __typename }", operationName="Op7")
        text = await scrape(client)

    assert sample(text, "gateway_graphql_requests_total", operation="Op99") == 1
    assert sample(text, "gateway_graphql_requests_total", operation="Op7") == 2
    assert sample(text, "gateway_graphql_requests_total", operation="OneTooMany") is None
    assert sample(text, "gateway_graphql_requests_total", operation="other") == 1


async def test_an_operation_name_that_is_no_graphql_name_is_counted_as_other(
    database_url: str,
) -> None:
    long_name = "Op" + "x" * 150  # a GraphQL name, but past the 100 characters a label may have

    async with serve(app_for(database_url)) as client:
        await post(client, query=f"query {long_name} {{ __typename }}", operationName=long_name)
        text = await scrape(client)

    assert sample(text, "gateway_graphql_requests_total", operation="other") == 1


def refused_request(n: int) -> dict[str, Any]:
    """The n-th of a mix of requests refused before execution, each with its own name."""
    name = f"Junk{n}"
    kinds: list[dict[str, Any]] = [
        {"query": f"query {name} {{ nosuchfield }}"},  # validation
        {"query": f"query {name} {{ users {{ nodes "},  # parse
        {"query": "query Known { __typename }"},  # no operation of that name
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},  # miss
        {"query": f"query {name}($id: Int!) {{ user(id: $id) {{ id }} }}"},  # no variable
        {
            "query": f"query {name} {{ " + "users(first: 100) { nodes { orders(first: 100) "
            "{ nodes { id } } } } }"
        },  # cost limit
    ]
    return kinds[n % len(kinds)] | {"operationName": name}


async def test_refused_requests_count_as_refused_and_take_no_label_slot(database_url: str) -> None:
    async with serve(app_for(database_url)) as client:
        for n in range(150):
            response = await client.post("/graphql", json=refused_request(n))
            assert "errors" in response.json(), response.text
        for n in range(100):  # exactly as many distinct names as there are slots
            await post(client, query=f"query Op{n} {{ __typename }}", operationName=f"Op{n}")
        text = await scrape(client)

    assert sample(text, "gateway_graphql_requests_total", operation="Op99") == 1
    assert sample(text, "gateway_graphql_requests_total", operation="other") is None
    assert "Junk" not in text
    assert sample(text, "gateway_graphql_requests_total", operation="refused") == 150


async def test_requests_the_guard_refuses_count_as_refused_with_their_codes(
    database_url: str,
) -> None:
    async with serve(app_for(database_url), token=None) as client:
        await client.get("/graphql", params={"query": "{ __typename }"})  # no preflight: CSRF
        await client.post(
            "/graphql", content=b"[" * 1000, headers={"content-type": "application/json"}
        )
        await client.post("/graphql", content=b"{", headers={"content-type": "application/json"})
        text = await scrape(client)

    assert sample(text, "gateway_graphql_requests_total", operation="refused") == 3
    assert sample(text, "gateway_graphql_request_duration_seconds_count", operation="refused") == 3
    for code in ("CSRF_PREVENTED", "JSON_TOO_DEEP", "INVALID_JSON"):
        assert sample(text, "gateway_graphql_errors_total", code=code) == 1


async def test_an_operation_named_like_a_fixed_label_is_counted_as_other(
    database_url: str,
) -> None:
    async with serve(app_for(database_url)) as client:
        await post(client, query="query refused { __typename }", operationName="refused")
        await post(client, query="query anonymous { __typename }", operationName="anonymous")
        text = await scrape(client)

    assert sample(text, "gateway_graphql_requests_total", operation="other") == 2
    assert sample(text, "gateway_graphql_requests_total", operation="refused") is None
    assert sample(text, "gateway_graphql_requests_total", operation="anonymous") is None


async def test_two_apps_in_one_process_keep_their_own_metrics(database_url: str) -> None:
    first, second = app_for(database_url), app_for(database_url)

    async with serve(first) as first_client, serve(second) as second_client:
        await post(first_client, query="query OnlyFirst { __typename }", operationName="OnlyFirst")
        first_text = await scrape(first_client)
        second_text = await scrape(second_client)

    assert sample(first_text, "gateway_graphql_requests_total", operation="OnlyFirst") == 1
    assert sample(second_text, "gateway_graphql_requests_total", operation="OnlyFirst") is None


async def test_health_and_metrics_requests_are_not_counted_as_graphql(database_url: str) -> None:
    async with serve(app_for(database_url)) as client:
        await client.get("/health/ready")
        await scrape(client)
        text = await scrape(client)

    assert "gateway_graphql_requests_total{" not in text


@pytest.mark.parametrize(
    "settings",
    [{"production": True}, {"metrics_port": 9464}, {"production": True, "metrics_port": 9464}],
    ids=["production", "own-port", "production-own-port"],
)
async def test_metrics_are_not_on_the_public_port_in_production_or_with_a_port_of_their_own(
    database_url: str, settings: dict[str, object]
) -> None:
    async with serve(app_for(database_url, **settings)) as client:
        response = await client.get("/metrics")

    assert response.status_code == 404
    assert "gateway_" not in response.text


async def test_the_metrics_app_serves_the_metrics_of_the_apps_requests(database_url: str) -> None:
    app = app_for(database_url, production=True, metrics_port=9464)
    state = app.state.gateway_router
    assert isinstance(state, RouterState)
    transport = httpx.ASGITransport(app=metrics_app(state.metrics))

    async with (
        serve(app) as client,
        httpx.AsyncClient(transport=transport, base_url="http://metrics") as metrics_client,
    ):
        await post(client, query="query Seen { __typename }", operationName="Seen")
        scraped = await metrics_client.get("/metrics")
        elsewhere = await metrics_client.get("/graphql")

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert sample(scraped.text, "gateway_graphql_requests_total", operation="Seen") == 1
    assert elsewhere.status_code == 404
