"""The floor: the benchmark's answers from hand-written SQL, raw asyncpg and orjson.

A bare ASGI callable, no framework, no GraphQL parsing: it picks the operation by the body's
`operationName`, runs the fewest statements that produce the answer on one pooled
connection, and serializes with orjson. Every other contender is measured against it.

    uvicorn benchmarks.contenders.floor:create --factory
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from benchmarks.contenders import database_url, encode_cursor, pool_size

__all__ = ["FloorApp", "create"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_PAGE = 20
MAX_PAGE = 500

USER_BY_ID = "SELECT id, email, name, created_at FROM users.users WHERE id = $1"
USERS_PAGE = "SELECT id, name FROM users.users ORDER BY id LIMIT $1"
# Decimals are read as text: the answer carries them as strings, exactly as PostgreSQL has them.
ORDERS_OF_USERS = """
SELECT id, user_id, status, total::text AS total, created_at FROM (
    SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY id) AS position
    FROM orders.orders WHERE user_id = ANY($1::int[])
) ranked
WHERE position <= $2
ORDER BY user_id, id
"""
PAYMENTS_OF_ORDERS = """
SELECT id, order_id, amount::text AS amount, currency, status FROM (
    SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY id) AS position
    FROM payments.payments WHERE order_id = ANY($1::int[])
) ranked
WHERE position <= $2
ORDER BY order_id, id
"""
# The user check, the order and its items in one statement: one round trip, one transaction.
PLACE_ORDER = """
WITH owner AS (SELECT id FROM users.users WHERE id = $1),
new_order AS (
    INSERT INTO orders.orders (user_id, total) SELECT id, $2 FROM owner
    RETURNING id, status, total
),
new_items AS (
    INSERT INTO orders.line_items (order_id, sku, quantity, unit_price)
    SELECT new_order.id, item.sku, item.quantity, item.unit_price
    FROM new_order, unnest($3::text[], $4::int[], $5::numeric[])
        WITH ORDINALITY AS item (sku, quantity, unit_price, position)
    ORDER BY item.position
    RETURNING id, sku, quantity, unit_price
)
SELECT o.id, o.status, o.total::text AS total,
       i.sku, i.quantity, i.unit_price::text AS unit_price
FROM new_order o JOIN new_items i ON true
ORDER BY i.id
"""


class FloorApp:
    """The ASGI application; the pool opens at lifespan startup."""

    def __init__(self, url: str, pool_size: int) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        status, answer = await self._answer(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._pool = await asyncpg.create_pool(
                    self._url, min_size=self._pool_size, max_size=self._pool_size
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    await self._pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _answer(self, body: bytes) -> tuple[int, bytes]:
        try:
            request = orjson.loads(body)
            operation, variables = request["operationName"], request.get("variables") or {}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return 400, orjson.dumps({"errors": [{"message": "Send a JSON GraphQL request."}]})
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            if operation == "UserById":
                data = {"user": await _user(conn, variables["id"])}
            elif operation == "UsersWithOrders":
                data = {"users": await _users_with_orders(conn, variables["first"])}
            elif operation == "PlaceOrder":
                order = await _place_order(conn, variables["input"])
                if order is None:
                    message = f"There is no user with id {variables['input']['userId']}."
                    error = {"message": message, "extensions": {"code": "NOT_FOUND"}}
                    return 200, orjson.dumps({"data": None, "errors": [error]})
                data = {"placeOrder": order}
            else:
                message = f"The floor does not know the operation {operation!r}."
                return 400, orjson.dumps({"errors": [{"message": message}]})
        return 200, orjson.dumps({"data": data})


async def _user(conn: asyncpg.pool.PoolConnectionProxy, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(USER_BY_ID, user_id)
    if row is None:
        return None
    return {"id": row[0], "email": row[1], "name": row[2], "createdAt": row[3]}


async def _users_with_orders(conn: asyncpg.pool.PoolConnectionProxy, first: int) -> dict[str, Any]:
    if not 0 <= first <= MAX_PAGE:
        raise ValueError(f"first must be between 0 and {MAX_PAGE}")
    users = await conn.fetch(USERS_PAGE, first + 1)
    page = users[:first]
    orders_by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    more_orders: set[int] = set()
    for row in await conn.fetch(ORDERS_OF_USERS, [user[0] for user in page], DEFAULT_PAGE + 1):
        nodes = orders_by_user[row[1]]
        if len(nodes) == DEFAULT_PAGE:
            more_orders.add(row[1])
            continue
        nodes.append(
            {"id": row[0], "status": row[2], "total": row[3], "createdAt": row[4], "payments": None}
        )
    orders = {order["id"]: order for nodes in orders_by_user.values() for order in nodes}
    payments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await conn.fetch(PAYMENTS_OF_ORDERS, list(orders), DEFAULT_PAGE + 1):
        nodes = payments[row[1]]
        if len(nodes) < DEFAULT_PAGE:
            nodes.append({"id": row[0], "amount": row[2], "currency": row[3], "status": row[4]})
    for order_id, order in orders.items():
        order["payments"] = {"nodes": payments.get(order_id, [])}
    return {
        "nodes": [
            {
                "id": user[0],
                "name": user[1],
                "orders": {
                    "nodes": orders_by_user.get(user[0], []),
                    "pageInfo": {"hasNextPage": user[0] in more_orders},
                },
            }
            for user in page
        ],
        "pageInfo": {
            "hasNextPage": len(users) > first,
            "endCursor": encode_cursor(page[-1][0]) if page else None,
        },
    }


async def _place_order(
    conn: asyncpg.pool.PoolConnectionProxy, new_order: dict[str, Any]
) -> dict[str, Any] | None:
    items = new_order["items"]
    skus = [item["sku"].strip() for item in items]
    quantities = [int(item["quantity"]) for item in items]
    prices = [Decimal(item["unitPrice"]) for item in items]
    total = sum(
        (price * quantity for price, quantity in zip(prices, quantities, strict=True)), Decimal(0)
    )
    rows = await conn.fetch(PLACE_ORDER, new_order["userId"], total, skus, quantities, prices)
    if not rows:
        return None
    return {
        "id": rows[0][0],
        "status": rows[0][1],
        "total": rows[0][2],
        "items": [{"sku": row[3], "quantity": row[4], "unitPrice": row[5]} for row in rows],
    }


def create() -> FloorApp:
    """uvicorn's factory: the app for DATABASE_URL."""
    return FloorApp(database_url(), pool_size())
