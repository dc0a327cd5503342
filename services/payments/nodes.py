"""Payments by global id (node(id:)): signed in, and only those of the viewer's own orders
(admins: all); another's is null, as a missing one is. The payments' orders are read in
one batch to tell whose they are."""

from __future__ import annotations

from collections.abc import Sequence

from gateway import Forbidden, Info, SignedIn
from services.orders.data import OrderData
from services.orders.permissions import OwnOrder
from services.payments.data import PaymentData
from services.payments.types import Payment

_OWN_ORDER = OwnOrder()


async def payments_by_id(info: Info, ids: Sequence[int]) -> list[Payment | Exception | None]:
    viewer = info.context.viewer
    if viewer.is_anonymous:
        return [Forbidden(SignedIn.message) for _ in ids]
    payments = await info.context.loaders(PaymentData).by_id.load_many(list(ids))
    if viewer.is_admin:
        return list(payments)
    order_ids = [payment.order_id for payment in payments if payment is not None]
    orders = await info.context.loaders(OrderData).by_id.load_many(order_ids)
    own = {
        order.id for order in orders if order is not None and _OWN_ORDER.allows(viewer, order, {})
    }
    return [
        payment if payment is not None and payment.order_id in own else None for payment in payments
    ]
