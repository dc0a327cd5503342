"""The orders service's data API: batched reads and writes, what others call.

Other services' transactions may include orders' statements: `lock_for_update(tx, ...)`
and `mark_within(tx, ...)` run on the caller's transaction (`db.within(tx)`), rendered for
the orders schema, so a payment and the order it pays commit together.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from aiodataloader import DataLoader

from gateway import (
    BadUserInput,
    BatchLoader,
    ChildPageLoader,
    IdempotencyKey,
    by_id_loader,
    is_storable_text,
)
from gateway.db import AsyncDatabaseManager, TransactionManager
from services.orders import store
from services.orders.types import MAX_LINE_ITEMS, LineItem, Order, OrderStatus

MAX_QUANTITY = 10_000
MAX_UNIT_PRICE = Decimal("1000000")
DEFAULT_CURRENCY = "EUR"
_CURRENCY = re.compile(r"[A-Z]{3}")


class OrderData:
    """Orders by id and by user (batched), their line items, and order changes."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self._db = db
        self.by_id: DataLoader[int, Order | None] = by_id_loader(
            lambda ids: store.orders_by_ids(db, ids)
        )
        self.of_user = ChildPageLoader(db, store.ORDERS_OF_USERS)
        self.items: DataLoader[int, list[LineItem]] = BatchLoader(self._items_of_orders)

    async def _items_of_orders(self, order_ids: list[int]) -> list[list[LineItem]]:
        grouped: dict[int, list[LineItem]] = defaultdict(list)
        for item in await store.items_of_orders(self._db, order_ids):
            grouped[item.order_id].append(item)
        return [grouped[order_id] for order_id in order_ids]

    async def place(
        self,
        user_id: int,
        items: list[tuple[str, int, Decimal]],
        *,
        currency: str = DEFAULT_CURRENCY,
        idempotency_key: str | None = None,
    ) -> Order:
        """Create an order (the caller has checked the user exists); with the key of an
        order placed before, that order (same arguments) or CONFLICT (other arguments)."""
        if not 1 <= len(items) <= MAX_LINE_ITEMS:
            raise BadUserInput(f"An order has between 1 and {MAX_LINE_ITEMS} line items.")
        for sku, quantity, unit_price in items:
            if not 1 <= len(sku.strip()) <= 64:
                raise BadUserInput("A SKU has between 1 and 64 characters.")
            if not is_storable_text(sku):
                raise BadUserInput("A SKU cannot contain NUL or unpaired surrogates.")
            if not 1 <= quantity <= MAX_QUANTITY:
                raise BadUserInput(f"A quantity is between 1 and {MAX_QUANTITY}.")
            # is_finite() first: comparing NaN raises InvalidOperation instead of refusing.
            if not (
                unit_price.is_finite()
                and Decimal("0") <= unit_price <= MAX_UNIT_PRICE
                and unit_price == round(unit_price, 2)
            ):
                raise BadUserInput(
                    f"A unit price is between 0 and {MAX_UNIT_PRICE}, with at most 2 decimals."
                )
        if not _CURRENCY.fullmatch(currency):
            raise BadUserInput("A currency is a three-letter ISO 4217 code such as EUR.")
        key = IdempotencyKey.for_request(
            idempotency_key,
            user_id,
            currency,
            [[sku, quantity, f"{unit_price:.2f}"] for sku, quantity, unit_price in items],
        )
        db = self._db

        async def insert() -> tuple[Order, str | None] | None:
            placed = await store.insert_order(
                db,
                user_id,
                items,
                currency=currency,
                idempotency_key=key.value,
                request_digest=key.digest,
            )
            if placed is None:  # placed before with this key
                return await store.order_by_key(db, key.value)
            order, line_items = placed
            self.items.prime(order.id, line_items)
            return order, key.digest

        found = await key.write_once(db, insert, lambda: store.order_by_key(db, key.value))
        if found is None or found[1] != key.digest:
            raise key.reused("order")
        order = found[0]
        self.by_id.prime(order.id, order)
        return order

    async def lock_for_update(self, tx: TransactionManager, order_id: int) -> Order | None:
        """The order, read in `tx` (another service's transaction on this pool) and locked
        until it ends (`SELECT ... FOR UPDATE`): writers of the order wait their turn."""
        return await store.lock_order(self._db.within(tx), order_id)

    async def mark_within(
        self, tx: TransactionManager, order_id: int, status: OrderStatus
    ) -> Order | None:
        """Move an order to `status` inside `tx`: it commits, or not, with the caller's work."""
        order = await store.set_status(self._db.within(tx), order_id, status)
        self.by_id.clear(order_id)  # read again after the caller's commit, not primed before
        return order
