"""The payments service's root fields."""

from __future__ import annotations

import strawberry

from gateway.context import Info
from gateway.errors import NotFound
from services.orders.loaders import OrderLoaders
from services.orders.types import OrderStatus
from services.payments.loaders import PaymentLoaders
from services.payments.types import Payment, RecordPaymentInput


@strawberry.type
class PaymentsMutation:
    @strawberry.mutation(
        description="Record a payment for an order; the order becomes PAID once fully paid."
    )
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> Payment:
        orders = info.context.loaders(OrderLoaders)
        order = await orders.by_id.load(input.order_id)
        if order is None:
            raise NotFound(f"There is no order with id {input.order_id}.")
        payment, paid = await info.context.loaders(PaymentLoaders).record(
            order.id, input.amount, input.currency.strip().upper(), input.status
        )
        if order.status is OrderStatus.PENDING and paid >= order.total:
            await orders.mark(order.id, OrderStatus.PAID)  # through orders' public API
        return payment
