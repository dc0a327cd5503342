"""Orders by global id (node(id:)), under order(id:)'s rule: signed in, and another user's
order is null, as a missing one is (ids are sequential; a refusal would tell which exist)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway import Forbidden, Info, SignedIn
from services.orders.data import OrderData
from services.orders.permissions import OwnOrder
from services.orders.types import Order

_OWN_ORDER = OwnOrder()


async def orders_by_id(info: Info, ids: Sequence[int]) -> list[Order | Exception | None]:
    viewer = info.context.viewer
    if viewer.is_anonymous:
        return [Forbidden(SignedIn.message) for _ in ids]
    orders = await info.context.loaders(OrderData).by_id.load_many(list(ids))
    return [
        order if order is not None and _OWN_ORDER.allows(viewer, order, {}) else None
        for order in orders
    ]
