"""Count the SQL statements a unit of work sends, through asyncpg's query logger.

Every connection of a pool opened by `gateway.db` reports each statement it runs to
`record_statement`, which adds it to the recorder of the current context (a request, a test)
if one is active. Usage:

    with count_statements() as recorder:
        await db.fetch_all("SELECT 1")
    await asyncio.sleep(0)  # asyncpg reports on the next loop iteration
    assert recorder.count == 1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import asyncpg

__all__ = ["StatementRecorder", "count_statements", "record_statement", "releasing"]


@dataclass
class StatementRecorder:
    """The statements seen while a `count_statements()` block was active."""

    queries: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.queries)


# Every active recorder of this context, outermost first: blocks nest (a test counting
# around a request still sees the statements the request's own recorder counts).
_current: ContextVar[tuple[StatementRecorder, ...]] = ContextVar("gateway_statements", default=())
# Set while a connection is released: the pool's reset query is housekeeping, not work.
releasing: ContextVar[bool] = ContextVar("gateway_releasing", default=False)


def record_statement(record: asyncpg.connection.LoggedQuery) -> None:
    """asyncpg query-logger callback: credit the statement to every active recorder."""
    if releasing.get():
        return
    for recorder in _current.get():
        recorder.queries.append(record.query)


@contextmanager
def count_statements() -> Iterator[StatementRecorder]:
    """Record every statement sent from this context (and tasks it starts) until exit.

    Blocks nest: a statement counts in every block active where it was sent.
    """
    recorder = StatementRecorder()
    token = _current.set((*_current.get(), recorder))
    try:
        yield recorder
    finally:
        _current.reset(token)
