"""users: customer accounts."""

from gateway import Service
from services.users.data import UserData
from services.users.nodes import users_by_id
from services.users.resolvers import UsersMutation, UsersQuery
from services.users.types import User

# What GraphiQL opens with, and the README's first query (tests keep them equal): users with
# the orders and payments the other services add, one statement per level.
EXAMPLE_QUERY = """\
{
  users(first: 2) {
    nodes {
      name
      orders(first: 2) {
        nodes {
          total
          status
          payments {
            nodes {
              amount
              currency
            }
          }
        }
      }
    }
    pageInfo {
      hasNextPage
    }
  }
}
"""

service = Service(
    nodes={User: users_by_id},
    name="users",
    query=UsersQuery,
    mutation=UsersMutation,
    types=[User],
    loaders=[UserData],
    example_query=EXAMPLE_QUERY,
)

__all__ = ["EXAMPLE_QUERY", "User", "UserData", "service"]
