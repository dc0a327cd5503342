"""Demo data for `gateway serve` on an embedded database, loaded once, through the services'
public APIs (the same code paths as the mutations)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from gateway import Viewer
from gateway.db import AsyncDatabaseManager
from services.orders.data import OrderData
from services.payments.data import PaymentData
from services.users.data import UserData

DEMO_USERS = [
    ("ada@example.com", "Ada Lovelace"),
    ("grace@example.com", "Grace Hopper"),
    ("alan@example.com", "Alan Turing"),
    ("katherine@example.com", "Katherine Johnson"),
    ("edsger@example.com", "Edsger Dijkstra"),
]
DEMO_ORDERS: list[list[tuple[str, int, Decimal]]] = [
    [("BOOK-001", 1, Decimal("39.90")), ("PEN-014", 3, Decimal("2.50"))],
    [("LAPTOP-13", 1, Decimal("1299.00"))],
]


async def load_demo_data(managers: Mapping[str, AsyncDatabaseManager]) -> None:
    """Create demo users, two orders each, and a payment for every first order; only into
    an empty users table, so restarting the server does not duplicate anything."""
    if await managers["users"].fetch_value("SELECT count(*) FROM {{tables.users}}"):
        return
    users = UserData(managers["users"])
    orders = OrderData(managers["orders"])
    payments = PaymentData(managers["payments"])
    for email, name in DEMO_USERS:
        user = await users.create(email, name)
        payer = Viewer(subject=str(user.id))
        for number, items in enumerate(DEMO_ORDERS):
            order = await orders.place(user.id, items)
            if number == 0:
                # Paid by its user, as the recordPayment mutation would be; marks it PAID.
                await payments.record(orders, payer, order.id, order.total, "EUR")
