"""The four workloads: their GraphQL documents and the request bodies the harness sends.

Every contender answers these bodies; the floor matches them by `operationName` alone.
Variables vary per request where a real client's would (which user), so no contender can
answer from a cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["PLACE_ORDER_ITEMS", "WORKLOADS", "Workload"]

USER_BY_ID = """
query UserById($id: Int!) {
  user(id: $id) { id email name createdAt }
}
"""

USERS_WITH_ORDERS = """
query UsersWithOrders($first: Int!) {
  users(first: $first) {
    nodes {
      id
      name
      orders {
        nodes {
          id
          status
          total
          createdAt
          payments { nodes { id amount currency status } }
        }
        pageInfo { hasNextPage }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PLACE_ORDER = """
mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id status total items { sku quantity unitPrice } }
}
"""

PLACE_ORDER_ITEMS: list[dict[str, Any]] = [
    {"sku": "BOOK-0042", "quantity": 2, "unitPrice": "12.90"},
    {"sku": "MUG-0007", "quantity": 1, "unitPrice": "8.5"},
]


def _spread(index: int, users: int) -> int:
    """A user id for request `index`: every user once per `users` requests, scattered."""
    return 1 + (index * 7919) % users  # 7919 is prime: a permutation unless users % 7919 == 0


@dataclass(frozen=True, kw_only=True)
class Workload:
    """One kind of request, sent with varying variables."""

    key: str
    title: str
    short: str  # the chart's label
    operation: str
    document: str
    variables: Callable[[int, int], dict[str, Any]]  # (request index, users) -> variables
    distinct: Callable[[int], int]  # users -> how many distinct bodies to cycle through
    sample_indexes: tuple[int, ...] = (0,)
    mutates: bool = False

    def body(self, index: int, users: int) -> str:
        """The JSON body of request `index` on a data set of `users` users."""
        return json.dumps(
            {
                "query": self.document,
                "operationName": self.operation,
                "variables": self.variables(index, users),
            }
        )

    def bodies(self, users: int) -> list[str]:
        """The bodies the load generator cycles through."""
        return [self.body(index, users) for index in range(self.distinct(users))]

    def samples(self, users: int) -> list[str]:
        """The bodies whose answers must be identical across contenders."""
        return [self.body(index, users) for index in self.sample_indexes]


WORKLOADS: list[Workload] = [
    Workload(
        key="user_by_id",
        short="user by id",
        title="one user by id",
        operation="UserById",
        document=USER_BY_ID,
        # Index -1 asks for a user that does not exist: every contender answers null.
        variables=lambda index, users: {"id": users + 1 if index < 0 else _spread(index, users)},
        distinct=lambda users: users,
        sample_indexes=(0, 1, 2, -1),
    ),
    Workload(
        key="nested_50",
        short="50 users nested",
        title="50 users, their orders, each order's payments",
        operation="UsersWithOrders",
        document=USERS_WITH_ORDERS,
        variables=lambda index, users: {"first": 50},
        distinct=lambda users: 1,
    ),
    Workload(
        key="nested_500",
        short="500 users nested",
        title="500 users, their orders, each order's payments",
        operation="UsersWithOrders",
        document=USERS_WITH_ORDERS,
        variables=lambda index, users: {"first": 500},
        distinct=lambda users: 1,
    ),
    Workload(
        key="place_order",
        short="placeOrder",
        title="placeOrder mutation (2 line items)",
        operation="PlaceOrder",
        document=PLACE_ORDER,
        variables=lambda index, users: {
            "input": {"userId": _spread(index, users), "items": PLACE_ORDER_ITEMS}
        },
        distinct=lambda users: users,
        sample_indexes=(0, 1),
        mutates=True,
    ),
]
