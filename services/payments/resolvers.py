"""The payments service's root fields."""

from __future__ import annotations

import strawberry

from gateway import Info, SignedIn, guarded
from services.orders.data import OrderData
from services.payments.data import PaymentData
from services.payments.types import Payment, RecordPaymentInput


@strawberry.type
class PaymentsMutation:
    @strawberry.mutation(
        description=(
            "Record a succeeded payment for an order, in its currency and at most what is "
            "left to pay; the order becomes PAID once fully paid. With an idempotencyKey "
            "sent before, the payment it recorded. Only for the signed-in user's own orders "
            "(admins for any): another user's order is NOT_FOUND, as if there were none."
        ),
        extensions=[guarded(SignedIn)],
    )
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> Payment | None:
        # The order is locked and marked through orders' public API, in this one transaction;
        # whose it is is checked on the locked row.
        return await info.context.loaders(PaymentData).record(
            info.context.loaders(OrderData),
            info.context.viewer,
            input.order_id,
            input.amount,
            input.currency.strip().upper(),
            idempotency_key=input.idempotency_key,
        )
