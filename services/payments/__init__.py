"""payments: money received for orders."""

from gateway import Service
from services.payments.data import PaymentData
from services.payments.extends import OrderPayments
from services.payments.nodes import payments_by_id
from services.payments.resolvers import PaymentsMutation
from services.payments.types import Payment, PaymentStatus

service = Service(
    nodes={Payment: payments_by_id},
    name="payments",
    mutation=PaymentsMutation,
    types=[Payment],
    loaders=[PaymentData],
    extends={"Order": OrderPayments},
)

__all__ = ["Payment", "PaymentData", "PaymentStatus", "service"]
