"""orders: orders and their line items, placed by users."""

from gateway import Service
from services.orders.data import OrderData
from services.orders.extends import UserOrders
from services.orders.nodes import orders_by_id
from services.orders.resolvers import OrdersMutation, OrdersQuery, OrdersSubscription
from services.orders.types import LineItem, Order, OrderStatus

service = Service(
    nodes={Order: orders_by_id},
    name="orders",
    query=OrdersQuery,
    mutation=OrdersMutation,
    subscription=OrdersSubscription,
    types=[Order, LineItem],
    loaders=[OrderData],
    extends={"User": UserOrders},
)

__all__ = ["LineItem", "Order", "OrderData", "OrderStatus", "service"]
