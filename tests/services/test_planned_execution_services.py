"""The services answer the same with planned execution as with graphql-core's executor.

`build_schema(services.SERVICES)` is built twice, `planned_execution=True` (the default) and
False, over one migrated database on the shared pool; each query runs on both with a fresh
request Context, and must give the same JSON (data with its key order, errors in any
order) for the same SQL statements. asyncpg's type introspection (a per-connection cache
fill, see tests/services/__init__.py) is set aside.

The planned schema runs with a subclass of PlannedExecutor that notes when it falls back to
graphql-core's executor, so that a silent fallback cannot make the comparison vacuous.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import services
from gateway.app import migrate_services
from gateway.db import AsyncDatabaseManager, count_statements
from gateway.execution.executor import PlannedExecutor
from gateway.graphql.context import Context
from gateway.graphql.pagination import MAX_PAGE_SIZE
from gateway.graphql.schema import GatewaySchema, build_schema
from gateway.limits.rules import Limits
from tests.services import is_asyncpg_introspection
from tests.tokens import ADMIN_VIEWER, app_settings

FALLBACKS: list[str] = []  # the operations graphql-core's executor ran for the planned schema


class GraphQLCoreRan(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        FALLBACKS.append(self.operation.operation.value)
        return super().execute_operation(serially)


class ObservedPlannedExecutor(PlannedExecutor, GraphQLCoreRan):
    """PlannedExecutor; its fallback to graphql-core goes through GraphQLCoreRan."""


@dataclass(frozen=True)
class Answer:
    """One execution: the response JSON and the statements it sent."""

    data_json: str
    data: Any
    errors: list[str]  # each error's JSON, sorted
    statements: list[str]  # sorted


@dataclass(frozen=True)
class Gateways:
    planned: GatewaySchema
    standard: GatewaySchema
    new_context: Callable[[], Context]

    async def answer(self, schema: GatewaySchema, query: str, **variables: Any) -> Answer:
        with count_statements() as recorder:
            result = await schema.execute(
                query, variable_values=variables, context_value=self.new_context()
            )
            await asyncio.sleep(0)  # asyncpg reports a statement on the next loop iteration
        return Answer(
            data_json=json.dumps(result.data),
            data=result.data,
            errors=sorted(
                json.dumps(error.formatted, sort_keys=True) for error in result.errors or ()
            ),
            statements=sorted(q for q in recorder.queries if not is_asyncpg_introspection(q)),
        )

    async def agree(self, query: str, **variables: Any) -> Answer:
        """Run `query` on both schemas, assert the same answer and statements, and that the
        planned one did not fall back; return the planned answer."""
        standard = await self.answer(self.standard, query, **variables)
        FALLBACKS.clear()
        planned = await self.answer(self.planned, query, **variables)
        assert FALLBACKS == [], "the planned schema ran this query on graphql-core's executor"
        assert planned.data_json == standard.data_json, planned.errors
        assert planned.errors == standard.errors
        assert len(planned.statements) == len(standard.statements)
        assert planned.statements == standard.statements
        return planned


async def seed(conn: asyncpg.Connection) -> None:
    """Users 1-4; users 1-3 have 3 orders of 2 line items, each order 2 payments (user 4
    has none)."""
    await conn.execute(
        "INSERT INTO users.users (email, name) "
        "SELECT 'user' || n || '@example.com', 'User ' || n FROM generate_series(1, 4) n"
    )
    await conn.execute(
        "INSERT INTO orders.orders (user_id, total) "
        "SELECT u.id, 10 * n FROM users.users u CROSS JOIN generate_series(1, 3) n "
        "WHERE u.id <= 3 ORDER BY u.id, n"
    )
    await conn.execute(
        "INSERT INTO orders.line_items (order_id, sku, quantity, unit_price) "
        "SELECT o.id, 'SKU-' || o.id || '-' || n, n, 2.5 * n "
        "FROM orders.orders o CROSS JOIN generate_series(1, 2) n ORDER BY o.id, n"
    )
    await conn.execute(
        "INSERT INTO payments.payments (order_id, amount, currency) "
        "SELECT o.id, 5, 'EUR' FROM orders.orders o CROSS JOIN generate_series(1, 2) "
        "ORDER BY o.id"
    )


@pytest.fixture
async def gateways(
    manager_factory: Callable[[str], AsyncDatabaseManager],
    database_url: str,
    raw_connection: asyncpg.Connection,
) -> Gateways:
    """Both schemas over this test's migrated, seeded database."""
    managers = {service.name: manager_factory(service.name) for service in services.SERVICES}
    await migrate_services(managers, app_settings(database_url=database_url))
    await seed(raw_connection)
    by_loader_set = {
        loader_set: managers[service.name]
        for service in services.SERVICES
        for loader_set in service.loaders
    }
    # EVERYTHING could answer 15,905 values (Order.items counts up to 50 lines): past the
    # default cost limit, which is not the subject here.
    limits = Limits(max_cost=100_000)
    planned = build_schema(services.SERVICES, limits=limits)
    standard = build_schema(services.SERVICES, limits=limits, planned_execution=False)
    assert planned.execution_context_class is PlannedExecutor
    assert not issubclass(standard.execution_context_class, PlannedExecutor)
    planned.execution_context_class = ObservedPlannedExecutor
    return Gateways(
        planned=planned,
        standard=standard,
        new_context=lambda: Context(by_loader_set, viewer=ADMIN_VIEWER),
    )


EVERYTHING = """
query ($first: Int, $after: String) {
  users(first: $first, after: $after) {
    nodes {
      id email name createdAt
      orders(first: 5) {
        nodes {
          id status total createdAt
          items { id sku quantity unitPrice }
          payments(first: 5) {
            nodes { id amount currency status createdAt order { id user { id name } } }
            pageInfo { hasNextPage endCursor }
          }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_users_orders_payments_back_to_order_and_user_agree(gateways: Gateways) -> None:
    planned = await gateways.agree(EVERYTHING, first=10)

    users = planned.data["users"]["nodes"]
    assert [len(user["orders"]["nodes"]) for user in users] == [3, 3, 3, 0]
    payment = users[0]["orders"]["nodes"][0]["payments"]["nodes"][0]
    assert payment["order"]["user"] == {"id": users[0]["id"], "name": "User 1"}
    # users, orders, line items, payments, orders by id, users by id
    assert len(planned.statements) == 6, planned.statements


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(
            "query ($id: Int!) { user(id: $id) { id email name createdAt "
            "orders(first: 2) { nodes { id total } pageInfo { hasNextPage endCursor } } } }",
            {"id": 2},
            id="user-by-id",
        ),
        pytest.param(
            "query ($id: Int!) { order(id: $id) { id status total "
            "items { id sku quantity unitPrice } user { email } payments { nodes { amount } } } }",
            {"id": 4},
            id="order-with-items",
        ),
        pytest.param(
            "{ a: user(id: 1) { name } b: user(id: 3) { name } again: user(id: 1) { email } "
            "__typename }",
            {},
            id="aliases-batched",
        ),
        pytest.param(
            "{ users(first: 2) { nodes { ...U orders(first: 1) { nodes { ...O } } } } } "
            "fragment U on User { id name } fragment O on Order { id payments(first: 1) "
            "{ nodes { id } pageInfo { hasNextPage } } }",
            {},
            id="fragments-and-small-pages",
        ),
        pytest.param(
            "{ users(first: 0) { nodes { id } pageInfo { hasNextPage endCursor } } }",
            {},
            id="first-0",
        ),
        pytest.param(
            "{ users { nodes { id orders(first: 0) { nodes { id } pageInfo { hasNextPage } } } } }",
            {},
            id="nested-first-0",
        ),
    ],
)
async def test_service_queries_agree(
    gateways: Gateways, query: str, variables: dict[str, Any]
) -> None:
    planned = await gateways.agree(query, **variables)

    assert planned.errors == []


async def test_every_page_agrees_following_after_cursors(gateways: Gateways) -> None:
    query = """
    query ($after: String, $ordersAfter: String) {
      users(first: 1, after: $after) {
        nodes { id orders(first: 2, after: $ordersAfter) {
          nodes { id } pageInfo { hasNextPage endCursor } } }
        pageInfo { hasNextPage endCursor }
      }
    }
    """
    seen: list[int] = []
    after = None
    while True:
        planned = await gateways.agree(query, after=after)
        page = planned.data["users"]
        seen += [user["id"] for user in page["nodes"]]
        orders = page["nodes"][0]["orders"]
        if orders["pageInfo"]["hasNextPage"]:
            rest = await gateways.agree(
                query, after=after, ordersAfter=orders["pageInfo"]["endCursor"]
            )
            assert len(rest.data["users"]["nodes"][0]["orders"]["nodes"]) == 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen)) == 4


TOO_MANY = MAX_PAGE_SIZE + 1
TOO_MANY_ORDERS = f"{{ users {{ nodes {{ id orders(first: {TOO_MANY}) {{ nodes {{ id }} }} }} }} }}"
TOO_MANY_PAYMENTS = f"{{ order(id: 1) {{ id payments(first: {TOO_MANY}) {{ nodes {{ id }} }} }} }}"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(f"{{ users(first: {MAX_PAGE_SIZE + 1}) {{ nodes {{ id }} }} }}", id="root"),
        pytest.param(TOO_MANY_ORDERS, id="nested-in-every-user"),
        pytest.param(TOO_MANY_PAYMENTS, id="batch-field"),
        pytest.param('{ users(after: "not a cursor") { nodes { id } } }', id="bad-cursor"),
    ],
)
async def test_a_page_size_or_cursor_refused_gives_the_same_errors(
    gateways: Gateways, query: str
) -> None:
    planned = await gateways.agree(query)

    codes = {json.loads(error)["extensions"]["code"] for error in planned.errors}
    assert codes == {"BAD_USER_INPUT"}


async def test_a_nested_page_above_the_maximum_nulls_each_users_orders_with_its_error(
    gateways: Gateways,
) -> None:
    planned = await gateways.agree(TOO_MANY_ORDERS)

    # orders is nullable (it is guarded): each user's is null, with the error at its path.
    assert planned.data is not None
    users = planned.data["users"]["nodes"]
    assert [user["orders"] for user in users] == [None] * len(users)
    assert sorted(json.loads(error)["path"] for error in planned.errors) == [
        ["users", "nodes", index, "orders"] for index in range(len(users))
    ]


async def test_unknown_ids_are_null(gateways: Gateways) -> None:
    planned = await gateways.agree(
        "{ user(id: 999) { id } order(id: 999) { id } known: user(id: 1) { id } }"
    )

    assert planned.data == {"user": None, "order": None, "known": {"id": 1}}
    assert planned.errors == []


# The same batch field twice under two aliases, same arguments, different selections: each
# alias must get the columns it selects (one loader per alias, not per arguments).
ALIASED_PAYMENTS = """
{ users(first: 1) { nodes { orders(first: 1) { nodes {
    a: payments(first: 3) { nodes { amount } }
    b: payments(first: 3) { nodes { currency } }
    c: payments(first: 1) { nodes { id amount } }
} } } } }
"""
UNALIASED_PAYMENTS = (
    "{ users(first: 1) { nodes { orders(first: 1) { nodes { payments(first: 3) "
    "{ nodes { id amount currency } } } } } } }"
)


def _payments_of_the_first_order(data: Any, key: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = data["users"]["nodes"][0]["orders"]["nodes"][0][key]["nodes"]
    return nodes


async def test_aliases_of_one_batch_field_get_what_each_selects_on_both_executors(
    gateways: Gateways,
) -> None:
    whole = await gateways.agree(UNALIASED_PAYMENTS)
    payments = _payments_of_the_first_order(whole.data, "payments")
    assert len(payments) == 2

    planned = await gateways.agree(ALIASED_PAYMENTS)

    assert planned.errors == []
    assert _payments_of_the_first_order(planned.data, "a") == [
        {"amount": p["amount"]} for p in payments
    ]
    assert _payments_of_the_first_order(planned.data, "b") == [
        {"currency": p["currency"]} for p in payments
    ]
    assert _payments_of_the_first_order(planned.data, "c") == [
        {"id": payments[0]["id"], "amount": payments[0]["amount"]}
    ]
    # users, orders, and one statement per alias of payments: never one per row.
    assert len(planned.statements) == 5, planned.statements


async def test_aliases_of_one_batch_field_on_graphql_cores_path_answer_alike(
    gateways: Gateways,
) -> None:
    # __schema sends the planned schema's operation to graphql-core, whose per-row resolvers
    # gather each level through a dataloader: the path where the first alias's narrowed
    # columns used to serve the second ('Payment' object has no attribute 'currency').
    planned_path = await gateways.answer(gateways.planned, ALIASED_PAYMENTS)
    introspected = ALIASED_PAYMENTS.rstrip()[:-1] + " __schema { queryType { name } } }"
    for schema in (gateways.planned, gateways.standard):
        FALLBACKS.clear()
        answer = await gateways.answer(schema, introspected)

        assert answer.errors == []
        assert {k: v for k, v in answer.data.items() if k != "__schema"} == planned_path.data
        assert len(answer.statements) == len(planned_path.statements)
        # The planned schema's run did fall back (the standard one is not observed).
        assert (["query"] if schema is gateways.planned else []) == FALLBACKS


async def test_aliases_of_one_batch_field_under_a_mutation_answer_alike(
    gateways: Gateways,
) -> None:
    mutation = """
    mutation { placeOrder(input: {
        userId: 1, items: [{sku: "X-1", quantity: 1, unitPrice: "2.50"}]
    }) {
        id
        a: payments(first: 3) { nodes { amount } }
        b: payments(first: 3) { nodes { currency } }
        user { x: orders(first: 1) { nodes { id } } y: orders(first: 1) { nodes { total } } }
    } }
    """
    for schema in (gateways.planned, gateways.standard):
        answer = await gateways.answer(schema, mutation)

        assert answer.errors == []
        placed = answer.data["placeOrder"]
        assert placed["a"] == {"nodes": []}
        assert placed["b"] == {"nodes": []}
        assert placed["user"]["x"]["nodes"][0].keys() == {"id"}
        assert placed["user"]["y"]["nodes"][0].keys() == {"total"}
