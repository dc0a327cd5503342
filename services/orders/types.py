"""The orders service's public GraphQL types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from gateway import Info, Node, max_items
from services.users.data import UserData
from services.users.types import User

MAX_LINE_ITEMS = 50  # placeOrder refuses more; Order.items declares it for the cost limit


@strawberry.enum(description="Where an order is in its life.")
class OrderStatus(Enum):
    PENDING = "PENDING"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"


@strawberry.type(description="One product line of an order.")
class LineItem:
    id: int
    sku: str
    quantity: int
    unit_price: Decimal
    order_id: strawberry.Private[int]


@strawberry.type(description="An order placed by a user.")
class Order(Node):
    id: int
    status: OrderStatus
    total: Decimal
    currency: str = strawberry.field(
        description="The ISO 4217 code of the total; payments must be in it."
    )
    created_at: datetime
    user_id: strawberry.Private[int]

    @strawberry.field(description="Who placed the order.")
    async def user(self, info: Info) -> User | None:
        return await info.context.loaders(UserData).by_id.load(self.user_id)

    @strawberry.field(description="The order's product lines.", metadata=max_items(MAX_LINE_ITEMS))
    async def items(self, info: Info) -> list[LineItem]:
        from services.orders.data import OrderData  # the loaders build these types

        return await info.context.loaders(OrderData).items.load(self.id)


@strawberry.input(description="One product line of a new order.")
class LineItemInput:
    sku: str
    quantity: int
    unit_price: Decimal


@strawberry.input(description="A new order for an existing user.")
class PlaceOrderInput:
    user_id: int
    items: list[LineItemInput]
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code of the prices, such as USD; EUR if omitted."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "A unique key (a UUID) for this order: sending it again, after a TIMEOUT say, "
            "returns the order it placed instead of placing another; the same key with "
            "other arguments is refused (CONFLICT)."
        ),
    )
