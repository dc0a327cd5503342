"""users: customer accounts."""

from gateway.graphql.service import Service
from services.users.loaders import UserLoaders
from services.users.resolvers import UsersMutation, UsersQuery
from services.users.types import User

service = Service(
    name="users", query=UsersQuery, mutation=UsersMutation, types=[User], loaders=[UserLoaders]
)

__all__ = ["User", "UserLoaders", "service"]
