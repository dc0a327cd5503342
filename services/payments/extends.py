"""Fields the payments service adds to other services' types."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from gateway import Connection, Info, batch_field
from services.orders.permissions import OwnOrder
from services.orders.types import Order
from services.payments.data import PaymentData
from services.payments.types import Payment


@strawberry.type
class OrderPayments:
    """Added to Order: the payments recorded for the order."""

    @batch_field(
        description="Payments for the order, ordered by id: for its user and admins.",
        permission_classes=[OwnOrder],
    )
    async def payments(
        orders: list[Order],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Sequence[Connection[Payment] | None]:
        loader = info.context.loaders(PaymentData).of_order
        return await loader.pages_of(orders, info, first, after, last, before)
