"""The orders service's root fields."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from gateway import GatewayError, Info, NotFound, SignedIn, guarded, live
from services.orders.data import DEFAULT_CURRENCY, OrderData
from services.orders.permissions import OrderForSelf, OwnOrder
from services.orders.store import ORDERS_CHANNEL
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


@strawberry.type
class OrdersSubscription:
    @strawberry.subscription(
        description=(
            "Every change of one order (placed, then PAID after a full payment), as it "
            "commits: the signed-in user's own order (any for an admin). Another user's "
            "order is NOT_FOUND, as one that does not exist. A result with code "
            "EVENTS_MISSED means changes may have been lost: read the order again."
        ),
        extensions=[guarded(SignedIn)],
    )
    async def order_updated(self, info: Info, id: int) -> AsyncGenerator[Order, None]:
        order = await info.context.loaders(OrderData).by_id.load(id)
        if order is None or not _OWN_ORDER.allows(info.context.viewer, order, {}):
            raise NotFound(f"There is no order with id {id}.")
        async for event in live(info, ORDERS_CHANNEL, lambda ids: ids.get("order_id") == id):
            if isinstance(event, GatewayError):  # EVENTS_MISSED, or the token expired
                yield event  # type: ignore[misc]  # delivered to the client as its error
                continue
            changed = await info.context.loaders(OrderData).by_id.load(id)
            if changed is not None:
                yield changed

    @strawberry.subscription(
        description=(
            "Every order the signed-in user places, and every change to one of them, as it "
            "commits (an admin's own orders too, not everyone's)."
        ),
        extensions=[guarded(SignedIn)],
    )
    async def my_order_updates(self, info: Info) -> AsyncGenerator[Order, None]:
        subject = info.context.viewer.subject
        async for event in live(
            info, ORDERS_CHANNEL, lambda ids: str(ids.get("user_id")) == subject
        ):
            if isinstance(event, GatewayError):
                yield event  # type: ignore[misc]
                continue
            order = await info.context.loaders(OrderData).by_id.load(event.ids["order_id"])
            # Loaded under the viewer's own rule, as any read: never someone else's order.
            if order is not None and _OWN_ORDER.allows(info.context.viewer, order, {}):
                yield order
