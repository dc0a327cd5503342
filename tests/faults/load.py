"""A bounded GraphQL load generator: `clients` concurrent httpx clients for `seconds`.

Each client repeats a weighted mix of queries (a nested users→orders→payments page, one user
by id over GET, one order by id) and mutations (createUser, placeOrder, recordPayment), some
of which the gateway must refuse (a taken email, an unknown user or order). Every mutation
carries a key of its own (an email, a sku prefix, an amount in cents) so that the database can
be checked afterwards: each acknowledged one (200 with data) is there, and no other. `Tally`
counts responses by status, error code and operation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from tests.tokens import ADMIN_HEADERS

NESTED = """
query ($after: String) {
  users(first: 5, after: $after) {
    nodes { id orders(first: 3) { nodes { id total payments(first: 3) { nodes { amount } } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
USER = "query ($id: Int!) { user(id: $id) { id email } }"
ORDER = "query ($id: Int!) { order(id: $id) { id status total items { sku } } }"
CREATE_USER = """
mutation ($email: String!) { createUser(input: {email: $email, name: "Load"}) { id email } }
"""
PLACE_ORDER = """
mutation ($userId: Int!, $items: [LineItemInput!]!) {
  placeOrder(input: {userId: $userId, items: $items}) { id items { sku } }
}
"""
RECORD_PAYMENT = """
mutation ($orderId: Int!, $amount: Decimal!) {
  recordPayment(input: {orderId: $orderId, amount: $amount, currency: "EUR"}) { id amount }
}
"""

# Operation name -> weight in the mix.
MIX = {
    "nested": 25,
    "user": 15,
    "order": 15,
    "createUser": 15,
    "placeOrder": 15,
    "recordPayment": 15,
    "refused": 6,
}
# What the refused mutations must be answered with.
REFUSALS = {
    "createUser:taken-email": "CONFLICT",
    "placeOrder:unknown-user": "NOT_FOUND",
    "recordPayment:unknown-order": "NOT_FOUND",
}
ITEMS_PER_ORDER = 3
REQUEST_TIMEOUT = 30.0  # seconds; a request that takes longer counts as a transport error


@dataclass
class Tally:
    """What the clients sent and got back; the keys of every mutation, acknowledged or not."""

    statuses: Counter[int] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)
    codes_by_operation: Counter[tuple[str, str]] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0  # from the first request to the last answer
    # key -> id, for every mutation answered with data; and every key ever sent
    users: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    payments: dict[Decimal, int] = field(default_factory=dict)
    sent_users: set[str] = field(default_factory=set)
    sent_orders: set[str] = field(default_factory=set)
    sent_payments: set[Decimal] = field(default_factory=set)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.transport_errors.values())


class LoadClient:
    """One client of the load: its own HTTP connection, random choices and keys."""

    def __init__(
        self,
        number: int,
        url: str,
        tally: Tally,
        amounts: itertools.count[int],
        tls: ssl.SSLContext,
    ) -> None:
        self.number = number
        self.url = url
        self.tally = tally
        self.random = random.Random(number)  # reproducible mixes
        self.amounts = amounts
        self.sent = 0
        self.cursor: str | None = None
        self.http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT, verify=tls, headers=ADMIN_HEADERS)

    async def run(self, deadline: float, max_requests: int) -> None:
        operations: dict[str, Callable[[], Awaitable[None]]] = {
            "nested": self.nested,
            "user": self.user,
            "order": self.order,
            "createUser": self.create_user,
            "placeOrder": self.place_order,
            "recordPayment": self.record_payment,
            "refused": self.refused,
        }
        async with self.http:
            while time.monotonic() < deadline and self.sent < max_requests:
                name = self.random.choices(list(MIX), weights=list(MIX.values()))[0]
                await operations[name]()

    async def call(
        self, operation: str, query: str, variables: dict[str, Any], *, get: bool = False
    ) -> dict[str, Any] | None:
        """The body of a 200 response; None for any other status or no answer at all."""
        self.sent += 1
        self.tally.operations[operation] += 1
        started = time.monotonic()
        try:
            if get:
                response = await self.http.get(
                    self.url,
                    params={"query": query, "variables": json.dumps(variables)},
                    headers={"apollo-require-preflight": "true"},
                )
            else:
                response = await self.http.post(
                    self.url, json={"query": query, "variables": variables}
                )
        except httpx.TransportError as error:
            self.tally.transport_errors[type(error).__name__] += 1
            return None
        self.tally.latencies.append(time.monotonic() - started)
        self.tally.statuses[response.status_code] += 1
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            self.tally.error_codes["<not JSON>"] += 1
            return None
        for graphql_error in body.get("errors") or ():
            code = graphql_error.get("extensions", {}).get("code", "<no code>")
            self.tally.error_codes[code] += 1
            self.tally.codes_by_operation[operation, code] += 1
        return body if response.status_code == 200 else None

    def acknowledged(self, body: dict[str, Any] | None, field_name: str) -> dict[str, Any] | None:
        """The mutation's result if the response carries it (200, data, no errors)."""
        if body is None or body.get("errors"):
            return None
        result: dict[str, Any] | None = (body.get("data") or {}).get(field_name)
        return result

    async def nested(self) -> None:
        body = await self.call("nested", NESTED, {"after": self.cursor})
        page = ((body or {}).get("data") or {}).get("users")
        if page:
            info = page["pageInfo"]
            self.cursor = info["endCursor"] if info["hasNextPage"] else None

    async def user(self) -> None:
        if user_id := self.pick(self.tally.users):
            await self.call("user", USER, {"id": user_id}, get=True)
        else:
            await self.create_user()

    async def order(self) -> None:
        if order_id := self.pick(self.tally.orders):
            await self.call("order", ORDER, {"id": order_id})
        else:
            await self.place_order()

    async def create_user(self, email: str | None = None) -> None:
        operation = "createUser" if email is None else "createUser:taken-email"
        email = email or f"load-{self.number}-{self.sent}@example.com"
        self.tally.sent_users.add(email)
        body = await self.call(operation, CREATE_USER, {"email": email})
        if created := self.acknowledged(body, "createUser"):
            self.tally.users[email] = created["id"]

    async def place_order(self, user_id: int | None = None) -> None:
        operation = "placeOrder" if user_id is None else "placeOrder:unknown-user"
        user_id = user_id or self.pick(self.tally.users)
        if user_id is None:
            await self.create_user()
            return
        tag = f"L{self.number}x{self.sent}"
        self.tally.sent_orders.add(tag)
        items = [
            {"sku": f"{tag}-{n}", "quantity": n, "unitPrice": "1.25"}
            for n in range(1, ITEMS_PER_ORDER + 1)
        ]
        body = await self.call(operation, PLACE_ORDER, {"userId": user_id, "items": items})
        if placed := self.acknowledged(body, "placeOrder"):
            self.tally.orders[tag] = placed["id"]

    async def record_payment(self, order_id: int | None = None) -> None:
        operation = "recordPayment" if order_id is None else "recordPayment:unknown-order"
        order_id = order_id or self.pick(self.tally.orders)
        if order_id is None:
            await self.place_order()
            return
        amount = Decimal(next(self.amounts)).scaleb(-2)  # unique: 0.01, 0.02, ...
        self.tally.sent_payments.add(amount)
        body = await self.call(
            operation, RECORD_PAYMENT, {"orderId": order_id, "amount": str(amount)}
        )
        if recorded := self.acknowledged(body, "recordPayment"):
            self.tally.payments[amount] = recorded["id"]

    async def refused(self) -> None:
        """A mutation the gateway must refuse: a taken email, an unknown user or order."""
        kind = self.random.choice(list(REFUSALS))
        if kind == "createUser:taken-email" and self.tally.users:
            await self.create_user(self.random.choice(list(self.tally.users)[-200:]))
        elif kind == "recordPayment:unknown-order":
            await self.record_payment(order_id=-1)
        else:
            await self.place_order(user_id=-1)

    def pick(self, acknowledged: dict[Any, int]) -> int | None:
        if not acknowledged:
            return None
        # Recent keys are cheap to reach: the dict keeps insertion order.
        ids = list(itertools.islice(reversed(acknowledged.values()), 200))
        return self.random.choice(ids)


async def run_load(
    url: str, *, clients: int, seconds: float, max_requests_per_client: int
) -> Tally:
    """Run `clients` LoadClients against `url` until `seconds` pass or each sent its maximum."""
    assert httpx.URL(url).host == "127.0.0.1", f"the load only ever targets this machine: {url}"
    tally = Tally()
    amounts = itertools.count(1)
    # One context for all: each client loading the CA bundle itself takes ~50ms of CPU.
    tls = httpx.create_ssl_context()
    load_clients = [LoadClient(number, url, tally, amounts, tls) for number in range(clients)]
    started = time.monotonic()  # the clock starts once every client is ready
    deadline = started + seconds
    await asyncio.gather(
        *(client.run(deadline, max_requests_per_client) for client in load_clients)
    )
    tally.seconds = time.monotonic() - started
    return tally
