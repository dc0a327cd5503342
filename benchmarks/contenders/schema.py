"""The gateway's schema shape in plain Strawberry, for the two rival contenders.

The types and root fields are the gateway's (same names, arguments, defaults, page limits);
where rows come from is a per-request `Source` in the context: `naive` answers every call
with its own query, `pgdbm` batches calls through dataloaders. Both are served the way the
gateway is, FastAPI with Strawberry's GraphQLRouter, so only the data path differs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
import strawberry
from fastapi import FastAPI, Request
from strawberry.extensions import ValidationCache
from strawberry.fastapi import BaseContext, GraphQLRouter

from benchmarks.contenders import encode_cursor

__all__ = [
    "SCHEMA",
    "BenchContext",
    "LineItem",
    "Order",
    "Page",
    "Payment",
    "Source",
    "User",
    "build_app",
    "line_item_from",
    "order_from",
    "payment_from",
    "user_from",
]

DEFAULT_PAGE = 20
MAX_PAGE = 500  # the gateway contender runs with Settings(max_page_size=500)
NodeT = TypeVar("NodeT")
Row = asyncpg.Record | Mapping[str, Any]  # asyncpg rows, or pgdbm's dicts


class Source(Protocol):
    """Where one request's rows come from."""

    async def user(self, user_id: int) -> User | None: ...

    async def users(self, page: Page) -> list[User]: ...

    async def orders_of_user(self, user_id: int, page: Page) -> list[Order]: ...

    async def payments_of_order(self, order_id: int, page: Page) -> list[Payment]: ...

    async def items_of_order(self, order_id: int) -> list[LineItem]: ...

    async def place_order(
        self, user_id: int, items: list[tuple[str, int, Decimal]]
    ) -> Order | None: ...


class BenchContext(BaseContext):
    """`info.context`: this request's source."""

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source


Info = strawberry.Info[BenchContext, None]


@strawberry.enum
class OrderStatus(Enum):
    PENDING = "PENDING"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"


@strawberry.enum
class PaymentStatus(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Connection(Generic[NodeT]):
    nodes: list[NodeT]
    page_info: PageInfo


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=_HasId)


@strawberry.type
class Payment:
    id: int
    amount: Decimal
    currency: str
    status: PaymentStatus
    created_at: datetime
    order_id: strawberry.Private[int]


@strawberry.type
class LineItem:
    id: int
    sku: str
    quantity: int
    unit_price: Decimal
    order_id: strawberry.Private[int]


@strawberry.type
class Order:
    id: int
    status: OrderStatus
    total: Decimal
    created_at: datetime
    user_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await info.context.source.user(self.user_id)

    @strawberry.field
    async def items(self, info: Info) -> list[LineItem]:
        return await info.context.source.items_of_order(self.id)

    @strawberry.field
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Payment]:
        page = Page.of(first, after)
        return page.connection(await info.context.source.payments_of_order(self.id, page))


@strawberry.type
class User:
    id: int
    email: str
    name: str
    created_at: datetime

    @strawberry.field
    async def orders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Order]:
        page = Page.of(first, after)
        return page.connection(await info.context.source.orders_of_user(self.id, page))


@strawberry.input
class LineItemInput:
    sku: str
    quantity: int
    unit_price: Decimal


@strawberry.input
class PlaceOrderInput:
    user_id: int
    items: list[LineItemInput]


class Page:
    """`first`/`after` validated as the gateway does; fetch `limit` rows to learn if more follow."""

    __slots__ = ("after_id", "first")

    def __init__(self, first: int, after_id: int | None) -> None:
        self.first = first
        self.after_id = after_id

    @property
    def limit(self) -> int:
        return self.first + 1

    @property
    def key(self) -> tuple[int, int | None]:
        return (self.first, self.after_id)

    @classmethod
    def of(cls, first: int | None, after: str | None) -> Page:
        size = DEFAULT_PAGE if first is None else first
        if not 0 <= size <= MAX_PAGE:
            raise ValueError(f"`first` must be between 0 and {MAX_PAGE}, got {size}.")
        return cls(size, None if after is None else _decode_cursor(after))

    def connection(self, rows: list[RowT]) -> Connection[RowT]:
        nodes = rows[: self.first]
        return Connection(
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=len(rows) > self.first,
                end_cursor=encode_cursor(nodes[-1].id) if nodes else None,
            ),
        )


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor).decode().removeprefix("cursor:"))
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError(f"`after` is not a cursor this API returned: {cursor[:40]!r}.") from None


@strawberry.type
class Query:
    @strawberry.field
    async def user(self, info: Info, id: int) -> User | None:
        return await info.context.source.user(id)

    @strawberry.field
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        page = Page.of(first, after)
        return page.connection(await info.context.source.users(page))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def place_order(self, info: Info, input: PlaceOrderInput) -> Order:
        items = [(item.sku.strip(), item.quantity, item.unit_price) for item in input.items]
        if not 1 <= len(items) <= 50:
            raise ValueError("An order has between 1 and 50 line items.")
        for sku, quantity, price in items:
            if not (1 <= len(sku) <= 64 and 1 <= quantity <= 10_000):
                raise ValueError("A SKU has 1 to 64 characters and a quantity is 1 to 10000.")
            if not (price.is_finite() and 0 <= price <= 1_000_000 and price == round(price, 2)):
                raise ValueError("A unit price is between 0 and 1000000, with 2 decimals.")
        order = await info.context.source.place_order(input.user_id, items)
        if order is None:
            raise LookupError(f"There is no user with id {input.user_id}.")
        return order


# The stock validation cache the gateway also installs: a rival gets the same easy win.
SCHEMA = strawberry.Schema(
    query=Query, mutation=Mutation, extensions=[lambda: ValidationCache(maxsize=512)]
)


def user_from(row: Row) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], created_at=row["created_at"])


def order_from(row: Row) -> Order:
    return Order(
        id=row["id"],
        user_id=row["user_id"],
        status=OrderStatus(row["status"]),
        total=row["total"],
        created_at=row["created_at"],
    )


def payment_from(row: Row) -> Payment:
    return Payment(
        id=row["id"],
        order_id=row["order_id"],
        amount=row["amount"],
        currency=row["currency"],
        status=PaymentStatus(row["status"]),
        created_at=row["created_at"],
    )


def line_item_from(row: Row) -> LineItem:
    return LineItem(
        id=row["id"],
        order_id=row["order_id"],
        sku=row["sku"],
        quantity=row["quantity"],
        unit_price=row["unit_price"],
    )


def build_app(
    title: str, open_sources: Callable[[], AbstractAsyncContextManager[Callable[[], Source]]]
) -> FastAPI:
    """FastAPI + GraphQLRouter over SCHEMA; `open_sources()` (the lifespan) yields a factory
    of per-request sources."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_sources() as make_source:
            app.state.make_source = make_source
            yield

    def get_context(request: Request) -> BenchContext:
        return BenchContext(request.app.state.make_source())

    app = FastAPI(title=title, lifespan=lifespan)
    router: GraphQLRouter[Any, None] = GraphQLRouter(SCHEMA, context_getter=get_context)
    app.include_router(router, prefix="/graphql")
    return app
