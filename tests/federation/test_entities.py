"""`_entities` on a real subgraph app (in-process, so every statement is counted): N
representations of a type are one statement, for an entity the subgraph owns (its node
loader) and for a stub of another's (the batch field it adds); what the router may not send
is refused with a code."""

from __future__ import annotations

import asyncio
from typing import Any

import services
from gateway.db import count_statements
from gateway.federation import create_subgraph_app
from services.demo import load_demo_data
from tests.asgi import serve
from tests.tokens import app_settings

ENTITIES = "query ($r: [_Any!]!) { _entities(representations: $r) { %s } }"


async def entities(
    database_url: str, subgraph: str, selection: str, representations: list[Any]
) -> tuple[Any, int]:
    """The subgraph's answer to `_entities` (as an admin), and the statements it sent."""
    app = create_subgraph_app(
        app_settings(database_url=database_url),
        services.SERVICES,
        subgraph,
        on_startup=load_demo_data,
    )
    request = {"query": ENTITIES % selection, "variables": {"r": representations}}
    async with serve(app) as client:
        # Once before counting: asyncpg reads the types of a statement's parameters on a
        # connection's first use of them, with statements of its own.
        await client.post("/graphql", json=request)
        with count_statements() as statements:
            response = await client.post("/graphql", json=request)
            await asyncio.sleep(0)  # asyncpg reports statements on the next loop iteration
    assert response.status_code == 200
    return response.json(), statements.count


async def test_owned_entities_of_one_type_are_loaded_in_one_statement(database_url: str) -> None:
    users = [{"__typename": "User", "id": user_id} for user_id in (5, 1, 3, 2, 4)]
    answer, statements = await entities(database_url, "users", "... on User { id name }", users)
    assert statements == 1
    assert [user["id"] for user in answer["data"]["_entities"]] == [5, 1, 3, 2, 4]
    assert answer["data"]["_entities"][1]["name"] == "Ada Lovelace"


async def test_stub_entities_resolve_the_added_field_in_one_statement(database_url: str) -> None:
    users = [{"__typename": "User", "id": user_id} for user_id in range(1, 6)]
    selection = "... on User { id orders(first: 2) { nodes { total userId } } }"
    answer, statements = await entities(database_url, "orders", selection, users)
    assert statements == 1  # no statement for the stubs, one for the five users' orders
    pages = [user["orders"]["nodes"] for user in answer["data"]["_entities"]]
    assert pages[0] == [{"total": "47.40", "userId": 1}, {"total": "1299.00", "userId": 1}]
    assert all(len(page) == 2 for page in pages)
    orders = [{"__typename": "Order", "id": n, "userId": (n + 1) // 2} for n in range(1, 11)]
    selection = "... on Order { payments { nodes { amount } } }"
    answer, statements = await entities(database_url, "payments", selection, orders)
    assert statements == 1
    paid = [len(order["payments"]["nodes"]) for order in answer["data"]["_entities"]]
    assert paid == [1, 0] * 5


async def test_representations_the_subgraph_cannot_resolve_are_refused_with_a_code(
    database_url: str,
) -> None:
    representations = [
        {"__typename": "Payment", "id": 1},  # not an entity of the users subgraph
        {"__typename": "User", "id": "1"},  # not an Int id
        {"__typename": "User", "id": 1},
    ]
    answer, _ = await entities(database_url, "users", "... on User { name }", representations)
    assert answer["data"]["_entities"] == [None, None, {"name": "Ada Lovelace"}]
    codes = {tuple(error["path"]): error["extensions"]["code"] for error in answer["errors"]}
    assert codes == {("_entities", 0): "BAD_USER_INPUT", ("_entities", 1): "BAD_USER_INPUT"}
    orders = [{"__typename": "Order", "id": 1}]  # without the userId payments requires
    answer, _ = await entities(
        database_url, "payments", "... on Order { payments { nodes { amount } } }", orders
    )
    assert answer["data"]["_entities"] == [None]
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Traceback" not in str(answer)
    assert "SELECT" not in str(answer)
