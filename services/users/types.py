"""The users service's public GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import Node, guarded
from services.users.permissions import OwnUser


@strawberry.type(description="A customer account.")
class User(Node):
    id: int
    email: str | None = strawberry.field(
        extensions=[guarded(OwnUser)],
        description="Seen by the user it is and by admins; null with FORBIDDEN for others.",
    )
    name: str
    created_at: datetime


@strawberry.input(description="A new customer account.")
class CreateUserInput:
    email: str
    name: str
