"""The payments service's public GraphQL types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from gateway.context import Info
from services.orders.loaders import OrderLoaders
from services.orders.types import Order


@strawberry.enum(description="The outcome of a payment.")
class PaymentStatus(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


@strawberry.type(description="Money received (or attempted) for an order.")
class Payment:
    id: int
    amount: Decimal
    currency: str
    status: PaymentStatus
    created_at: datetime
    order_id: strawberry.Private[int]

    @strawberry.field(description="The order this payment is for.")
    async def order(self, info: Info) -> Order | None:
        return await info.context.loaders(OrderLoaders).by_id.load(self.order_id)


@strawberry.input(description="A payment received for an order.")
class RecordPaymentInput:
    order_id: int
    amount: Decimal
    currency: str
    status: PaymentStatus = PaymentStatus.SUCCEEDED
