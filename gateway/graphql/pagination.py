"""Cursor pagination with a maximum page size, shared by every service: forward
(`first`/`after`) and backward (`last`/`before`), as Relay's connections page.

A cursor is an opaque, url-safe encoding of a row's id; lists are ordered by id, so a page
is `WHERE id > $after ORDER BY id LIMIT $first + 1`, or backward `WHERE id < $before ORDER
BY id DESC LIMIT $last + 1` turned around (the extra row says whether another page
follows, or comes before). The primary key serves both.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import strawberry

from gateway.graphql.errors import BadUserInput

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Connection",
    "Edge",
    "PageArgs",
    "PageInfo",
    "make_connection",
    "page_args",
    "table_pages",
]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

NodeT = TypeVar("NodeT")
_CURSOR_PREFIX = "cursor:"


def _start_cursor(root: PageInfo) -> str | None:
    return None if root.first_id is None else encode_cursor(root.first_id)


def _end_cursor(root: PageInfo) -> str | None:
    # Encoded only when asked for: most nested pages never select it.
    return None if root.last_id is None else encode_cursor(root.last_id)


@strawberry.type(description="Where a page starts and ends, and whether others are around it.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description=(
            "Whether rows follow this page: known when paging forward, true before a cursor "
            "when paging backward."
        )
    )
    has_previous_page: bool = strawberry.field(
        description=(
            "Whether rows come before this page: known when paging backward, true after a "
            "cursor when paging forward."
        )
    )
    start_cursor: str | None = strawberry.field(
        resolver=_start_cursor, description="The cursor of the page's first node, or null."
    )
    end_cursor: str | None = strawberry.field(
        resolver=_end_cursor,
        description="The cursor of the page's last node: `after` for the next.",
    )
    last_id: strawberry.Private[int | None]
    first_id: strawberry.Private[int | None]


def _cursor(root: Edge[Any]) -> str:
    return encode_cursor(root.node.id)


@strawberry.type(description="A node of a page with its cursor (Relay's connection shape).")
class Edge(Generic[NodeT]):
    node: NodeT
    cursor: str = strawberry.field(
        resolver=_cursor, description="Where this node is: `after` to go on from it."
    )


def _edges(root: Connection[NodeT]) -> list[Edge[NodeT]]:
    edges = []
    for node in root.nodes:
        edge: Edge[NodeT] = _new(Edge)
        edge.node = node
        edges.append(edge)
    return edges


@strawberry.type(description="One page of a list, ordered by id.")
class Connection(Generic[NodeT]):
    nodes: list[NodeT]
    page_info: PageInfo
    edges: list[Edge[NodeT]] = strawberry.field(
        resolver=_edges, description="The page's nodes with their cursors, as Relay reads a page."
    )


@dataclass(frozen=True, slots=True)
class PageArgs:
    """A validated page request: at most `first` rows with id greater than `after_id`, or
    (`backward`) the last `first` rows with id less than `before_id`."""

    first: int
    after_id: int | None
    before_id: int | None = None
    backward: bool = False

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page, to learn whether another page follows."""
        return self.first + 1

    @property
    def cursor_id(self) -> int | None:
        """The id the page starts from: `after_id`, or `before_id` when backward."""
        return self.before_id if self.backward else self.after_id


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{row_id}".encode()).decode()


def decode_cursor(cursor: str, argument: str = "after") -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_CURSOR_PREFIX):
            row_id = int(text.removeprefix(_CURSOR_PREFIX))
            if 0 <= row_id < 2**31:  # ids are PostgreSQL integers
                return row_id
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise BadUserInput(f"`{argument}` is not a cursor this API returned: {cursor[:40]!r}.")


def page_args(
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
    *,
    max_size: int = MAX_PAGE_SIZE,
) -> PageArgs:
    """Validate `first`/`after` (or `last`/`before`) from a query; raises BadUserInput past
    `max_size`, or for both directions at once."""
    backward = last is not None or before is not None
    if backward and (first is not None or after is not None):
        raise BadUserInput(
            "Page forward (`first`, `after`) or backward (`last`, `before`), not both."
        )
    given, name = (last, "last") if backward else (first, "first")
    size = min(DEFAULT_PAGE_SIZE, max_size) if given is None else given
    if not 0 <= size <= max_size:
        raise BadUserInput(f"`{name}` must be between 0 and {max_size}, got {size}.")
    if backward:
        before_id = None if before is None else decode_cursor(before, "before")
        return PageArgs(first=size, after_id=None, before_id=before_id, backward=True)
    return PageArgs(first=size, after_id=None if after is None else decode_cursor(after))


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=_HasId)


def make_connection(rows: Sequence[RowT], page: PageArgs) -> Connection[RowT]:
    """The page for `rows` fetched with `LIMIT page.limit` (by descending id when the page
    goes backward: its nodes are then turned back into ascending order)."""
    # Built without the dataclass __init__ (keyword arguments cost more than the rest of
    # this function): nested queries make one per parent row, thousands per request.
    more = len(rows) > page.first
    nodes = list(rows[: page.first]) if more else list(rows)
    page_info = _new(PageInfo)
    if page.backward:
        nodes.reverse()
        page_info.has_previous_page = more
        page_info.has_next_page = page.before_id is not None
    else:
        page_info.has_next_page = more
        page_info.has_previous_page = page.after_id is not None
    page_info.last_id = nodes[-1].id if nodes else None
    page_info.first_id = nodes[0].id if nodes else None
    connection: Connection[RowT] = _new(Connection)
    connection.nodes = nodes
    connection.page_info = page_info
    return connection


_new = object.__new__


def table_pages(columns: str, table: str) -> tuple[str, str]:
    """A root list's two statements over `{{tables.<table>}}`: forward (after the cursor $1,
    by id) and backward (before the cursor $1, by descending id), `$2` rows each; run the
    one `page.backward` names with `page.cursor_id` and `page.limit`."""
    source = f"SELECT {columns} FROM {{{{tables.{table}}}}} WHERE ($1::int IS NULL OR id "
    return (
        f"{source}> $1) ORDER BY id LIMIT $2",
        f"{source}< $1) ORDER BY id DESC LIMIT $2",
    )
