"""The orders service's public per-request API: what other services may call."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from operator import attrgetter

from aiodataloader import DataLoader

from gateway.batching import BatchLoader, ChildPageLoader, by_id_loader
from gateway.db import AsyncDatabaseManager
from gateway.errors import BadUserInput
from gateway.validation import is_storable_text
from services.orders import store
from services.orders.types import MAX_LINE_ITEMS, LineItem, Order, OrderStatus

MAX_QUANTITY = 10_000
MAX_UNIT_PRICE = Decimal("1000000")


class OrderLoaders:
    """Orders by id and by user (batched), their line items, and order changes."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self._db = db
        self.by_id: DataLoader[int, Order | None] = by_id_loader(
            lambda ids: store.orders_by_ids(db, ids)
        )
        self.of_user: ChildPageLoader[Order] = ChildPageLoader(
            lambda user_ids, page, rows: store.orders_of_users(db, user_ids, page, rows),
            parent_of=attrgetter("user_id"),
            rows=store.ORDER_ROWS,
        )
        self.items: DataLoader[int, list[LineItem]] = BatchLoader(self._items_of_orders)

    async def _items_of_orders(self, order_ids: list[int]) -> list[list[LineItem]]:
        grouped: dict[int, list[LineItem]] = defaultdict(list)
        for item in await store.items_of_orders(self._db, order_ids):
            grouped[item.order_id].append(item)
        return [grouped[order_id] for order_id in order_ids]

    async def place(self, user_id: int, items: list[tuple[str, int, Decimal]]) -> Order:
        """Create an order (the caller has checked the user exists)."""
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
        order, line_items = await store.insert_order(self._db, user_id, items)
        self.by_id.prime(order.id, order)
        self.items.prime(order.id, line_items)
        return order

    async def mark(self, order_id: int, status: OrderStatus) -> Order | None:
        """Move an order to `status`; None if it does not exist."""
        order = await store.set_status(self._db, order_id, status)
        if order is not None:
            self.by_id.clear(order_id).prime(order_id, order)
        return order
