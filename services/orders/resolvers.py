"""The orders service's root fields."""

from __future__ import annotations

import strawberry

from gateway import Info, NotFound, SignedIn, guarded
from services.orders.data import DEFAULT_CURRENCY, OrderData
from services.orders.permissions import OrderForSelf, OwnOrder
from services.orders.types import Order, PlaceOrderInput
from services.users.data import UserData


@strawberry.type
class OrdersQuery:
    @strawberry.field(
        description=(
            "One order by id, or null: the signed-in user's own (any for an admin); another "
            "user's order is null, as if there were none."
        ),
        extensions=[guarded(SignedIn)],
    )
    async def order(self, info: Info, id: int) -> Order | None:
        order = await info.context.loaders(OrderData).by_id.load(id)
        # Null rather than FORBIDDEN: order ids are sequential, and a refusal would tell
        # which ones exist.
        return (
            order
            if order is not None and _OWN_ORDER.allows(info.context.viewer, order, {})
            else None
        )


@strawberry.type
class OrdersMutation:
    @strawberry.mutation(
        description=(
            "Place an order for an existing user (the signed-in one; admins for anyone); with "
            "an idempotencyKey sent before, the order it placed."
        ),
        extensions=[guarded(OrderForSelf)],
    )
    async def place_order(self, info: Info, input: PlaceOrderInput) -> Order | None:
        # Cross-service check through the users service's public loader, never its tables.
        if await info.context.loaders(UserData).by_id.load(input.user_id) is None:
            raise NotFound(f"There is no user with id {input.user_id}.")
        items = [(item.sku.strip(), item.quantity, item.unit_price) for item in input.items]
        return await info.context.loaders(OrderData).place(
            input.user_id,
            items,
            currency=(input.currency or DEFAULT_CURRENCY).strip().upper(),
            idempotency_key=input.idempotency_key,
        )


_OWN_ORDER = OwnOrder()
