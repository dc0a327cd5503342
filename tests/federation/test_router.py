"""The subgraphs behind the real router (Hive Gateway): the README's query answers as the
in-process gateway answers it on the same database, each subgraph sending one statement
per level, and every subgraph keeps its service's permissions (the router forwards the
bearer token)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from graphql import InterfaceTypeDefinitionNode, ObjectTypeDefinitionNode, parse

import services
from gateway.app import create_app
from gateway.db import count_statements
from gateway.federation import build_subgraph
from gateway.federation.cluster import Child, Cluster
from services.users import EXAMPLE_QUERY
from tests.asgi import serve
from tests.federation.conftest import requests_of
from tests.tokens import ADMIN_HEADERS, app_settings, bearer, token_for

LOG_LIMIT = 10.0  # seconds for a subgraph's request line to reach its log


async def in_process(
    database_url: str, query: str, headers: dict[str, str] | None
) -> tuple[Any, int]:
    """The in-process gateway's answer to `query` on `database_url`, and its statements."""
    # One connection: the warm-up request warms the one the counted request uses.
    settings = app_settings(database_url=database_url, min_connections=1, max_connections=1)
    app = create_app(settings, services.SERVICES)
    async with serve(app, token=None) as client:
        await client.post("/graphql", json={"query": query}, headers=headers)  # see below
        with count_statements() as statements:
            response = await client.post("/graphql", json={"query": query}, headers=headers)
            await asyncio.sleep(0)  # asyncpg reports statements on the next loop iteration
    assert response.status_code == 200
    return response.json(), statements.count


async def routed(cluster: Cluster, query: str, headers: dict[str, str] | None) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(cluster.router_url, json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def logged_requests(child: Child, since: int, count: int) -> list[dict[str, Any]]:
    """The `count` request lines `child` logs after line `since` (waiting for them)."""
    deadline = time.monotonic() + LOG_LIMIT
    while len(requests := requests_of(child, since)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return requests


async def test_readme_query_through_the_router_is_the_in_process_answer_one_statement_a_level(
    cluster: Cluster, federation_database_url: str
) -> None:
    # Once before counting: asyncpg reads the types of a statement's parameters on a
    # connection's first use of them, with statements of its own.
    await routed(cluster, EXAMPLE_QUERY, ADMIN_HEADERS)
    for child in cluster.subgraphs.values():
        logged_requests(child, 0, 2)  # the composition's `_service` read, and that one
    marks = {name: len(child.lines) for name, child in cluster.subgraphs.items()}
    answer = await routed(cluster, EXAMPLE_QUERY, ADMIN_HEADERS)
    expected, statements = await in_process(federation_database_url, EXAMPLE_QUERY, ADMIN_HEADERS)
    assert answer == expected
    assert answer["data"]["users"]["nodes"][0]["orders"]["nodes"][0]["payments"]["nodes"] == [
        {"amount": "47.40", "currency": "EUR"}
    ]
    # One fetch per subgraph, each one statement: users, their orders, the orders'
    # payments; as many as the in-process gateway sends for the same three levels.
    per_subgraph = {
        name: [request["statements"] for request in logged_requests(child, marks[name], 1)]
        for name, child in cluster.subgraphs.items()
    }
    assert per_subgraph == {"users": [1], "orders": [1], "payments": [1]}
    assert statements == 3


async def test_each_subgraph_keeps_its_service_permissions_with_the_forwarded_token(
    cluster: Cluster, federation_database_url: str
) -> None:
    anonymous = await routed(cluster, EXAMPLE_QUERY, None)
    assert anonymous["data"] == {"users": None}
    assert [error["extensions"]["code"] for error in anonymous["errors"]] == ["FORBIDDEN"]
    # A user sees their own orders and payments (OwnUser in the orders subgraph, OwnOrder
    # in the payments subgraph, with the order's owner the router fetched from orders),
    # and another user's email is FORBIDDEN, as in-process.
    own = """{
      me { name orders(first: 2) { nodes { total payments { nodes { amount } } user { email } } } }
      user(id: 2) { name }
    }"""
    user = bearer(token_for(1))
    answer = await routed(cluster, own, user)
    expected, _ = await in_process(federation_database_url, own, user)
    assert answer["data"] == expected["data"]
    assert answer["data"]["me"]["orders"]["nodes"][0]["payments"]["nodes"] == [{"amount": "47.40"}]
    assert _codes(answer) == _codes(expected) == {("user",): "FORBIDDEN"}


async def test_a_mutation_through_the_router_returns_entities_across_subgraphs(
    cluster: Cluster,
) -> None:
    mutation = """mutation {
      placeOrder(input: {userId: 3, items: [{sku: "MUG-2", quantity: 2, unitPrice: "8.50"}]}) {
        total status user { name orders(first: 5) { nodes { total } } }
      }
    }"""
    answer = await routed(cluster, mutation, bearer(token_for(3)))
    assert "errors" not in answer, answer
    placed = answer["data"]["placeOrder"]
    assert (placed["total"], placed["status"], placed["user"]["name"]) == (
        "17.00",
        "PENDING",
        "Alan Turing",
    )
    assert {"total": "17.00"} in placed["user"]["orders"]["nodes"]


def _codes(answer: Any) -> dict[tuple[str, ...], str]:
    return {
        tuple(str(part) for part in error["path"]): error["extensions"]["code"]
        for error in answer.get("errors", [])
    }


async def test_each_subgraph_serves_the_schema_its_sdl_describes(cluster: Cluster) -> None:
    # The served schema is built without Federation's directives, the SDL with them: both
    # must have the same object types and fields, or the router would plan fetches the
    # subgraph refuses.
    introspection = "{ __schema { types { name kind fields { name } } } }"
    for name, url in cluster.subgraph_urls.items():
        async with httpx.AsyncClient(timeout=30) as client:
            served = (await client.post(url, json={"query": introspection})).json()
            sdl = (await client.post(url, json={"query": "{ _service { sdl } }"})).json()
        assert sdl["data"]["_service"]["sdl"] == build_subgraph(services.SERVICES, name).sdl
        served_fields = {
            kind["name"]: {field["name"] for field in kind["fields"]}
            for kind in served["data"]["__schema"]["types"]
            if kind["kind"] in ("OBJECT", "INTERFACE") and not kind["name"].startswith("__")
        }
        described = {
            definition.name.value: {field.name.value for field in definition.fields or ()}
            for definition in parse(sdl["data"]["_service"]["sdl"]).definitions
            if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode)
        }
        assert served_fields == described, name
