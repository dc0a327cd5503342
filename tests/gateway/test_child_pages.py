"""ChildPages.of_table: the usual page-per-parent statement, and names refused before any
SQL is written with them."""

from __future__ import annotations

import pytest
import strawberry

from gateway import ChildPages, RowObjects
from gateway.db import SchemaError


@strawberry.type
class Note:
    id: int
    body: str
    book_id: strawberry.Private[int]


NOTE_ROWS = RowObjects(Note, "id, book_id, body")


def test_of_table_pages_each_parents_rows_by_a_window_over_parent_and_id() -> None:
    pages = ChildPages.of_table(NOTE_ROWS, table="notes", parent="book_id")

    sql = " ".join(pages.statement(NOTE_ROWS).split())
    assert pages.parent == "book_id"
    assert "row_number() OVER (PARTITION BY book_id ORDER BY id)" in sql
    assert (
        "FROM {{tables.notes}} WHERE book_id = ANY($1::int[]) AND ($2::int IS NULL OR id > $2)"
        in sql
    )
    assert sql.endswith("WHERE position <= $3 ORDER BY book_id, id")
    assert sql.startswith("SELECT id, book_id, body FROM ( SELECT id, book_id, body,")


@pytest.mark.parametrize(
    ("table", "parent"), [("notes; DROP TABLE x", "book_id"), ("notes", "book_id) OR (1=1")]
)
def test_of_table_refuses_a_name_that_is_not_an_identifier(table: str, parent: str) -> None:
    with pytest.raises(SchemaError):
        ChildPages.of_table(NOTE_ROWS, table=table, parent=parent)
