"""The attacker's documents: the ladder of expensive queries and the validation flood.

    ladder(shape)       # candidates, the one returning most values first
    flood_body(n)       # the n-th distinct ~5 KB document of 480 `__typename`

The ladder is how the worst query stays "the worst the server allows" whatever its limits
are: the attacker sends candidates from the largest answer down and keeps the first one not
refused by a limit code. Candidates nest the services' lists (users > orders > payments >
order > user > orders, `items` on the way) with every page size from 100 to 1, with `first`
written or left to the server's default, and with each connection's `nodes` either a direct
child or hidden in an inline fragment (`... on UserConnection { nodes }`) or a named
fragment, the shapes issue 13 found the cost limit blind to. Each candidate knows how many
values its answer holds on the seeded data (`DataShape`), so the report can say how large
the query it settled on is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import product

__all__ = [
    "BUSY_CODES",
    "FLOOD_TYPENAMES",
    "LIMIT_CODES",
    "Candidate",
    "DataShape",
    "flood_body",
    "ladder",
]

# The codes with which a server refuses a document before running it: a candidate answered
# with one of these is too large; any other answer (data, a deadline, a cap) means it ran.
LIMIT_CODES = frozenset(
    {
        "QUERY_TOO_LONG",
        "TOO_MANY_TOKENS",
        "QUERY_TOO_DEEP",
        "TOO_MANY_ALIASES",
        "TOO_MANY_DIRECTIVES",
        "QUERY_TOO_COSTLY",
        "REQUEST_TOO_LARGE",
        "BAD_USER_INPUT",  # a page larger than the server's maximum
        "GRAPHQL_VALIDATION_FAILED",
        "GRAPHQL_PARSE_FAILED",
        "VALIDATION_TOO_COMPLEX",  # validation's own budget (issue 13's fix)
    }
)
# Codes that say "not now" rather than "not this query": a candidate answered with one is
# sent again, neither refused nor run.
BUSY_CODES = frozenset({"SERVER_BUSY", "SERVICE_UNAVAILABLE"})
FLOOD_TYPENAMES = 480  # issue 13: ~5 KB, ~190 ms of validation each on the old code
SERVER_DEFAULT_PAGE = 20  # what a list answers when `first` is left out
_TOP_PAGES = (100, 20, 10, 5, 2, 1)
_INNER_PAGES: tuple[int | None, ...] = (None, 100, 10, 5, 3, 2, 1)
_HIDING = ("fragments", "plain")


@dataclass(frozen=True)
class DataShape:
    """The seeded data: every user has `orders` orders, every order `payments` payments
    and `items` line items."""

    users: int
    orders: int
    payments: int
    items: int


@dataclass(frozen=True)
class Candidate:
    """One query of the ladder: its request body and the values its answer holds."""

    label: str
    body: str
    values: int


@dataclass(frozen=True)
class _List:
    """A list field in a candidate: its name, its page, what it holds per parent."""

    field: str
    connection: str | None  # the connection type, None for a plain list (`items`)
    available: int  # rows per parent in the seeded data
    leaves: tuple[str, ...]
    children: tuple[_Link, ...] = ()


@dataclass(frozen=True)
class _Link:
    """A single object between lists (`order`, `user`), or a list directly."""

    path: tuple[str, ...]  # single-object fields to walk through first: ("order", "user")
    target: _List


def _tree(shape: DataShape, levels: int) -> _List:
    """users > orders (> items) > payments > order > user > orders, cut to `levels` lists."""
    items = _List("items", None, shape.items, ("sku", "quantity", "unitPrice"))
    inner_orders = _List("orders", "OrderConnection", shape.orders, ("id", "status", "total"))
    payments = _List(
        "payments",
        "PaymentConnection",
        shape.payments,
        ("id", "amount", "currency"),
        (_Link(("order", "user"), inner_orders),) if levels >= 4 else (),
    )
    orders = _List(
        "orders",
        "OrderConnection",
        shape.orders,
        ("id", "status", "total"),
        (_Link((), items), *((_Link((), payments),) if levels >= 3 else ())),
    )
    return _List("users", "UserConnection", shape.users, ("id", "name"), (_Link((), orders),))


class _Renderer:
    """A tree as GraphQL, with one page size at the top and another below it."""

    def __init__(self, top: int, inner: int | None, hide: bool) -> None:
        self.top = top
        self.inner = inner
        self.hide = hide
        self.fragments: list[str] = []

    def document(self, root: _List) -> str:
        body = self._list(root, self.top)
        return "\n".join(["query Worst {", f"  {body}", "}", *self.fragments])

    def _list(self, node: _List, page: int | None) -> str:
        arguments = f"(first: {page})" if page is not None and node.connection else ""
        inner = " ".join([*node.leaves, *(self._link(link) for link in node.children)])
        if node.connection is None:
            return f"{node.field} {{ {inner} }}"
        nodes = f"nodes {{ {inner} }}"
        if not self.hide:
            selection = nodes
        elif node.field == "orders":
            # A named fragment per occurrence: the two `orders` lists select differently.
            name = f"OrderPage{len(self.fragments)}"
            self.fragments.append(f"fragment {name} on {node.connection} {{ {nodes} }}")
            selection = f"...{name}"
        else:
            selection = f"... on {node.connection} {{ {nodes} }}"
        return f"{node.field}{arguments} {{ {selection} }}"

    def _link(self, link: _Link) -> str:
        text = self._list(link.target, self.inner)
        for field in reversed(link.path):
            text = f"{field} {{ id {text} }}"
        return text


def _values(node: _List, page: int | None, inner: int | None, parents: int) -> int:
    """Scalar values in the answer: leaves of every row, through every link."""
    size = node.available if node.connection is None else page or SERVER_DEFAULT_PAGE
    rows = parents * min(size, node.available)
    total = rows * len(node.leaves)
    for link in node.children:
        total += rows * len(link.path)  # the `id` of each single object walked through
        total += _values(link.target, inner, inner, rows)
    return total


def ladder(shape: DataShape) -> list[Candidate]:
    """Every candidate, the one whose answer holds most values first; among equals, hidden
    `nodes` and left-out pages first (those are the ones a syntactic cost limit misjudges)."""
    ranked: list[tuple[int, int, Candidate]] = []
    for order, (levels, hiding, top, inner) in enumerate(
        product((4, 3, 2), _HIDING, _TOP_PAGES, _INNER_PAGES)
    ):
        root = _tree(shape, levels)
        document = _Renderer(top, inner, hiding == "fragments").document(root)
        pages = f"first {top}, inner {'default' if inner is None else inner}"
        nodes = "in fragments" if hiding == "fragments" else "plain"
        label = f"{levels} nested lists, nodes {nodes}, {pages}"
        values = _values(root, top, inner, 1)
        body = json.dumps({"query": document, "operationName": "Worst"})
        ranked.append((-values, order, Candidate(label, body, values)))
    ranked.sort(key=lambda entry: entry[:2])
    return [candidate for _, _, candidate in ranked]


def flood_body(index: int, typenames: int = FLOOD_TYPENAMES) -> str:
    """A document of `typenames` `__typename`, distinct per `index` (its operation name) so
    no cache of parsed or validated documents answers it."""
    selections = " ".join(["__typename"] * typenames)
    name = f"Flood{index}"
    return json.dumps({"query": f"query {name} {{ {selections} }}", "operationName": name})
