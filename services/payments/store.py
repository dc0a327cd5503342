"""The payments service's SQL, on its own schema only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from gateway import ChildPages, RowObjects
from gateway.db.queries import QueryRunner
from services.payments.types import Payment, PaymentStatus

PAYMENT_ROWS = RowObjects(
    Payment,
    "id, order_id, amount, currency, status, created_at",
    convert={"status": PaymentStatus},
    as_text={"amount": Decimal},  # Decimal(text) costs half asyncpg's numeric decoding
)
_COLUMNS = PAYMENT_ROWS.columns
PAYMENTS_BY_IDS = f"SELECT {_COLUMNS} FROM {{{{tables.payments}}}} WHERE id = ANY($1::int[])"


# The first $3 payments after $2 of every order in $1, in one statement, reading only the
# columns a query selects (the framework hands them over).
PAYMENTS_OF_ORDERS = ChildPages.of_table(PAYMENT_ROWS, table="payments", parent="order_id")
# A recorded payment has succeeded (the column's default): clients do not choose a status.
# No row when a payment with the idempotency key $4 exists (ON CONFLICT waits for a
# transaction still inserting it, so it is committed and a next statement sees it).
INSERT_PAYMENT = (
    f"INSERT INTO {{{{tables.payments}}}} (order_id, amount, currency, idempotency_key, "
    f"request_digest) VALUES ($1, $2, $3, $4, $5) "
    f"ON CONFLICT (idempotency_key) DO NOTHING RETURNING {_COLUMNS}"
)
PAYMENT_BY_KEY = (
    f"SELECT {_COLUMNS}, request_digest FROM {{{{tables.payments}}}} WHERE idempotency_key = $1"
)
# What the order $1 has received, and the payment made with the key $2 if any, at once.
PAID_AND_PAYMENT_BY_KEY = f"""
SELECT paid.total::text AS paid, existing.*
FROM (
    SELECT coalesce(sum(amount), 0) AS total FROM {{{{tables.payments}}}}
    WHERE order_id = $1 AND status = 'SUCCEEDED'
) paid
LEFT JOIN LATERAL (
    SELECT {_COLUMNS}, request_digest FROM {{{{tables.payments}}}} WHERE idempotency_key = $2
) existing ON true
"""


async def payments_by_ids(db: QueryRunner, ids: Sequence[int]) -> list[Payment]:
    return PAYMENT_ROWS.build_all(await db.fetch_records(PAYMENTS_BY_IDS, list(ids)))


async def paid_and_payment_by_key(
    tx: QueryRunner, order_id: int, idempotency_key: str
) -> tuple[Decimal, tuple[Payment, str | None] | None]:
    """The order's succeeded total, and the payment with `idempotency_key` and its digest."""
    row = (await tx.fetch_records(PAID_AND_PAYMENT_BY_KEY, order_id, idempotency_key))[0]
    existing = None
    if row["id"] is not None:
        existing = PAYMENT_ROWS.build_by_name(row), row["request_digest"]
    return Decimal(row["paid"]), existing


async def payment_by_key(
    db: QueryRunner, idempotency_key: str
) -> tuple[Payment, str | None] | None:
    """The payment made with `idempotency_key` and the digest of its arguments, or None."""
    rows = await db.fetch_records(PAYMENT_BY_KEY, idempotency_key)
    return (PAYMENT_ROWS.build_by_name(rows[0]), rows[0]["request_digest"]) if rows else None


async def insert_payment(
    tx: QueryRunner,
    order_id: int,
    amount: Decimal,
    currency: str,
    *,
    idempotency_key: str,
    request_digest: str,
) -> Payment | None:
    """The new payment as stored, or None when a payment with `idempotency_key` exists."""
    rows = await tx.fetch_records(
        INSERT_PAYMENT, order_id, amount, currency, idempotency_key, request_digest
    )
    return PAYMENT_ROWS.build(rows[0]) if rows else None
