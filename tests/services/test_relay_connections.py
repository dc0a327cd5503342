"""Every connection in Relay's shape beside `nodes`: `edges { cursor node }` and a complete
`pageInfo`, still one statement per level, and counted by the cost limit as `nodes` are."""

from __future__ import annotations

from typing import Any

from gateway.graphql.pagination import encode_cursor
from tests.services import GraphQL, counted, error_codes

PAGE = """
query ($after: String) {
  users(first: 2, after: $after) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def seed(graphql: GraphQL, users: int = 3) -> None:
    for number in range(users):
        body = await graphql(
            'mutation ($e: String!) { createUser(input: {email: $e, name: "U"}) { id } }',
            e=f"u{number}@example.com",
        )
        user_id = body["data"]["createUser"]["id"]
        for sku in ("A", "B"):
            await graphql(
                "mutation ($u: Int!, $s: String!) { placeOrder(input: {userId: $u, items: "
                '[{sku: $s, quantity: 1, unitPrice: "2.50"}]}) { id } }',
                u=user_id,
                s=sku,
            )


async def test_edges_carry_each_nodes_cursor_and_page_info_says_where_the_page_is(
    graphql: GraphQL,
) -> None:
    await seed(graphql)

    first, _ = await counted(graphql, PAGE)
    second, _ = await counted(graphql, PAGE, after=first["users"]["pageInfo"]["endCursor"])

    edges = first["users"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [1, 2]
    assert [edge["cursor"] for edge in edges] == [encode_cursor(1), encode_cursor(2)]
    assert first["users"]["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": edges[0]["cursor"],
        "endCursor": edges[-1]["cursor"],
    }
    assert [edge["node"]["id"] for edge in second["users"]["edges"]] == [3]
    assert second["users"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": encode_cursor(3),
        "endCursor": encode_cursor(3),
    }


async def test_nested_edges_read_the_selected_columns_in_one_statement_per_level(
    graphql: GraphQL,
) -> None:
    await seed(graphql)
    query = """
    { users(first: 5) { edges { node { email orders(first: 5) {
        edges { cursor node { total status } } nodes { id } } } } } }
    """

    data, statements = await counted(graphql, query)

    users = [edge["node"] for edge in data["users"]["edges"]]
    assert len(users) == 3
    for user in users:
        orders = user["orders"]
        assert [edge["node"] for edge in orders["edges"]] == [
            {"total": "2.50", "status": "PENDING"}
        ] * 2
        assert [edge["cursor"] for edge in orders["edges"]] == [
            encode_cursor(node["id"]) for node in orders["nodes"]
        ]
    assert len(statements) == 2, statements  # users, then every user's orders
    assert "total" in statements[1]


async def test_edges_count_toward_the_cost_limit_as_nodes_do(graphql: GraphQL) -> None:
    through: dict[str, Any] = {}
    for shape in ("nodes { %s }", "edges { node { %s } }"):
        inner = shape % "items { sku }"
        query = "{ users(first: 100) { %s } }" % (shape % f"orders(first: 100) {{ {inner} }}")
        through[shape] = await graphql(query)

    assert [error_codes(body) for body in through.values()] == [["QUERY_TOO_COSTLY"]] * 2
