"""Global object identification (gateway.graphql.nodes) over real HTTP with real tokens, on
the demo data (Ada is user 1 with orders 1 and 2, Grace user 2 with orders 3 and 4): every
type's `nodeId` finds it again through node(id:); nodes(ids:) reads each type in one
statement; each service's rules hold as on its own root fields."""

from __future__ import annotations

import asyncio

import pytest

from gateway.db import count_statements
from gateway.execution.executor import FALLBACKS
from gateway.graphql.nodes import MAX_NODE_IDS, encode_global_id
from tests.services import error_codes, is_asyncpg_introspection
from tests.services.shop import Shop
from tests.tokens import ADMIN_TOKEN, token_for

ADA = token_for(1)
NODE = """
query ($id: ID!) {
  node(id: $id) {
    __typename nodeId
    ... on User { id name }
    ... on Order { id total }
    ... on Payment { id amount }
  }
}
"""
NODES = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename
    ... on User { name }
    ... on Order { total user { name } }
    ... on Payment { amount }
  }
}
"""


def gid(type_name: str, row_id: int) -> str:
    return encode_global_id(type_name, row_id)


async def test_every_nodes_global_id_finds_it_again(shop: Shop) -> None:
    listed = await shop.ask(
        "{ users(first: 1) { nodes { nodeId id orders(first: 1) { nodes { nodeId id "
        "payments { nodes { nodeId id } } } } } } }",
        ADMIN_TOKEN,
    )
    user = listed["data"]["users"]["nodes"][0]
    order = user["orders"]["nodes"][0]
    payment = order["payments"]["nodes"][0]

    for typename, item in (("User", user), ("Order", order), ("Payment", payment)):
        found = await shop.ask(NODE, ADMIN_TOKEN, id=item["nodeId"])
        assert "errors" not in found, found
        assert found["data"]["node"]["__typename"] == typename
        assert found["data"]["node"]["id"] == item["id"]
        assert found["data"]["node"]["nodeId"] == item["nodeId"]


async def test_nodes_reads_each_type_in_one_statement(shop: Shop) -> None:
    ids = [gid("User", 1), gid("Order", 3), gid("User", 2), gid("Payment", 1), gid("Order", 1)]

    with count_statements() as recorder:
        body = await shop.ask(NODES, ADMIN_TOKEN, ids=ids)
        await asyncio.sleep(0)  # asyncpg reports a statement on the next loop iteration
    statements = [q for q in recorder.queries if not is_asyncpg_introspection(q)]

    assert "errors" not in body, body
    assert [node["__typename"] for node in body["data"]["nodes"]] == [
        "User",
        "Order",
        "User",
        "Payment",
        "Order",
    ]
    assert body["data"]["nodes"][1] == {
        "__typename": "Order",
        "total": "47.40",
        "user": {"name": "Grace Hopper"},
    }
    # users (both), orders (both), payments: one statement a type; the orders' users are
    # the users already loaded (the request's users loader has them)
    assert len(statements) == 3, statements


async def test_a_user_gets_only_what_the_services_own_fields_would_give(shop: Shop) -> None:
    body = await shop.ask(
        NODES,
        ADA,
        ids=[gid("User", 1), gid("User", 2), gid("Order", 2), gid("Order", 3), gid("Payment", 2)],
    )

    # Grace's account is refused as user(id: 2) is; her order and payment (of order 3) are
    # null, as order(id: 3) is: ids are sequential, a refusal would tell which exist.
    assert body["data"]["nodes"] == [
        {"__typename": "User", "name": "Ada Lovelace"},
        None,
        {"__typename": "Order", "total": "1299.00", "user": {"name": "Ada Lovelace"}},
        None,
        None,
    ]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["nodes", 1], "FORBIDDEN")
    ]


async def test_an_anonymous_client_gets_no_node(shop: Shop) -> None:
    body = await shop.ask(NODES, ids=[gid("User", 1), gid("Order", 1), gid("Payment", 1)])

    assert body["data"]["nodes"] == [None, None, None]
    assert error_codes(body) == ["FORBIDDEN"] * 3


@pytest.mark.parametrize(
    "bad_id",
    ["nope", gid("Customer", 1), gid("User", 0), encode_global_id("User", 1) + "x", "VXNlcjox AA"],
)
async def test_an_id_this_api_did_not_make_is_bad_user_input(shop: Shop, bad_id: str) -> None:
    body = await shop.ask(NODE, ADMIN_TOKEN, id=bad_id)

    assert body["data"] == {"node": None}
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_nodes_takes_at_most_its_maximum_and_counts_toward_the_cost_limit(
    shop: Shop,
) -> None:
    too_many = await shop.ask(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { nodeId } }",
        ADMIN_TOKEN,
        ids=[gid("User", 1)] * (MAX_NODE_IDS + 1),
    )
    costly = await shop.ask(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { ... on User { orders(first: 100) { "
        "nodes { items { sku } } } } } }",
        ADMIN_TOKEN,
        ids=[gid("User", 1)],
    )

    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    assert error_codes(costly) == ["QUERY_TOO_COSTLY"]  # counted at nodes' maximum


async def test_types_implementing_node_still_run_on_the_planned_executor(shop: Shop) -> None:
    before = sum(FALLBACKS.values())
    body = await shop.ask("{ users(first: 2) { nodes { nodeId name } } }", ADMIN_TOKEN)

    assert "errors" not in body, body
    assert sum(FALLBACKS.values()) == before
