"""The orders service's SQL, on its own schema only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from gateway import ChildPages, RowObjects, notify_sql
from gateway.db import AsyncDatabaseManager
from gateway.db.queries import QueryRunner
from services.orders.types import LineItem, Order, OrderStatus

# Decimals are read as text: Decimal(text) costs half asyncpg's numeric decoding.
ORDER_ROWS = RowObjects(
    Order,
    "id, user_id, status, total, currency, created_at",
    convert={"status": OrderStatus},
    as_text={"total": Decimal},
)
LINE_ITEM_ROWS = RowObjects(
    LineItem, "id, order_id, sku, quantity, unit_price", as_text={"unit_price": Decimal}
)
_ORDER_COLUMNS = ORDER_ROWS.columns
# Subscribers of orders (orderUpdated, myOrderUpdates) hear of every order placed or changed,
# by ids, when the change commits.
ORDERS_CHANNEL = "orders"
_NOTIFY = notify_sql(ORDERS_CHANNEL, order_id="id", user_id="user_id")

ORDERS_BY_IDS = f"SELECT {_ORDER_COLUMNS} FROM {{{{tables.orders}}}} WHERE id = ANY($1::int[])"


# The first $3 orders after $2 of every user in $1, in one statement, reading only the
# columns a query selects (the framework hands them over).
ORDERS_OF_USERS = ChildPages.of_table(ORDER_ROWS, table="orders", parent="user_id")
ITEMS_OF_ORDERS = (
    f"SELECT {LINE_ITEM_ROWS.columns} FROM {{{{tables.line_items}}}} "
    "WHERE order_id = ANY($1::int[]) ORDER BY order_id, id"
)
# The order and all its line items in one statement, items in the order given: one row per
# item, the order's columns repeated. Sequence values grow in the order rows are inserted, so
# sorting by the item's id gives them back in that order (as ITEMS_OF_ORDERS would read them).
# No row when an order with the idempotency key $7 exists (ON CONFLICT waits for a
# transaction still inserting it, so that order is committed and a next statement sees it).
INSERT_ORDER_WITH_ITEMS = f"""
WITH new_order AS (
    INSERT INTO {{{{tables.orders}}}} (user_id, total, currency, idempotency_key, request_digest)
    VALUES ($1, $2, $6, $7, $8)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING {_ORDER_COLUMNS}
),
new_items AS (
    INSERT INTO {{{{tables.line_items}}}} (order_id, sku, quantity, unit_price)
    SELECT new_order.id, item.sku, item.quantity, item.unit_price
    FROM new_order, unnest($3::text[], $4::int[], $5::numeric[])
        WITH ORDINALITY AS item (sku, quantity, unit_price, position)
    ORDER BY item.position
    RETURNING id, sku, quantity, unit_price
),
-- Its subscribers hear of it on commit (one row: once per order, not per item).
notified AS (SELECT {_NOTIFY} FROM new_order)
SELECT new_order.*, new_items.id AS item_id, new_items.sku, new_items.quantity,
       new_items.unit_price
FROM new_order, new_items, notified
ORDER BY new_items.id
"""
ORDER_BY_KEY = (
    f"SELECT {_ORDER_COLUMNS}, request_digest FROM {{{{tables.orders}}}} WHERE idempotency_key = $1"
)
# Held until the caller's transaction ends: payments of one order take their turn.
LOCK_ORDER = f"SELECT {_ORDER_COLUMNS} FROM {{{{tables.orders}}}} WHERE id = $1 FOR UPDATE"
# The change and its NOTIFY in one statement: delivered when the caller's transaction commits.
SET_STATUS = (
    f"WITH changed AS (UPDATE {{{{tables.orders}}}} SET status = $2 WHERE id = $1 "
    f"RETURNING {_ORDER_COLUMNS}), notified AS (SELECT {_NOTIFY} FROM changed) "
    "SELECT changed.* FROM changed, notified"
)


async def orders_by_ids(db: AsyncDatabaseManager, ids: Sequence[int]) -> list[Order]:
    return ORDER_ROWS.build_all(await db.fetch_records(ORDERS_BY_IDS, list(ids)))


async def items_of_orders(db: AsyncDatabaseManager, order_ids: Sequence[int]) -> list[LineItem]:
    return LINE_ITEM_ROWS.build_all(await db.fetch_records(ITEMS_OF_ORDERS, list(order_ids)))


async def insert_order(
    db: AsyncDatabaseManager,
    user_id: int,
    items: Sequence[tuple[str, int, Decimal]],
    *,
    currency: str,
    idempotency_key: str,
    request_digest: str,
) -> tuple[Order, list[LineItem]] | None:
    """Insert an order and its line items (at least one); returns both as stored, or None
    when an order with `idempotency_key` exists already (nothing is written)."""
    total = sum((price * quantity for _, quantity, price in items), Decimal("0"))
    skus = [sku for sku, _, _ in items]
    quantities = [quantity for _, quantity, _ in items]
    prices = [price for _, _, price in items]
    # One statement, yet in a transaction: run alone, it would commit as soon as it finished,
    # also for a gateway killed while it waited (on a lock, say); in a transaction nothing is
    # kept until this process, alive, sends COMMIT.
    async with db.transaction() as tx:
        rows = await tx.fetch_records(
            INSERT_ORDER_WITH_ITEMS,
            user_id,
            total,
            skus,
            quantities,
            prices,
            currency,
            idempotency_key,
            request_digest,
        )
    if not rows:
        return None
    order = ORDER_ROWS.build_by_name(rows[0])  # the order's columns, then the item's
    return order, [
        LineItem(
            id=row["item_id"],
            order_id=order.id,
            sku=row["sku"],
            quantity=row["quantity"],
            unit_price=row["unit_price"],
        )
        for row in rows
    ]


async def order_by_key(db: QueryRunner, idempotency_key: str) -> tuple[Order, str | None] | None:
    """The order placed with `idempotency_key` and the digest of its arguments, or None."""
    row = await db.fetch_records(ORDER_BY_KEY, idempotency_key)
    return (ORDER_ROWS.build_by_name(row[0]), row[0]["request_digest"]) if row else None


async def lock_order(tx: QueryRunner, order_id: int) -> Order | None:
    """The order, its row locked until `tx` (a transaction) ends; None if there is none."""
    rows = await tx.fetch_records(LOCK_ORDER, order_id)
    return ORDER_ROWS.build(rows[0]) if rows else None


async def set_status(tx: QueryRunner, order_id: int, status: OrderStatus) -> Order | None:
    """Move the order to `status` inside transaction `tx`, telling its subscribers on commit."""
    rows = await tx.fetch_records(SET_STATUS, order_id, status.value)
    return ORDER_ROWS.build(rows[0]) if rows else None
