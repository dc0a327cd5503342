"""The payments service's data API (reads batched per request, and recording a payment)."""

from __future__ import annotations

import re
from decimal import Decimal

from aiodataloader import DataLoader

from gateway import (
    BadUserInput,
    ChildPageLoader,
    IdempotencyKey,
    NotFound,
    Viewer,
    by_id_loader,
)
from gateway.db import AsyncDatabaseManager
from services.orders.data import OrderData
from services.orders.permissions import OwnOrder
from services.orders.types import OrderStatus
from services.payments import store
from services.payments.types import Payment

_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_AMOUNT = Decimal("10000000")
_OWN_ORDER = OwnOrder()


class PaymentData:
    """Payments by order (batched) and recording a payment."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self._db = db
        self.by_id: DataLoader[int, Payment | None] = by_id_loader(
            lambda ids: store.payments_by_ids(db, ids)
        )
        self.of_order = ChildPageLoader(db, store.PAYMENTS_OF_ORDERS)

    async def record(
        self,
        orders: OrderData,
        payer: Viewer,
        order_id: int,
        amount: Decimal,
        currency: str,
        *,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Record a succeeded payment for an order, through `orders` (this request's orders
        API), in one transaction: the order is locked, it must be `payer`'s (or `payer` an
        admin; another's is NOT_FOUND, as if there were none), the payment must be in its currency
        and at most what is left to pay, and the order becomes PAID when it is fully paid.
        With the key of a payment recorded before: that payment (same arguments) or CONFLICT
        (other arguments), never a second payment."""
        # is_finite() first: comparing NaN raises InvalidOperation instead of refusing.
        if not (
            amount.is_finite()
            and Decimal("0") < amount <= MAX_AMOUNT
            and amount == round(amount, 2)
        ):
            raise BadUserInput(
                f"An amount is above 0 and at most {MAX_AMOUNT}, with at most 2 decimals."
            )
        if not _CURRENCY.fullmatch(currency):
            raise BadUserInput("A currency is a three-letter ISO 4217 code such as EUR.")
        key = IdempotencyKey.for_request(idempotency_key, order_id, f"{amount:.2f}", currency)
        db = self._db

        async def pay() -> tuple[Payment, str | None] | None:
            async with db.transaction() as tx:
                # Every payment of this order waits here until the one before has committed
                # or rolled back: the balance read next is the whole truth.
                order = await orders.lock_for_update(tx, order_id)
                if order is None or not _OWN_ORDER.allows(payer, order, {}):
                    raise NotFound(f"There is no order with id {order_id}.")
                paid, existing = await store.paid_and_payment_by_key(tx, order_id, key.value)
                if existing is not None:
                    return existing
                if order.status is not OrderStatus.PENDING:
                    raise BadUserInput(
                        f"Order {order_id} is {order.status.value}; it takes no more payments."
                    )
                if currency != order.currency:
                    raise BadUserInput(
                        f"Order {order_id} is in {order.currency}; pay it in {order.currency}."
                    )
                remaining = order.total - paid
                if amount > remaining:
                    raise BadUserInput(
                        f"Order {order_id} has {remaining} {order.currency} left to pay; a "
                        f"payment of {amount:.2f} is more than that."
                    )
                payment = await store.insert_payment(
                    tx,
                    order_id,
                    amount,
                    currency,
                    idempotency_key=key.value,
                    request_digest=key.digest,
                )
                if payment is None:  # the key was used meanwhile, for another order's payment
                    return await store.payment_by_key(tx, key.value)
                if amount == remaining:
                    await orders.mark_within(tx, order_id, OrderStatus.PAID)
                return payment, key.digest

        found = await key.write_once(db, pay, lambda: store.payment_by_key(db, key.value))
        if found is None or found[1] != key.digest:
            raise key.reused("payment")
        return found[0]
