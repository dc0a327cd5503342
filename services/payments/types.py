"""The payments service's public GraphQL types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from gateway import Info, Node
from services.orders.data import OrderData
from services.orders.types import Order


@strawberry.enum(description="The outcome of a payment.")
class PaymentStatus(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


@strawberry.type(description="Money received (or attempted) for an order.")
class Payment(Node):
    id: int
    amount: Decimal
    currency: str
    status: PaymentStatus
    created_at: datetime
    order_id: strawberry.Private[int]

    @strawberry.field(description="The order this payment is for.")
    async def order(self, info: Info) -> Order | None:
        return await info.context.loaders(OrderData).by_id.load(self.order_id)


@strawberry.input(description="A payment received for an order; it is recorded as SUCCEEDED.")
class RecordPaymentInput:
    order_id: int
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code; must be the order's.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "A unique key (a UUID) for this payment: sending it again, after a TIMEOUT say, "
            "returns the payment it recorded instead of paying twice; the same key with "
            "other arguments is refused (CONFLICT)."
        ),
    )
