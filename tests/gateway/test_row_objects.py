"""RowObjects: Strawberry objects built from real asyncpg rows equal those built by
`__init__`, and every type or column list it cannot build is refused when it is made."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from decimal import Decimal

import asyncpg
import pytest
import strawberry

from gateway.graphql.row_objects import RowObjects


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Item:
    id: int
    colour: Colour | None
    price: Decimal
    added_at: datetime
    owner_id: strawberry.Private[int]


ITEM_ROWS = RowObjects(Item, "id, owner_id, colour, price, added_at", convert={"colour": Colour})

ROWS_SQL = f"""
SELECT {ITEM_ROWS.columns} FROM (VALUES
    (1, 10, 'red', 1.50::numeric, '2026-01-02T03:04:05Z'::timestamptz),
    (2, 10, NULL, 0::numeric, '1999-12-31T23:59:59.999999Z'::timestamptz),
    (3, 11, 'green', 12345.67::numeric, 'infinity'::timestamptz)
) AS item (id, owner_id, colour, price, added_at)
"""


def by_init(row: asyncpg.Record) -> Item:
    colour = None if row["colour"] is None else Colour(row["colour"])
    return Item(
        id=row["id"],
        owner_id=row["owner_id"],
        colour=colour,
        price=row["price"],
        added_at=row["added_at"],
    )


async def test_objects_from_rows_equal_those_built_by_init(
    raw_connection: asyncpg.Connection,
) -> None:
    rows = await raw_connection.fetch(ROWS_SQL)
    built = ITEM_ROWS.build_all(rows)
    assert built == [by_init(row) for row in rows]
    assert [type(item) for item in built] == [Item] * 3
    assert built[0].colour is Colour.RED
    assert built[1].colour is None
    assert vars(built[2]) == vars(by_init(rows[2]))  # no attribute more, none less


async def test_by_name_reads_the_columns_from_a_wider_row(
    raw_connection: asyncpg.Connection,
) -> None:
    row = await raw_connection.fetchrow(
        "SELECT 'extra' AS note, 'green' AS colour, 7 AS id, 2.5::numeric AS price, "
        "now() AS added_at, 3 AS owner_id"
    )
    item = ITEM_ROWS.build_by_name(row)
    assert item == by_init(row)
    with pytest.raises(ValueError, match="too many values to unpack"):
        ITEM_ROWS.build(row)  # six columns where five are expected: refused, not misread


async def test_a_value_outside_the_enum_fails_as_the_enum_would(
    raw_connection: asyncpg.Connection,
) -> None:
    rows = await raw_connection.fetch("SELECT 1, 1, 'blue', 1::numeric, now()")
    with pytest.raises(ValueError, match="'blue' is not a valid Colour"):
        ITEM_ROWS.build_all(rows)


PRICED_ROWS = RowObjects(
    Item,
    "id, owner_id, colour, price, added_at",
    convert={"colour": Colour},
    as_text={"price": Decimal},
)


@pytest.mark.parametrize(
    "price",
    [
        "0",
        "1.50",
        "12345.670",
        "-0.001",
        "1e-20",
        "123456789012345678901234567890.5",
        "NaN",
        "Infinity",
        "-Infinity",
        None,
    ],
)
async def test_a_column_read_as_text_equals_asyncpgs_own_decoding(
    raw_connection: asyncpg.Connection, price: str | None
) -> None:
    sql = (
        f"SELECT {PRICED_ROWS.columns} FROM (SELECT 1 AS id, 2 AS owner_id, "
        "'red' AS colour, $1::numeric AS price, now() AS added_at) AS item"
    )
    assert "price::text AS price" in PRICED_ROWS.columns
    [row] = await raw_connection.fetch(sql, price)
    [binary] = await raw_connection.fetch(sql.replace("price::text AS price", "price"), price)
    parsed, decoded = PRICED_ROWS.build(row).price, binary["price"]
    assert type(parsed) is type(decoded)
    assert str(parsed) == str(decoded)  # the same digits and scale, NaN included


def test_a_column_cannot_be_both_converted_and_read_as_text() -> None:
    with pytest.raises(ValueError, match="both convert and as_text"):
        RowObjects(
            Item,
            "id, owner_id, colour, price, added_at",
            convert={"price": Decimal},
            as_text={"price": Decimal},
        )


def test_convert_also_takes_a_callable() -> None:
    rows = RowObjects(
        Item,
        "id, owner_id, colour, price, added_at",
        convert={"price": Decimal, "colour": lambda value: Colour(value.lower())},
    )
    item = rows.build((1, 2, "RED", "9.90", datetime(2026, 1, 1)))
    assert item.price == Decimal("9.90")
    assert item.colour is Colour.RED


@dataclasses.dataclass
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclasses.dataclass(frozen=True)
class Frozen:
    value: int


class NotADataclass:
    value: int


@pytest.mark.parametrize(
    ("kind", "columns", "convert", "error", "message"),
    [
        (NotADataclass, "value", None, TypeError, "builds dataclasses"),
        (Checked, "value", None, TypeError, "__post_init__"),
        (Frozen, "value", None, TypeError, "frozen"),
        (Item, "id, owner_id, colour, price", None, ValueError, "missing: added_at"),
        (
            Item,
            "id, owner_id, colour, price, added_at, extra",
            None,
            ValueError,
            "not fields: extra",
        ),
        (Item, "id, id, owner_id, colour, price, added_at", None, ValueError, "named twice"),
        (
            Item,
            "id, owner_id, colour, price, added_at; DROP TABLE x",
            None,
            ValueError,
            "not a column",
        ),
        (Item, "id, owner_id, Colour, price, added_at", None, ValueError, "not a column"),
        (
            Item,
            "id, owner_id, colour, price, added_at",
            {"other": Colour},
            ValueError,
            "not selected",
        ),
        (Item, "id, owner_id, colour, price, added_at", {"colour": "red"}, TypeError, "neither"),
    ],
)
def test_what_cannot_be_built_is_refused_when_made(
    kind: type, columns: str, convert: dict[str, object] | None, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        RowObjects(kind, columns, convert=convert)  # type: ignore[arg-type]


def test_columns_are_the_sql_select_list() -> None:
    assert ITEM_ROWS.columns == "id, owner_id, colour, price, added_at"
