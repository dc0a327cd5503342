"""The payments service's public per-request API."""

from __future__ import annotations

import re
from decimal import Decimal
from operator import attrgetter

from gateway.batching import ChildPageLoader
from gateway.db import AsyncDatabaseManager
from gateway.errors import BadUserInput
from services.payments import store
from services.payments.types import Payment, PaymentStatus

_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_AMOUNT = Decimal("10000000")


class PaymentLoaders:
    """Payments by order (batched) and recording a payment."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self._db = db
        self.of_order: ChildPageLoader[Payment] = ChildPageLoader(
            lambda order_ids, page, rows: store.payments_of_orders(db, order_ids, page, rows),
            parent_of=attrgetter("order_id"),
            rows=store.PAYMENT_ROWS,
        )

    async def record(
        self, order_id: int, amount: Decimal, currency: str, status: PaymentStatus
    ) -> tuple[Payment, Decimal]:
        """Record a payment (the caller has checked the order exists); returns the amount
        paid for the order so far."""
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
        return await store.insert_payment(self._db, order_id, amount, currency, status)
