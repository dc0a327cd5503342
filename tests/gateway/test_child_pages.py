"""ChildPages.of_table: the usual page-per-parent statement, and names refused before any
SQL is written with them."""

from __future__ import annotations

import pytest
import strawberry

from gateway import BadUserInput, ChildPages, RowObjects
from gateway.db import SchemaError


@strawberry.type
class Note:
    id: int
    body: str
    book_id: strawberry.Private[int]


NOTE_ROWS = RowObjects(Note, "id, book_id, body")


def test_of_table_pages_each_parents_rows_by_a_window_over_parent_and_id() -> None:
    pages = ChildPages.of_table(NOTE_ROWS, table="notes", parent="book_id")

    forward = " ".join(pages.statement(NOTE_ROWS).split())
    backward = " ".join(pages.statement(NOTE_ROWS, backward=True).split())
    assert pages.parent == "book_id"
    assert "row_number() OVER (PARTITION BY book_id ORDER BY id ASC)" in forward
    assert "WHERE book_id = ANY($1::int[]) AND ($2::int IS NULL OR id > $2)" in forward
    assert forward.endswith("WHERE position <= $3 ORDER BY book_id, id ASC")
    assert forward.startswith("SELECT id, book_id, body FROM ( SELECT id, book_id, body,")
    assert "FROM {{tables.notes}}" in forward
    # Backward: the last $3 before the cursor, newest first (make_connection turns them).
    assert "row_number() OVER (PARTITION BY book_id ORDER BY id DESC)" in backward
    assert "($2::int IS NULL OR id < $2)" in backward
    assert backward.endswith("ORDER BY book_id, id DESC")


def test_a_child_list_of_its_own_sql_without_a_backward_one_pages_forward_only() -> None:
    pages = ChildPages(NOTE_ROWS, parent="book_id", sql=lambda columns: f"SELECT {columns}")

    assert pages.statement(NOTE_ROWS) == "SELECT id, book_id, body"
    with pytest.raises(BadUserInput, match="forward only"):
        pages.statement(NOTE_ROWS, backward=True)


@pytest.mark.parametrize(
    ("table", "parent"), [("notes; DROP TABLE x", "book_id"), ("notes", "book_id) OR (1=1")]
)
def test_of_table_refuses_a_name_that_is_not_an_identifier(table: str, parent: str) -> None:
    with pytest.raises(SchemaError):
        ChildPages.of_table(NOTE_ROWS, table=table, parent=parent)
