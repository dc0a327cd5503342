"""Fields the orders service adds to other services' types."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from gateway import Connection, Info, batch_field
from services.orders.data import OrderData
from services.orders.types import Order
from services.users.permissions import OwnUser
from services.users.types import User


@strawberry.type
class UserOrders:
    """Added to User: the user's orders, a page at a time."""

    @batch_field(
        description="The user's orders, ordered by id: for that user and admins.",
        permission_classes=[OwnUser],
    )
    async def orders(
        users: list[User],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Sequence[Connection[Order] | None]:
        loader = info.context.loaders(OrderData).of_user
        return await loader.pages_of(users, info, first, after, last, before)
