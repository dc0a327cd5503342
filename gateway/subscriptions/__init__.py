"""Live updates: GraphQL subscriptions fed by PostgreSQL's LISTEN/NOTIFY over one connection.

# in the transaction that changes the row (gateway.subscriptions.events)
await notify(tx, "orders", {"order_id": order.id, "user_id": order.user_id})

# a service's subscription field (gateway.subscriptions.live)
async for event in live(info, "orders", lambda ids: ids["order_id"] == id):
    yield await info.context.loaders(OrderData).by_id.load(id)
"""

from gateway.subscriptions.events import Event, notify
from gateway.subscriptions.hub import EventHub
from gateway.subscriptions.live import EventsMissed, live

__all__ = ["Event", "EventHub", "EventsMissed", "live", "notify"]
