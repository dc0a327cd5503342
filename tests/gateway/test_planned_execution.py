# mypy: disallow-untyped-decorators=False
"""PlannedExecutor answers every query as graphql-core's executor does.

Each test runs one operation on the same Strawberry schema built twice, with
`execution_context_class=PlannedExecutor` and without, and compares the two answers: the
same `data` (key order included), the same errors as a set of (message, path, locations,
extensions) (their order may differ), the same resolver calls (field name and path seen by
each resolver, in any order) and the same dataloader batches. No database here; the
services' queries are compared in tests/services/test_planned_execution_services.py.

`agree` also checks which executor ran: PlannedExecutor's own code for the queries it
plans, graphql-core's (its fallback) for interfaces, unions, introspection, mutations and
middleware. It sees the fallback through a mixin under PlannedExecutor that records every
call of graphql-core's `execute_operation`.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, NewType

import pytest
import strawberry
from aiodataloader import DataLoader
from graphql import GraphQLError
from graphql.pyutils import Undefined
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.permission import BasePermission
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from gateway.execution.executor import PlannedExecutor
from gateway.execution.plan import MAX_PLANNED_DEPTH

# --- The context: what the resolvers saw --------------------------------------------------


@dataclass
class Recorder:
    """`info.context` of one execution: the resolver calls, loads and batches it saw."""

    calls: list[tuple[str, tuple[str | int, ...]]] = field(default_factory=list)
    batches: list[list[int]] = field(default_factory=list)
    graphql_core_ran: bool = False
    _loader: DataLoader[int, str] | None = None

    @property
    def loader(self) -> DataLoader[int, str]:
        """A per-execution dataloader of nicknames by item id (built on first use, in the
        running loop)."""
        if self._loader is None:
            self._loader = DataLoader(self._load_nicknames)
        return self._loader

    async def _load_nicknames(self, ids: list[int]) -> list[str]:
        self.batches.append(list(ids))
        return [f"nick-{item_id}" for item_id in ids]


Info = strawberry.Info[Recorder, None]


def note(info: Info) -> None:
    """Record the field name and path a resolver was called with."""
    info.context.calls.append((info.field_name, tuple(info.path.as_list())))


# --- The schema -------------------------------------------------------------------------


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


@strawberry.input
class ItemFilter:
    colors: list[Color] | None = None
    min_price: Decimal = Decimal("0")
    name_contains: str = ""


class Allowed(BasePermission):
    message = "Allowed never refuses."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


class Denied(BasePermission):
    message = "You may not see this."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 (BasePermission's attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


class DeniedLater(BasePermission):
    message = "Not you either."

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await asyncio.sleep(0)
        return False


def failing_generator() -> Iterator[int]:
    yield 1
    raise ValueError("The rows ran out.")


async def number(value: int, *, fail_after: int | None = None) -> int:
    """`value` after a loop iteration, or, with fail_after, a failure after that many."""
    for _ in range(1 if fail_after is None else fail_after):
        await asyncio.sleep(0)
    if fail_after is not None:
        raise ValueError(f"Number {value} failed.")
    return value


def numbers_failing_soon() -> list[Any]:
    """Awaitables of 1, 2 and 3, of which 2 fails after three loop iterations, 3 after one."""
    return [number(1), number(2, fail_after=3), number(3, fail_after=1)]


async def maybe_item(item_id: int) -> Item | None:
    await asyncio.sleep(0)
    return ITEMS_BY_ID.get(item_id)


@strawberry.type
class Item:
    id: int
    name: str
    color: Color
    price: Decimal
    created_at: datetime
    tags: list[str]
    grid: list[list[int]]
    sparse: list[list[int | None] | None] | None
    pending: str | None = None  # a field without resolver; withAPendingValue puts a future here
    later: strawberry.Private[Any] = None  # what `eventually` returns as it is

    @strawberry.field
    def label(self, info: Info, upper: bool = False, suffix: str = "") -> str:
        note(info)
        text = f"{self.name}{suffix}"
        return text.upper() if upper else text

    @strawberry.field
    async def price_with_tax(self, info: Info, rate: Decimal = Decimal("0.2")) -> Decimal:
        note(info)
        await asyncio.sleep(0)
        return (self.price * (1 + rate)).quantize(Decimal("0.01"))

    @strawberry.field
    def owner(self, item: strawberry.Parent[Item], info: Info) -> str:
        note(info)
        return f"owner of {item.name}"

    @strawberry.field
    def described(self, root: Item, info: Info) -> str:
        note(info)
        return f"{root.name} is {root.color.value}"

    @strawberry.field
    def twin(self, info: Info) -> Item | None:
        note(info)
        return ITEMS_BY_ID.get(self.id + 1)

    @strawberry.field
    async def related(self, info: Info, count: int = 2) -> list[Item]:
        note(info)
        for _ in range(3):
            await asyncio.sleep(0)
        return [ITEMS[(self.id + step) % len(ITEMS)] for step in range(1, count + 1)]

    @strawberry.field
    async def nickname(self, info: Info) -> str:
        note(info)
        return await info.context.loader.load(self.id)

    @strawberry.field
    def nickname_soon(self, info: Info) -> str:
        """A sync resolver returning the loader's future."""
        note(info)
        return info.context.loader.load(self.id)  # type: ignore[return-value]

    @strawberry.field
    async def nickname_after_a_while(self, info: Info) -> str:
        """Waits one loop iteration per id before loading."""
        note(info)
        for _ in range(self.id):
            await asyncio.sleep(0)
        return await info.context.loader.load(self.id)

    @strawberry.field
    async def twin_soon(self, info: Info) -> Item | None:
        note(info)
        await asyncio.sleep(0)
        return ITEMS_BY_ID.get(self.id + 1)

    @strawberry.field
    def nicknames_of_related(self, info: Info) -> list[str]:
        """A list of the loader's futures, one per item."""
        note(info)
        return [info.context.loader.load(self.id + step) for step in (1, 2)]  # type: ignore[misc]

    @strawberry.field
    def eventually(self) -> str:
        return self.later  # type: ignore[no-any-return]

    @strawberry.field
    def tagged(self, info: Info, tags: list[str]) -> list[str]:
        """Appends its own name to its `tags` argument."""
        note(info)
        tags.append(self.name)
        return tags

    @strawberry.field
    def fragile(self, info: Info) -> str | None:
        """Fails for odd ids."""
        note(info)
        if self.id % 2:
            raise ValueError(f"Item {self.id} is fragile.")
        return f"item {self.id} holds"

    @strawberry.field
    def sturdy(self, info: Info, fail: bool = True) -> str:
        """Non-null; fails unless `fail` is false."""
        note(info)
        if fail:
            raise ValueError(f"Item {self.id} gave way.")
        return f"item {self.id} stands"

    @strawberry.field
    async def sturdy_soon(self, info: Info) -> str:
        note(info)
        await asyncio.sleep(0)
        raise ValueError(f"Item {self.id} gave way later.")

    @strawberry.field
    async def fragile_later(self, info: Info) -> str | None:
        """Fails after three loop iterations."""
        note(info)
        for _ in range(3):
            await asyncio.sleep(0)
        raise ValueError(f"Item {self.id} broke late.")

    @strawberry.field
    def vanished(self, info: Info) -> str:
        note(info)
        return None  # type: ignore[return-value]

    @strawberry.field
    def holes(self, info: Info) -> list[int] | None:
        note(info)
        return [1, None, 3]  # type: ignore[list-item]

    @strawberry.field
    def too_big(self, info: Info) -> int | None:
        note(info)
        return 2**31 + self.id

    @strawberry.field
    def not_a_list(self, info: Info) -> list[int] | None:
        note(info)
        return 42  # type: ignore[return-value]

    @strawberry.field
    def coded(self, info: Info) -> str | None:
        note(info)
        raise GraphQLError("Coded failure.", extensions={"code": "TEAPOT", "item": self.id})

    @strawberry.field
    def bad_color(self, info: Info) -> Color | None:
        note(info)
        return "purple"  # type: ignore[return-value]

    @strawberry.field
    def raw_color(self, info: Info) -> Color:
        note(info)
        return self.color.value  # type: ignore[return-value]

    @strawberry.field(permission_classes=[Denied])
    def private_note(self, info: Info) -> str | None:
        note(info)
        return "secret"

    @strawberry.field(permission_classes=[Allowed])
    def public_note(self, info: Info) -> str:
        note(info)
        return f"note on {self.name}"


def _item(item_id: int, name: str, color: Color, price: str, tags: list[str]) -> Item:
    return Item(
        id=item_id,
        name=name,
        color=color,
        price=Decimal(price),
        created_at=datetime(2024, 1, item_id, 12, 30, tzinfo=UTC),
        tags=tags,
        grid=[[item_id, item_id * 10], []],
        sparse=[[item_id, None], None] if item_id % 2 else None,
    )


ITEMS = [
    _item(1, "anchor", Color.RED, "10.00", ["heavy", "metal"]),
    _item(2, "bucket", Color.GREEN, "3.50", []),
    _item(3, "candle", Color.BLUE, "1.25", ["wax"]),
    _item(4, "drum", Color.RED, "99.99", ["loud"]),
    _item(5, "easel", Color.GREEN, "42.00", ["wood", "art"]),
]
ITEMS_BY_ID = {item.id: item for item in ITEMS}


@strawberry.type
class Moment:
    """Dates and datetimes: whole columns are written by orjson where that gives isoformat()'s
    text exactly, value by value otherwise."""

    at: datetime
    day: date


_PARIS = timezone(timedelta(hours=1), "CET")
MOMENTS: dict[str, list[Moment]] = {
    "utc": [
        Moment(at=datetime(2024, 3, 1, 9, 5, 7, 120, tzinfo=UTC), day=date(2024, 3, 1)),
        Moment(at=datetime(1, 1, 1, tzinfo=UTC), day=date(1, 1, 1)),
        Moment(at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), day=date(999, 9, 9)),
    ],
    "naive": [
        Moment(at=datetime(2024, 3, 1, 9, 5, 7), day=date(2024, 3, 1)),
        Moment(at=datetime(2024, 3, 1, 9, 5, 7, 5), day=date(2024, 12, 31)),
    ],
    # Another offset, naive next to aware, a datetime where a date is declared: one by one.
    "mixed": [
        Moment(at=datetime(2024, 3, 1, 9, 5, 7, tzinfo=_PARIS), day=date(2024, 3, 1)),
        Moment(at=datetime(2024, 3, 1, 9, 5, 7), day=datetime(2024, 3, 1, 8, tzinfo=UTC)),
        Moment(at=datetime(2024, 3, 1, 9, 5, 7, tzinfo=UTC), day=date(2024, 3, 2)),
    ],
}


@strawberry.type
class Odd:
    """Leaf values graphql-core coerces (or refuses) rather than passing them on as they are."""

    ratio: float | None
    whole: float
    ident: strawberry.ID
    flag: bool
    text: str
    status: Color | None


ODDS: list[Any] = [
    Odd(ratio=float("nan"), whole=3, ident=7, flag=1, text=5, status="red"),  # type: ignore
    Odd(ratio=float("inf"), whole=2.5, ident="x", flag=True, text=True, status=Color.BLUE),
    Odd(ratio=0.5, whole=True, ident=2**40, flag=0.0, text="plain", status="nope"),  # type: ignore
]


@strawberry.interface
class Pet:
    name: str


@strawberry.type
class Dog(Pet):
    barks: bool


@strawberry.type
class Cat(Pet):
    lives: int


@strawberry.type
class Fish:
    name: str
    fins: int


Animal = Annotated[Dog | Fish, strawberry.union("Animal")]


@strawberry.type
class Query:
    version: str = "1.0"

    @strawberry.field
    def item(self, info: Info, id: int) -> Item | None:
        note(info)
        return ITEMS_BY_ID.get(id)

    @strawberry.field
    def items(self, info: Info, filter: ItemFilter | None = None, first: int = 10) -> list[Item]:
        note(info)
        chosen = ITEMS
        if filter is not None:
            chosen = [
                item
                for item in chosen
                if (filter.colors is None or item.color in filter.colors)
                and item.price >= filter.min_price
                and filter.name_contains in item.name
            ]
        return chosen[:first]

    @strawberry.field
    async def items_soon(self, info: Info, first: int = 10) -> list[Item]:
        note(info)
        for _ in range(3):
            await asyncio.sleep(0)
        return ITEMS[:first]

    @strawberry.field
    def maybe_items(self, info: Info) -> list[Item | None] | None:
        note(info)
        return [ITEMS[0], None, ITEMS[2], ITEMS[3]]

    @strawberry.field
    def items_after_a_gap(self, info: Info) -> list[Item] | None:
        note(info)
        return [None, ITEMS[1]]  # type: ignore[list-item]

    @strawberry.field
    def essential(self, info: Info) -> Item:
        note(info)
        return ITEMS[1]

    @strawberry.field
    def greeting(self, info: Info, name: str = "world", punctuation: str = "!") -> str:
        note(info)
        return f"Hello, {name}{punctuation}"

    @strawberry.field
    def numbers(self, info: Info) -> list[int]:
        note(info)
        return [3, 1, 2]

    @strawberry.field
    def numbers_after_a_gap(self, info: Info) -> list[int] | None:
        note(info)
        return [None, 2**31]  # type: ignore[list-item]

    @strawberry.field
    def returned_errors(self, info: Info) -> list[int | None]:
        note(info)
        return [1, ValueError("Returned, not raised."), 3]  # type: ignore[list-item]

    @strawberry.field
    def odd_values(self, info: Info) -> list[Odd | None]:
        note(info)
        return ODDS

    @strawberry.field
    def moments(self, info: Info, kind: str) -> list[Moment]:
        note(info)
        return MOMENTS[kind]

    @strawberry.field
    def ragged(self, info: Info) -> list[list[int] | None]:
        note(info)
        return [[1], [None, 2], [3, 2**31]]  # type: ignore[list-item]

    @strawberry.field
    def gappy(self, info: Info) -> list[list[int] | None]:
        note(info)
        return [[], [1], [], [], [None, 2], [], [3, "x"]]  # type: ignore[list-item]

    @strawberry.field
    def matrix(self, info: Info) -> list[list[int]]:
        note(info)
        return [[1, 2], [], [3]]

    @strawberry.field
    def colors(self, info: Info) -> list[Color]:
        note(info)
        return [Color.BLUE, Color.RED]

    @strawberry.field
    def total(self, info: Info, prices: list[Decimal]) -> Decimal:
        note(info)
        return sum(prices, Decimal(0))

    @strawberry.field
    def latest(self, info: Info) -> datetime:
        note(info)
        return max(item.created_at for item in ITEMS)

    @strawberry.field
    async def countdown(self, info: Info, steps: int = 3) -> int:
        note(info)
        for _ in range(steps):
            await asyncio.sleep(0)
        return steps

    @strawberry.field
    def generated(self, info: Info) -> list[int] | None:
        note(info)
        return failing_generator()  # type: ignore[return-value]

    @strawberry.field
    def numbers_soon(self, info: Info) -> list[int] | None:
        """A list of awaitables."""
        note(info)
        return [number(1), number(2)]  # type: ignore[list-item]

    @strawberry.field
    def numbers_soon_failing(self, info: Info) -> list[int] | None:
        """[Int!]: awaitables of which two fail, the second sooner."""
        note(info)
        return numbers_failing_soon()

    @strawberry.field
    def maybe_numbers_soon_failing(self, info: Info) -> list[int | None]:
        """[Int]!: awaitables of which two fail."""
        note(info)
        return numbers_failing_soon()

    @strawberry.field
    def items_soon_one_by_one(self, info: Info) -> list[Item | None]:
        """A list of awaitables of items (one of them None)."""
        note(info)
        return [maybe_item(2), maybe_item(99), maybe_item(4)]  # type: ignore[list-item]

    @strawberry.field
    def wrong_shape(self, info: Info) -> Item | None:
        """A dict where an Item is expected."""
        note(info)
        return {"id": 1, "name": "dict"}  # type: ignore[return-value]

    @strawberry.field
    def with_a_pending_value(self, info: Info) -> Item:
        """An item holding loader futures: in `pending` (no resolver) and in `later` (which
        `eventually` returns)."""
        note(info)
        pending: Any = info.context.loader.load(8)
        return replace(ITEMS[0], pending=pending, later=info.context.loader.load(7))

    @strawberry.field(permission_classes=[Allowed])
    def open_secret(self, info: Info) -> str:
        note(info)
        return "open"

    @strawberry.field(permission_classes=[Denied])
    def closed_secret(self, info: Info) -> str | None:
        note(info)
        return "closed"

    @strawberry.field(permission_classes=[DeniedLater])
    async def closed_later(self, info: Info) -> str | None:
        note(info)
        return "closed later"

    @strawberry.field
    def pets(self, info: Info) -> list[Pet]:
        note(info)
        return [Dog(name="Rex", barks=True), Cat(name="Tom", lives=9)]

    @strawberry.field
    def dog(self, info: Info) -> Dog:
        note(info)
        return Dog(name="Rex", barks=True)

    @strawberry.field
    def animals(self, info: Info) -> list[Animal]:
        note(info)
        return [Dog(name="Rex", barks=False), Fish(name="Nemo", fins=3)]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def rename(self, info: Info, id: int, name: str) -> Item:
        note(info)
        return replace(ITEMS_BY_ID[id], name=name)

    @strawberry.mutation
    def explode(self, info: Info) -> Item:
        note(info)
        raise ValueError("Nothing to rename.")


class GraphQLCoreRan(StrawberryGraphQLCoreExecutionContext):
    """Marks the execution's Recorder when graphql-core's own executor runs the operation."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        if isinstance(self.context_value, Recorder):
            self.context_value.graphql_core_ran = True
        return super().execute_operation(serially)


class ObservedPlannedExecutor(PlannedExecutor, GraphQLCoreRan):
    """PlannedExecutor; its fallback to graphql-core goes through GraphQLCoreRan."""


class QuietSchema(strawberry.Schema):
    """A schema that does not log every (expected) resolver error with a stack trace."""

    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        return None


@dataclass(frozen=True)
class Pair:
    """One schema, built with PlannedExecutor and without."""

    planned: strawberry.Schema
    standard: strawberry.Schema


def pair(**schema_arguments: Any) -> Pair:
    return Pair(
        planned=QuietSchema(**schema_arguments, execution_context_class=ObservedPlannedExecutor),
        standard=QuietSchema(**schema_arguments),
    )


SHOP = pair(query=Query, mutation=Mutation, types=[Cat])


class Shouting(SchemaExtension):
    """A resolve hook (graphql-core middleware): every string comes back upper-cased."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        value = _next(root, info, *args, **kwargs)
        return value.upper() if isinstance(value, str) else value


# Parses each query text once: executions of one text share its document (as in the gateway,
# whose DocumentCache does the same), so PlannedExecutor may reuse a plan across requests.
REUSED_DOCUMENTS_SHOP = pair(query=Query, types=[Cat], extensions=[lambda: ParserCache(maxsize=64)])

SHOUTING_SHOP = pair(query=Query, types=[Cat], extensions=[Shouting])


# --- Running both -----------------------------------------------------------------------

ErrorKey = tuple[str, Any, Any, Any]


def error_set(result: ExecutionResult) -> list[ErrorKey]:
    """The result's errors as sorted (message, path, locations, extensions) tuples."""
    keys = [
        (
            error.message,
            error.path,
            [(location.line, location.column) for location in error.locations or ()],
            error.extensions or None,
        )
        for error in result.errors or ()
    ]
    return sorted(keys, key=repr)


@dataclass
class Outcome:
    """One execution: its answer and what its resolvers saw."""

    data_json: str  # key order included
    data: Any
    errors: list[ErrorKey]
    calls: list[tuple[str, tuple[str | int, ...]]]  # sorted: resolvers run in any order
    batches: list[list[int]]  # each batch's keys sorted, batches sorted
    graphql_core_ran: bool


def outcome(result: ExecutionResult, recorder: Recorder) -> Outcome:
    return Outcome(
        data_json=json.dumps(result.data, default=repr),  # repr: what JSON cannot hold
        data=result.data,
        errors=error_set(result),
        calls=sorted(recorder.calls, key=repr),
        batches=sorted(sorted(batch) for batch in recorder.batches),
        graphql_core_ran=recorder.graphql_core_ran,
    )


async def execute(
    schema: strawberry.Schema,
    query: str,
    variables: dict[str, Any] | None = None,
    root_value: Any = None,
    operation_name: str | None = None,
) -> Outcome:
    recorder = Recorder()
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=recorder,
        root_value=root_value,
        operation_name=operation_name,
    )
    return outcome(result, recorder)


def assert_same(planned: Outcome, standard: Outcome) -> None:
    """The same answer, resolver calls and batches.

    Once a non-null field fails, graphql-core stops resolving the fields left in its object
    (and cancels the ones pending): when there are errors, every call graphql-core made must
    have been made the same way, and calls whose answer is discarded may be added.
    """
    assert planned.data_json == standard.data_json
    assert planned.errors == standard.errors
    if standard.errors:
        assert Counter(standard.calls) - Counter(planned.calls) == Counter()
    else:
        assert planned.calls == standard.calls
    assert planned.batches == standard.batches


async def agree(
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    schemas: Pair = SHOP,
    planned: bool = True,
    root_value: Any = None,
    operation_name: str | None = None,
) -> Outcome:
    """Run `query` in both modes, assert they agree and that PlannedExecutor planned it (or,
    with planned=False, fell back to graphql-core); return the planned mode's outcome."""
    standard_outcome = await execute(schemas.standard, query, variables, root_value, operation_name)
    planned_outcome = await execute(schemas.planned, query, variables, root_value, operation_name)
    assert_same(planned_outcome, standard_outcome)
    assert planned_outcome.graphql_core_ran is not planned, (
        "expected PlannedExecutor's own path" if planned else "expected graphql-core's path"
    )
    return planned_outcome


# --- Shapes: objects, lists, aliases, fragments, directives, arguments --------------------

SHAPES = [
    pytest.param("{ item(id: 1) { id name color price createdAt } }", None, id="plain-object"),
    pytest.param(
        "{ item(id: 1) { id twin { id name twin { id twin { name } } } } }", None, id="nested"
    ),
    pytest.param("{ items { id name } }", None, id="list-of-objects"),
    pytest.param("{ numbers items { id tags } }", None, id="lists-of-scalars"),
    pytest.param("{ matrix items(first: 3) { grid sparse } }", None, id="lists-of-lists"),
    pytest.param("{ maybeItems { id name } }", None, id="nullable-items"),
    pytest.param("{ items(first: 0) { id } }", None, id="empty-list"),
    pytest.param(
        "{ first: item(id: 1) { key: id title: name } second: item(id: 2) { key: id } }",
        None,
        id="aliases",
    ),
    pytest.param(
        '{ a: greeting(name: "Ada") b: greeting(name: "Grace", punctuation: "?") c: greeting }',
        None,
        id="one-field-three-arguments",
    ),
    pytest.param(
        '{ items { plain: label loud: label(upper: true) marked: label(suffix: "*") } }',
        None,
        id="one-field-three-arguments-in-a-list",
    ),
    pytest.param(
        "{ item(id: 1) { twin { id } } item(id: 1) { twin { name } } }",
        None,
        id="merged-selections",
    ),
    pytest.param(
        """
        query { items { ...Basic twin { ...Basic related(count: 1) { ...Basic } } } }
        fragment Basic on Item { id ...Money }
        fragment Money on Item { price priceWithTax }
        """,
        None,
        id="named-fragments-nested",
    ),
    pytest.param(
        "{ items { ... on Item { id } ... { name ... on Item { color } } } }",
        None,
        id="inline-fragments",
    ),
    pytest.param(
        """
        query { ...Root }
        fragment Root on Query { greeting item(id: 2) { ...Name } }
        fragment Name on Item { name }
        """,
        None,
        id="fragment-spread-on-the-root",
    ),
    pytest.param(
        "{ __typename items { __typename id twin { __typename } } item(id: 5) { __typename } }",
        None,
        id="typename-at-every-level",
    ),
    pytest.param(
        "{ items { id @skip(if: true) name @include(if: false) color @include(if: true) } }",
        None,
        id="skip-include-literals",
    ),
    *(
        pytest.param(
            """
            query ($skip: Boolean!, $include: Boolean!) {
              items {
                id @skip(if: $skip)
                name @include(if: $include)
                ... on Item @include(if: $include) { color }
                ...Extra @skip(if: $skip)
              }
              greeting @skip(if: $skip)
            }
            fragment Extra on Item { price }
            """,
            {"skip": skip, "include": include},
            id=f"skip-{skip}-include-{include}-from-variables",
        )
        for skip in (True, False)
        for include in (True, False)
    ),
    pytest.param(
        'query ($name: String = "Default", $first: Int) '
        "{ greeting(name: $name) items(first: $first) { id } }",
        {"first": 2},
        id="variables-with-defaults",
    ),
    pytest.param(
        'query ($name: String = "Default") { greeting(name: $name) items(first: 2) { id } }',
        {"name": "Given"},
        id="variable-overriding-its-default",
    ),
    pytest.param(
        "query ($filter: ItemFilter) { items(filter: $filter) { id color price } }",
        {"filter": {"colors": ["RED", "BLUE"], "minPrice": "5"}},
        id="input-object-from-variables",
    ),
    pytest.param(
        '{ items(filter: {colors: [GREEN], nameContains: "e"}) { id name } }',
        None,
        id="input-object-and-enum-literals",
    ),
    pytest.param('{ total(prices: "1.50") many: total(prices: ["1", "2.25"]) }', None, id="lists"),
    pytest.param(
        '{ colors latest items { color rawColor price createdAt priceWithTax(rate: "0.1") } }',
        None,
        id="enum-decimal-datetime-outputs",
    ),
    pytest.param(
        "{ itemsSoon(first: 3) { id label priceWithTax related { id label related(count: 1) "
        "{ name twin { name } } } } countdown(steps: 5) items { twinSoon { id } } }",
        None,
        id="sync-and-async-resolvers",
    ),
    pytest.param("{ items { owner described } }", None, id="parent-and-root-parameters"),
    pytest.param(
        '{ utc: moments(kind: "utc") { at day } naive: moments(kind: "naive") { at day } '
        'mixed: moments(kind: "mixed") { at day } }',
        None,
        id="dates-and-datetimes-in-every-form",
    ),
    pytest.param("{ countdown(steps: 7) itemsSoon { id } }", None, id="many-loop-iterations"),
]


@pytest.mark.parametrize(("query", "variables"), SHAPES)
async def test_planned_execution_answers_as_graphql_core(
    query: str, variables: dict[str, Any] | None
) -> None:
    planned = await agree(query, variables)

    assert planned.errors == []
    assert planned.data is not None


async def test_the_chosen_operation_of_a_document_runs() -> None:
    document = 'query A { greeting(name: "a") } query B { greeting(name: "b") items { id } }'

    planned = await agree(document, operation_name="B")

    assert planned.data == {"greeting": "Hello, b!", "items": [{"id": i.id} for i in ITEMS]}


async def test_an_object_whose_fields_are_all_skipped_is_an_empty_object() -> None:
    planned = await agree(
        "query ($skip: Boolean!) { items(first: 2) { id @skip(if: $skip) } greeting }",
        {"skip": True},
    )

    assert planned.data == {"items": [{}, {}], "greeting": "Hello, world!"}


async def test_resolvers_see_the_same_paths_and_field_names() -> None:
    planned = await agree(
        "{ items(first: 2) { loud: label(upper: true) twin { label } } first: item(id: 3) "
        "{ owner } }"
    )

    assert planned.calls == sorted(
        [
            ("items", ("items",)),
            ("label", ("items", 0, "loud")),
            ("label", ("items", 1, "loud")),
            ("twin", ("items", 0, "twin")),
            ("twin", ("items", 1, "twin")),
            ("label", ("items", 0, "twin", "label")),
            ("label", ("items", 1, "twin", "label")),
            ("item", ("first",)),
            ("owner", ("first", "owner")),
        ],
        key=repr,
    )


async def test_attribute_fields_of_the_root_value_are_read() -> None:
    planned = await agree("{ version greeting }", root_value=Query(version="2.0"))

    assert planned.data == {"version": "2.0", "greeting": "Hello, world!"}


async def test_attribute_fields_of_a_missing_root_value_fail_alike() -> None:
    planned = await agree("{ version greeting }")

    assert planned.data is None
    assert [message for message, *_ in planned.errors] == [
        "'NoneType' object has no attribute 'version'"
    ]


# --- One document, many requests -----------------------------------------------------------

REUSED = """
query ($first: Int!, $name: String = "you", $loud: Boolean! = false) {
  greeting(name: $name)
  items(first: $first) { id label(upper: $loud) fragile }
  item(id: 3) { twin { id } }
}
"""
REUSED_SKIPPING = """
query ($first: Int!, $skip: Boolean!) {
  items(first: $first) { id @skip(if: $skip) name ...More @include(if: $skip) }
}
fragment More on Item { color }
"""
REUSED_CONSTANT = '{ greeting(name: "constant") items(first: 2) { id label fragile } }'
VARIABLE_SETS = [
    {"first": 1},
    {"first": 3, "name": "Ada", "loud": True},
    {"first": 0, "loud": False},
    {"first": 2},
]


@pytest.mark.parametrize(
    ("query", "variable_sets"),
    [
        pytest.param(REUSED, VARIABLE_SETS, id="arguments-from-variables"),
        pytest.param(
            REUSED_SKIPPING,
            [{"first": 2, "skip": True}, {"first": 3, "skip": False}, {"first": 1, "skip": True}],
            id="skip-include-from-variables",
        ),
        pytest.param(REUSED_CONSTANT, [None, None, None], id="no-variables"),
    ],
)
async def test_each_request_of_a_reused_document_gets_its_own_answer(
    query: str, variable_sets: list[dict[str, Any] | None]
) -> None:
    for variables in variable_sets:
        await agree(query, variables, schemas=REUSED_DOCUMENTS_SHOP)


async def test_concurrent_requests_of_a_reused_document_get_their_own_answers() -> None:
    sets = VARIABLE_SETS * 3
    standard = [await execute(REUSED_DOCUMENTS_SHOP.standard, REUSED, v) for v in sets]

    planned = await asyncio.gather(
        *(execute(REUSED_DOCUMENTS_SHOP.planned, REUSED, v) for v in sets)
    )

    for planned_outcome, standard_outcome in zip(planned, standard, strict=True):
        assert_same(planned_outcome, standard_outcome)
        assert not planned_outcome.graphql_core_ran


# --- Field errors -----------------------------------------------------------------------

ERRORS = [
    pytest.param("{ items { id fragile } }", id="nullable-field-raising-in-many-items"),
    pytest.param("{ item(id: 1) { id sturdy } greeting }", id="non-null-to-nullable-parent"),
    pytest.param("{ items { id sturdy } }", id="non-null-through-non-null-list-to-data"),
    pytest.param("{ greeting essential { id sturdy } }", id="non-null-root-field-to-data"),
    pytest.param("{ maybeItems { id sturdy } }", id="non-null-in-many-nullable-items"),
    pytest.param("{ maybeItems { id sturdySoon } }", id="async-non-null-in-many-items"),
    pytest.param("{ items { twin { id sturdy } } }", id="non-null-in-nested-nullable-objects"),
    pytest.param(
        "{ items { twin { twin { id sturdy } fragile } } }", id="errors-at-several-depths"
    ),
    pytest.param("{ item(id: 1) { vanished } }", id="non-null-field-returning-none"),
    pytest.param("{ items { vanished } }", id="non-null-field-returning-none-in-a-list"),
    pytest.param("{ item(id: 1) { holes } }", id="null-item-of-a-nullable-list"),
    pytest.param("{ items { tooBig } }", id="int-out-of-32-bit-range"),
    pytest.param("{ items { notAList } }", id="non-iterable-for-a-list"),
    pytest.param("{ items { coded } }", id="errors-with-extensions"),
    pytest.param("{ items { badColor } }", id="invalid-enum-value"),
    pytest.param("{ returnedErrors }", id="exceptions-returned-as-list-items"),
    pytest.param("{ ragged }", id="non-null-items-in-nullable-inner-lists"),
    pytest.param("{ gappy }", id="failing-items-after-empty-lists"),
    pytest.param("{ wrongShape { id name } }", id="a-dict-for-an-object"),
    pytest.param("{ oddValues { ratio whole ident flag text status } }", id="leaf-coercions"),
    pytest.param("{ item(id: 1) { fragile sturdy } }", id="nullable-error-before-non-null-error"),
    pytest.param("{ item(id: 1) { sturdySoon priceWithTax } }", id="async-error-in-one-round"),
    pytest.param(
        "{ items { sturdy(fail: false) fragile } essential { sturdy(fail: false) } }",
        id="some-fail-some-hold",
    ),
]


@pytest.mark.parametrize("query", ERRORS)
async def test_field_errors_are_the_same(query: str) -> None:
    planned = await agree(query)

    assert planned.errors != []


async def test_an_error_under_a_non_null_root_field_nulls_the_whole_data() -> None:
    planned = await agree("{ greeting essential { sturdy } }")

    assert planned.data is None
    assert planned.errors == [
        ("Item 2 gave way.", ["essential", "sturdy"], [(1, 24)], None),
    ]


async def test_an_argument_that_cannot_be_coerced_fails_every_object_alike() -> None:
    # $suffix may be null, and it has a default: validation lets it into `String!`.
    query = 'query ($suffix: String = "!") { items { label(suffix: $suffix) } }'

    planned = await agree(query, {"suffix": None})

    assert planned.data is None
    assert [message for message, *_ in planned.errors] == [
        "Argument 'suffix' has invalid value: Expected variable '$suffix' provided to non-null "
        "type 'String!' not to be None."
    ]


async def test_the_first_failing_item_of_a_non_null_list_is_the_one_reported() -> None:
    # [Int!]: item 0 is null, item 1 out of range; graphql-core reports item 0.
    planned = await agree("{ numbersAfterAGap }")

    assert planned.data == {"numbersAfterAGap": None}
    assert planned.errors == [
        (
            "Cannot return null for non-nullable field Query.numbersAfterAGap.",
            ["numbersAfterAGap", 0],
            [(1, 3)],
            None,
        )
    ]


async def test_the_first_failing_object_of_a_non_null_list_is_the_one_reported() -> None:
    # [Item!]: item 0 is null, item 1's non-null field fails; graphql-core reports item 0.
    await agree("{ itemsAfterAGap { id sturdy } }")


# --- The documented difference: errors around a failed non-null field ------------------
#
# graphql-core stops resolving an object's fields at its first failed non-null field (in
# field order when they are sync, in time when they are async) and cancels the rest; the
# planned executor resolves a level's fields together, so it may also report errors of the
# siblings, and of a non-null list it reports the failing item with the lowest index. The
# data is the same; README ("How a query runs") says so.


async def differ_only_in_errors(query: str) -> tuple[Outcome, Outcome]:
    standard = await execute(SHOP.standard, query)
    planned = await execute(SHOP.planned, query)
    assert planned.data_json == standard.data_json
    assert not planned.graphql_core_ran
    return planned, standard


async def test_errors_of_fields_after_a_failed_non_null_field_are_also_reported() -> None:
    planned, standard = await differ_only_in_errors("{ item(id: 1) { sturdy fragile } }")

    assert standard.errors == [("Item 1 gave way.", ["item", "sturdy"], [(1, 17)], None)]
    assert planned.errors == [
        ("Item 1 gave way.", ["item", "sturdy"], [(1, 17)], None),
        ("Item 1 is fragile.", ["item", "fragile"], [(1, 24)], None),
    ]


async def test_a_pending_nullable_sibling_of_a_failed_non_null_field_is_not_cancelled() -> None:
    planned, standard = await differ_only_in_errors("{ item(id: 1) { sturdySoon fragileLater } }")

    assert planned.data == {"item": None}
    assert [path for _, path, _, _ in standard.errors] == [["item", "sturdySoon"]]
    assert sorted(path for _, path, _, _ in planned.errors) == [
        ["item", "fragileLater"],
        ["item", "sturdySoon"],
    ]


async def test_a_non_null_list_reports_its_lowest_failing_item() -> None:
    planned, standard = await differ_only_in_errors("{ numbersSoonFailing }")

    assert [message for message, *_ in standard.errors] == ["Number 3 failed."]  # first in time
    assert [message for message, *_ in planned.errors] == ["Number 2 failed."]  # lowest index


async def test_an_iterable_failing_midway_is_an_error_of_its_field() -> None:
    planned = await agree("{ generated greeting }")

    assert planned.data == {"generated": None, "greeting": "Hello, world!"}
    assert planned.errors == [("The rows ran out.", ["generated"], [(1, 3)], None)]


@pytest.mark.parametrize(
    ("field", "depth"),
    [
        pytest.param("twin", 150, id="sync-150"),
        pytest.param("twinSoon", 150, id="async-150"),
        pytest.param("related(count: 1)", 100, id="async-with-several-awaits-100"),
        pytest.param("related(count: 1)", MAX_PLANNED_DEPTH - 1, id="async-deepest-planned"),
    ],
)
async def test_deeply_nested_queries_answer_as_under_graphql_core(field: str, depth: int) -> None:
    # graphql-core's parser refuses nesting deeper than about 200; the gateway's depth limit
    # is far lower (Limits.max_depth). Past MAX_PLANNED_DEPTH the planned executor leaves the
    # query to graphql-core, whose tasks keep deep async chains clear of the recursion limit.
    query = "{ item(id: 1) { " + f"{field} {{ " * depth + "id" + " }" * depth + " } }"

    await agree(query, planned=depth + 1 <= MAX_PLANNED_DEPTH)


# --- Awaitables and dataloaders -----------------------------------------------------------


async def test_awaitable_list_items_are_awaited() -> None:
    planned = await agree("{ numbersSoon }")

    assert planned.data == {"numbersSoon": [1, 2]}


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ maybeNumbersSoonFailing }", id="nullable-items"),
        pytest.param("{ itemsSoonOneByOne { id label twin { id } } }", id="objects"),
    ],
)
async def test_awaitable_list_items_fail_as_under_graphql_core(query: str) -> None:
    await agree(query)


async def test_a_list_of_loader_futures_is_awaited_item_by_item() -> None:
    planned = await agree("{ items(first: 2) { nicknamesOfRelated } }")

    assert planned.data == {
        "items": [
            {"nicknamesOfRelated": ["nick-2", "nick-3"]},
            {"nicknamesOfRelated": ["nick-3", "nick-4"]},
        ]
    }


async def test_an_awaitable_returned_by_a_field_is_awaited() -> None:
    # `eventually` returns the loader's future that the item holds.
    planned = await agree("{ withAPendingValue { id eventually } }")

    assert planned.data == {"withAPendingValue": {"id": 1, "eventually": "nick-7"}}


async def test_an_awaitable_held_by_a_field_without_resolver_is_awaited() -> None:
    # graphql-core awaits whatever a field's resolver gives, Strawberry's attribute read too.
    planned = await agree("{ withAPendingValue { id pending } }")

    assert planned.data == {"withAPendingValue": {"id": 1, "pending": "nick-8"}}


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ items { nickname } }", id="async-resolvers"),
        pytest.param("{ itemsSoon { nickname } }", id="under-an-async-list"),
        pytest.param("{ items { related { nickname related { nickname } } } }", id="levels"),
        pytest.param("{ items { nickname } item(id: 2) { nickname } }", id="two-branches"),
        pytest.param("{ maybeItems { nickname fragile } }", id="with-errors-alongside"),
    ],
)
async def test_a_shared_dataloader_gets_the_same_batches(query: str) -> None:
    planned = await agree(query)

    assert planned.batches != []
    assert planned.errors == [] or "fragile" in query


async def test_loads_through_a_sync_object_field_join_their_siblings_batch() -> None:
    # graphql-core resolves `twin` synchronously, so the twins' nicknames are loaded in the
    # same round as the items' own: one batch, one statement for a database loader.
    planned = await agree("{ items(first: 3) { nickname twin { nickname } } }")

    assert planned.batches == [[1, 2, 3, 4]]


async def test_loads_after_a_bare_yield_may_take_the_next_batch() -> None:
    # twinSoon awaits one loop iteration (asyncio.sleep(0)) while the nicknames wait for
    # their batch. Under graphql-core the twin is completed in twinSoon's own task, so its
    # nickname joins that batch; the planned executor completes the twins once all of
    # twinSoon's tasks are done, a few loop iterations later: a second batch. Documented in
    # README ("How a query runs"); the answers are the same.
    query = "{ itemsSoon(first: 3) { nickname twinSoon { nickname } } }"
    standard = await execute(SHOP.standard, query)
    planned = await execute(SHOP.planned, query)

    assert planned.data_json == standard.data_json
    assert not planned.graphql_core_ran
    assert standard.batches == [[1, 2, 3, 4]]
    assert planned.batches == [[1, 2, 3], [4]]


async def test_resolvers_waiting_unequally_long_batch_as_under_graphql_core() -> None:
    # Item n waits n loop iterations before its load: graphql-core batches items 1 and 2.
    planned = await agree("{ items(first: 3) { nicknameAfterAWhile } }")

    assert planned.batches == [[1, 2], [3]]


# --- Arguments are the resolver's own -----------------------------------------------------


async def test_each_object_gets_its_own_copy_of_a_list_argument() -> None:
    planned = await agree('{ items(first: 3) { tagged(tags: ["new"]) } }')

    assert planned.data == {
        "items": [
            {"tagged": ["new", "anchor"]},
            {"tagged": ["new", "bucket"]},
            {"tagged": ["new", "candle"]},
        ]
    }


# --- Permissions ------------------------------------------------------------------------


async def test_permission_classes_are_checked_on_the_planned_path() -> None:
    planned = await agree(
        "{ openSecret closedSecret closedLater items { id privateNote publicNote } }"
    )

    assert planned.data is not None
    assert planned.data["openSecret"] == "open"
    assert planned.data["closedSecret"] is None
    assert planned.data["closedLater"] is None
    assert all(item["privateNote"] is None for item in planned.data["items"])
    assert ("You may not see this.", ["closedSecret"], [(1, 14)], {"code": "FORBIDDEN"}) in (
        planned.errors
    )
    assert len(planned.errors) == 2 + len(ITEMS)


# --- What graphql-core's executor still runs ------------------------------------------------

FALLBACKS = [
    pytest.param("{ pets { name ... on Dog { barks } ... on Cat { lives } } }", id="interface"),
    pytest.param("{ dog { name barks } }", id="type-implementing-an-interface"),
    pytest.param(
        "{ animals { __typename ... on Dog { name } ... on Fish { name fins } } }", id="union"
    ),
    pytest.param("{ __schema { queryType { name } } }", id="introspection-schema"),
    pytest.param('{ __type(name: "Item") { name fields { name } } greeting }', id="type"),
]


@pytest.mark.parametrize("query", FALLBACKS)
async def test_what_planned_execution_does_not_support_runs_on_graphql_core(query: str) -> None:
    planned = await agree(query, planned=False)

    assert planned.errors == []


async def test_introspection_answers_through_the_fallback() -> None:
    planned = await agree("{ __schema { queryType { name } } }", planned=False)

    assert planned.data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_mutations_run_on_graphql_core() -> None:
    planned = await agree(
        'mutation { rename(id: 2, name: "pail") { id name label twin { name } } }',
        planned=False,
    )

    assert planned.data == {
        "rename": {"id": 2, "name": "pail", "label": "pail", "twin": {"name": "candle"}}
    }


async def test_mutation_errors_run_on_graphql_core() -> None:
    planned = await agree("mutation { explode { id } }", planned=False)

    assert planned.data is None
    assert planned.errors == [("Nothing to rename.", ["explode"], [(1, 12)], None)]


async def test_a_schema_extension_resolve_hook_runs_on_graphql_core() -> None:
    planned = await agree(
        "{ greeting items(first: 2) { name label } }", schemas=SHOUTING_SHOP, planned=False
    )

    assert planned.data == {
        "greeting": "HELLO, WORLD!",
        "items": [{"name": "ANCHOR", "label": "ANCHOR"}, {"name": "BUCKET", "label": "BUCKET"}],
    }


# --- A custom default resolver ------------------------------------------------------------


@strawberry.type
class Row:
    name: str
    size: int


@strawberry.type
class RowsQuery:
    @strawberry.field
    def rows(self) -> list[Row]:
        return [{"name": "a", "size": 1}, {"name": "b", "size": 2}]  # type: ignore[list-item]

    @strawberry.field
    def broken_rows(self) -> list[Row | None]:
        return [{"name": "c", "size": 3}, {"name": "d"}]  # type: ignore[list-item]


def item_getter(source: Any, name: str) -> Any:
    return source[name]


ROWS = pair(query=RowsQuery, config=StrawberryConfig(default_resolver=item_getter))


async def test_a_custom_default_resolver_reads_fields_without_resolver() -> None:
    planned = await agree("{ rows { name size } brokenRows { name size } }", schemas=ROWS)

    assert planned.data == {
        "rows": [{"name": "a", "size": 1}, {"name": "b", "size": 2}],
        "brokenRows": [{"name": "c", "size": 3}, None],
    }
    assert planned.errors == [("'size'", ["brokenRows", 1, "size"], [(1, 40)], None)]


# --- Custom scalars -------------------------------------------------------------------

Signed = NewType("Signed", int)


def signed_text(value: int) -> Any:
    """Signed's serializer: "+n" for n >= 2; 1 gives None, 0 Undefined (graphql-core reports
    both as failures), a negative raises."""
    if value < 0:
        raise ValueError(f"{value} is negative.")
    return {0: Undefined, 1: None}.get(value, f"+{value}")


@strawberry.type
class ScalarsQuery:
    @strawberry.field
    def signed(self, values: list[int]) -> list[Signed | None]:
        return values  # type: ignore[return-value]

    @strawberry.field
    def blobs(self) -> list[JSON | None]:
        return [{"a": [1, 2]}, [1, "x"], "s", 3, None]


SCALARS = pair(
    query=ScalarsQuery,
    config=StrawberryConfig(
        scalar_map={Signed: strawberry.scalar(name="Signed", serialize=signed_text)}
    ),
)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ signed(values: [2, 3]) }", id="serialized"),
        pytest.param("{ signed(values: [2, -1, 3]) }", id="serializer-raising"),
        pytest.param("{ signed(values: [2, 1]) }", id="serializer-returning-none"),
        pytest.param("{ signed(values: [2, 0]) }", id="serializer-returning-undefined"),
        pytest.param("{ blobs }", id="json"),
    ],
)
async def test_custom_scalars_serialize_as_under_graphql_core(query: str) -> None:
    await agree(query, schemas=SCALARS)


# --- execute_sync -----------------------------------------------------------------------

SYNC_QUERIES = [
    pytest.param("{ items { id name color price label(upper: true) twin { id } } }", id="plain"),
    pytest.param(
        "query { ...Root } fragment Root on Query { greeting numbers matrix colors latest }",
        id="fragments-and-scalars",
    ),
    pytest.param("{ items { fragile } maybeItems { sturdy } }", id="errors"),
    pytest.param("{ greeting essential { sturdy } }", id="error-to-data"),
    pytest.param("{ items { tooBig notAList holes coded } }", id="completion-errors"),
    pytest.param("{ openSecret closedSecret items { privateNote } }", id="permissions"),
    pytest.param("{ __typename items { __typename owner described } }", id="typename"),
]


@pytest.mark.parametrize("query", SYNC_QUERIES)
def test_execute_sync_answers_as_graphql_core(query: str) -> None:
    results = {}
    for mode, schema in (("planned", SHOP.planned), ("standard", SHOP.standard)):
        recorder = Recorder()
        results[mode] = outcome(schema.execute_sync(query, context_value=recorder), recorder)

    assert_same(results["planned"], results["standard"])
    assert not results["planned"].graphql_core_ran
    assert results["planned"].data is not None or results["planned"].errors
    assert all("synchronously" not in message for message, *_ in results["planned"].errors)
