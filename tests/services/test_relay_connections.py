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


BACKWARD = """
query ($before: String) {
  users(last: 2, before: $before) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def test_last_and_before_page_backward_in_id_order(graphql: GraphQL) -> None:
    await seed(graphql)

    last, statements = await counted(graphql, BACKWARD)
    before = last["users"]["pageInfo"]["startCursor"]
    earlier, _ = await counted(graphql, BACKWARD, before=before)

    assert [edge["node"]["id"] for edge in last["users"]["edges"]] == [2, 3]
    assert last["users"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": encode_cursor(2),
        "endCursor": encode_cursor(3),
    }
    assert [edge["node"]["id"] for edge in earlier["users"]["edges"]] == [1]
    assert earlier["users"]["pageInfo"]["hasPreviousPage"] is False
    assert earlier["users"]["pageInfo"]["hasNextPage"] is True  # the row of `before` at least
    assert len(statements) == 1
    assert "ORDER BY id DESC" in statements[0]


async def test_nested_lists_page_backward_in_one_statement_per_level(graphql: GraphQL) -> None:
    await seed(graphql)
    query = """
    { users(first: 3) { nodes { id orders(last: 1) { nodes { id items { sku } }
        pageInfo { hasPreviousPage } } } } }
    """

    data, statements = await counted(graphql, query)

    orders = [user["orders"] for user in data["users"]["nodes"]]
    # each user's two orders: B was placed last
    assert [[o["items"][0]["sku"] for o in page["nodes"]] for page in orders] == [["B"]] * 3
    assert all(page["pageInfo"]["hasPreviousPage"] for page in orders)
    assert len(statements) == 3, statements  # users, their last orders, the orders' items


async def test_paging_both_ways_at_once_or_past_the_maximum_is_refused(
    graphql: GraphQL,
) -> None:
    both = await graphql("{ users(first: 1, last: 1) { nodes { id } } }")
    too_many = await graphql("{ users(last: 101) { nodes { id } } }")
    not_a_cursor = await graphql('{ users(last: 1, before: "nope") { nodes { id } } }')
    costly = await graphql(
        "{ users(last: 100) { nodes { orders(last: 100) { nodes { items { sku } } } } } }"
    )

    assert error_codes(both) == ["BAD_USER_INPUT"]
    assert "not both" in both["errors"][0]["message"]
    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    assert error_codes(not_a_cursor) == ["BAD_USER_INPUT"]
    assert "`before`" in not_a_cursor["errors"][0]["message"]
    assert error_codes(costly) == ["QUERY_TOO_COSTLY"]  # `last` bounds a list as `first` does
