"""payments: money received for orders."""

from gateway import Service
from services.payments.data import PaymentData
from services.payments.extends import OrderPayments
from services.payments.resolvers import PaymentsMutation
from services.payments.types import Payment, PaymentStatus

service = Service(
    name="payments",
    mutation=PaymentsMutation,
    types=[Payment],
    loaders=[PaymentData],
    extends={"Order": OrderPayments},
)

__all__ = ["Payment", "PaymentData", "PaymentStatus", "service"]
