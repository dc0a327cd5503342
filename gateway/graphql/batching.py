"""Dataloader shapes every service needs: rows by id, and a page of children per parent.

Both issue one SQL statement per batch (`= ANY($1)`), however many rows ask: a nested query
costs one statement per level, never one per row. Both are `BatchLoader`s, which report each
batch's size to the observer set with `observing_batches` (the gateway's metrics, per
request); a service's own dataloader reports too when it is a `BatchLoader`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar

from aiodataloader import DataLoader

from gateway.db.identifiers import validate_identifier
from gateway.db.queries import QueryRunner
from gateway.execution.budget import charge_rows
from gateway.graphql.errors import BadUserInput
from gateway.graphql.pagination import Connection, PageArgs, make_connection
from gateway.graphql.row_objects import RowObjects

__all__ = ["BatchLoader", "ChildPageLoader", "ChildPages", "by_id_loader", "observing_batches"]

KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")

_batch_observer: ContextVar[Callable[[int], None] | None] = ContextVar(
    "gateway_batch_observer", default=None
)


@contextmanager
def observing_batches(observer: Callable[[int], None]) -> Iterator[None]:
    """Report the size of every `BatchLoader` batch dispatched from this context to `observer`.

    Usage: `with observing_batches(batch_sizes.observe): await handle(request)`.
    """
    token = _batch_observer.set(observer)
    try:
        yield
    finally:
        _batch_observer.reset(token)


class BatchLoader(DataLoader[KeyT, ValueT]):
    """aiodataloader's DataLoader that reports each batch's size to the current observer.

    Usage: `BatchLoader(load_many)`, where `async def load_many(keys) -> list[value]`.
    """

    def __init__(
        self,
        batch_load_fn: Callable[[list[KeyT]], Coroutine[Any, Any, list[ValueT]]],
        **options: Any,
    ) -> None:
        async def observed(keys: list[KeyT]) -> list[ValueT]:
            # The batch runs in a task started from the first load()'s context, so the
            # observer is the one of the request that asked.
            observer = _batch_observer.get()
            if observer is not None:
                observer(len(keys))
            return await batch_load_fn(keys)

        super().__init__(observed, **options)


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=_HasId)
# A load's key: the parent, the page arguments, the columns to read.
_PageKey = tuple[int, PageArgs, RowObjects[RowT]]


def by_id_loader(
    fetch: Callable[[list[int]], Awaitable[Sequence[RowT]]],
) -> DataLoader[int, RowT | None]:
    """A DataLoader of rows by id (None for a missing id) over `fetch(ids)`."""

    async def batch(ids: list[int]) -> list[RowT | None]:
        found = {row.id: row for row in await fetch(ids)}
        return [found.get(row_id) for row_id in ids]

    return BatchLoader(batch)


@dataclass(frozen=True, eq=False)
class ChildPages(Generic[RowT]):
    """A store's one statement for a page of children per parent, at any column narrowing.

        PAYMENTS_OF_ORDERS = ChildPages(PAYMENT_ROWS, parent="order_id", sql=_payments_sql)

    `sql(columns)` is the statement for the comma-separated `columns`: parents' ids in $1,
    the cursor (an id, or NULL) in $2, at most $3 children per parent, ordered by parent
    then id; `parent` is the child's attribute holding its parent's id. The framework
    narrows `rows` to what a query reads and renders `sql` once per narrowing (cached), so
    a store never branches on which columns it was handed.
    """

    rows: RowObjects[RowT]
    parent: str
    sql: Callable[[str], str]
    # The same for a page backward (before the cursor $2, the last $3 rows by descending id,
    # ordered by parent then descending id); without it, the list pages forward only.
    backward_sql: Callable[[str], str] | None = None
    _rendered: dict[tuple[RowObjects[RowT], bool], str] = field(default_factory=dict, repr=False)

    @classmethod
    def of_table(cls, rows: RowObjects[RowT], *, table: str, parent: str) -> ChildPages[RowT]:
        """The usual statement: the first $3 rows after $2 of `{{tables.<table>}}` for every
        parent in $1 (`parent` its column), by a window over (parent, id), which an index
        on (parent, id) serves.

            TASKS_OF_PROJECTS = ChildPages.of_table(TASK_ROWS, table="tasks", parent="project_id")
        """
        validate_identifier(table, kind="table")
        validate_identifier(parent, kind="column")

        def window(columns: str, compare: str, order: str) -> str:
            return f"""
SELECT {columns} FROM (
    SELECT {columns}, row_number() OVER (PARTITION BY {parent} ORDER BY id {order}) AS position
    FROM {{{{tables.{table}}}}}
    WHERE {parent} = ANY($1::int[]) AND ($2::int IS NULL OR id {compare} $2)
) ranked
WHERE position <= $3
ORDER BY {parent}, id {order}
"""

        return cls(
            rows,
            parent=parent,
            sql=lambda columns: window(columns, ">", "ASC"),
            backward_sql=lambda columns: window(columns, "<", "DESC"),
        )

    def statement(self, rows: RowObjects[RowT], *, backward: bool = False) -> str:
        """The statement selecting `rows.columns` (`rows`: `self.rows`, or it narrowed),
        forward or backward; BadUserInput for a backward page of a forward-only list."""
        key = (rows, backward)
        sql = self._rendered.get(key)
        if sql is None:
            render = self.backward_sql if backward else self.sql
            if render is None:
                raise BadUserInput("This list pages forward only: use `first` and `after`.")
            sql = self._rendered[key] = render(rows.columns)
        return sql


class ChildPageLoader(Generic[RowT]):
    """Pages of child rows per parent id (a user's orders, an order's payments), batched.

    Usage, in a service's per-request data class: `self.of_order = ChildPageLoader(db,
    store.PAYMENTS_OF_ORDERS)`; in a batch field: `return await loader.pages_of(orders,
    info, first, after)`. One statement per level (`query`'s, run on `db`), selecting only
    the columns the query reads on the page's nodes (RowObjects.for_nodes_of, given the
    connection field's `info`). Requests with the same page arguments and columns share a
    statement.
    """

    def __init__(self, db: QueryRunner, query: ChildPages[RowT]) -> None:
        self._db = db
        self._query = query
        self._parent_of = attrgetter(query.parent)
        self._rows = query.rows
        self._loader: DataLoader[_PageKey[RowT], Connection[RowT]] = BatchLoader(self._batch)

    def load(self, parent_id: int, page: PageArgs, info: Any = None) -> Awaitable[Connection[RowT]]:
        """The page of `parent_id`'s children (await it); `info`: the connection field's."""
        # The loader's future itself, not a coroutine around it: one per row adds up.
        return self._loader.load((parent_id, page, self._rows_for(info)))

    async def pages_of(
        self,
        parents: Sequence[_HasId],
        info: Any,
        first: int | None,
        after: str | None,
        last: int | None = None,
        before: str | None = None,
    ) -> list[Connection[RowT]]:
        """The page of each parent's children (parents by their `id`), for a batch field's
        `first`/`after` (or `last`/`before`), validated against the request's maximum page
        size."""
        page = info.context.page(first, after, last, before)
        return await self.pages([parent.id for parent in parents], page, info)

    async def pages(
        self, parent_ids: Sequence[int], page: PageArgs, info: Any = None
    ) -> list[Connection[RowT]]:
        """The page of each parent's children, in one statement: for batch fields
        (gateway.graphql.batch_field), which ask for a whole level at once; `info`: the field's."""
        observer = _batch_observer.get()
        if observer is not None:
            observer(len(parent_ids))
        return await self._pages(list(parent_ids), page, self._rows_for(info))

    def _rows_for(self, info: Any) -> RowObjects[RowT]:
        return self._rows if info is None else self._rows.for_nodes_of(info)

    async def _fetch(
        self, parent_ids: list[int], page: PageArgs, rows: RowObjects[RowT]
    ) -> list[RowT]:
        records = await self._db.fetch_records(
            self._query.statement(rows, backward=page.backward),
            parent_ids,
            page.cursor_id,
            page.limit,
        )
        return rows.build_all(records)

    async def _pages(
        self, parent_ids: list[int], page: PageArgs, rows: RowObjects[RowT]
    ) -> list[Connection[RowT]]:
        children: dict[int, list[RowT]] = {}
        # At most `first` rows per parent come back, each a node of the answer: refuse a page
        # that could not fit in the operation's budget before fetching it
        # (gateway.execution.budget).
        charge_rows(len(parent_ids) * page.first)
        # groupby: one step per run of rows with the same parent (the fetch's ORDER BY
        # usually makes it one run per parent); correct in any order.
        fetched = await self._fetch(parent_ids, page, rows)
        for parent_id, children_rows in groupby(fetched, self._parent_of):
            children.setdefault(parent_id, []).extend(children_rows)
        return [make_connection(children.get(parent_id, ()), page) for parent_id in parent_ids]

    async def _batch(self, keys: list[_PageKey[RowT]]) -> list[Connection[RowT]]:
        # BatchLoader has reported the batch; one statement per distinct page and columns.
        parents_by_query: dict[tuple[PageArgs, RowObjects[RowT]], list[int]] = defaultdict(list)
        for parent_id, page, rows in keys:
            parents_by_query[(page, rows)].append(parent_id)
        connections: dict[_PageKey[RowT], Connection[RowT]] = {}
        for (page, rows), parent_ids in parents_by_query.items():
            pages = await self._pages(parent_ids, page, rows)
            for parent_id, connection in zip(parent_ids, pages, strict=True):
                connections[(parent_id, page, rows)] = connection
        return [connections[key] for key in keys]
