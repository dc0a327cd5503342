"""payments: money received for orders."""

from gateway.graphql.service import Service
from services.payments.extends import OrderPayments
from services.payments.loaders import PaymentLoaders
from services.payments.resolvers import PaymentsMutation
from services.payments.types import Payment, PaymentStatus

service = Service(
    name="payments",
    mutation=PaymentsMutation,
    types=[Payment],
    loaders=[PaymentLoaders],
    extends={"Order": OrderPayments},
)

__all__ = ["Payment", "PaymentLoaders", "PaymentStatus", "service"]
