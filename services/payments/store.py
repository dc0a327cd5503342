"""The payments service's SQL, on its own schema only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from gateway.db import AsyncDatabaseManager
from gateway.pagination import PageArgs
from gateway.row_objects import RowObjects
from services.payments.types import Payment, PaymentStatus

PAYMENT_ROWS = RowObjects(
    Payment,
    "id, order_id, amount, currency, status, created_at",
    convert={"status": PaymentStatus},
    as_text={"amount": Decimal},  # Decimal(text) costs half asyncpg's numeric decoding
)
_COLUMNS = PAYMENT_ROWS.columns


def _payments_of_orders(columns: str) -> str:
    """The first $3 payments after $2 of every order in $1, in one statement."""
    return f"""
SELECT {columns} FROM (
    SELECT {columns}, row_number() OVER (PARTITION BY order_id ORDER BY id) AS position
    FROM {{{{tables.payments}}}}
    WHERE order_id = ANY($1::int[]) AND ($2::int IS NULL OR id > $2)
) ranked
WHERE position <= $3
ORDER BY order_id, id
"""


PAYMENTS_OF_ORDERS = _payments_of_orders(_COLUMNS)
INSERT_PAYMENT = (
    f"INSERT INTO {{{{tables.payments}}}} (order_id, amount, currency, status) "
    f"VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}"
)
PAID_FOR_ORDER = (
    "SELECT coalesce(sum(amount), 0) FROM {{tables.payments}} "
    "WHERE order_id = $1 AND status = 'SUCCEEDED'"
)


async def payments_of_orders(
    db: AsyncDatabaseManager,
    order_ids: Sequence[int],
    page: PageArgs,
    rows: RowObjects[Payment] = PAYMENT_ROWS,
) -> list[Payment]:
    """`rows`: PAYMENT_ROWS, or it narrowed to the columns a query reads."""
    sql = PAYMENTS_OF_ORDERS if rows is PAYMENT_ROWS else _payments_of_orders(rows.columns)
    return rows.build_all(await db.fetch_records(sql, list(order_ids), page.after_id, page.limit))


async def insert_payment(
    db: AsyncDatabaseManager, order_id: int, amount: Decimal, currency: str, status: PaymentStatus
) -> tuple[Payment, Decimal]:
    """The new payment and the order's succeeded total, read in the same transaction."""
    async with db.transaction() as tx:
        rows = await tx.fetch_records(INSERT_PAYMENT, order_id, amount, currency, status.value)
        paid: Decimal = await tx.fetch_value(PAID_FOR_ORDER, order_id)
    return PAYMENT_ROWS.build(rows[0]), paid
