"""The users service's public GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="A customer account.")
class User:
    id: int
    email: str
    name: str
    created_at: datetime


@strawberry.input(description="A new customer account.")
class CreateUserInput:
    email: str
    name: str
