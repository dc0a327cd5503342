"""Fields the orders service adds to other services' types."""

from __future__ import annotations

import strawberry

from gateway.context import Info
from gateway.pagination import Connection
from services.orders.loaders import OrderLoaders
from services.orders.types import Order
from services.users.types import User


@strawberry.type
class UserOrders:
    """Added to User: the user's orders, a page at a time."""

    @strawberry.field(description="The user's orders, ordered by id.")
    async def orders(
        self,
        user: strawberry.Parent[User],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Order]:
        return await info.context.loaders(OrderLoaders).of_user.load(
            user.id, info.context.page(first, after)
        )
