"""users: customer accounts."""

from gateway import Service
from services.users.data import UserData
from services.users.resolvers import UsersMutation, UsersQuery
from services.users.types import User

service = Service(
    name="users", query=UsersQuery, mutation=UsersMutation, types=[User], loaders=[UserData]
)

__all__ = ["User", "UserData", "service"]
