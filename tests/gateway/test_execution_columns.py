"""Whole-column shortcuts of the planned executor: when they apply, and that they give the
scalars' own answers (the differential tests in test_planned_execution.py check the rest)."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import strawberry

from gateway.execution.leaves import complete_column
from gateway.execution.result_dicts import result_dict_builder


@strawberry.enum
class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


@strawberry.type
class Query:
    size: Size
    at: datetime
    day: date


SCHEMA = strawberry.Schema(Query)
SIZE_TYPE = SCHEMA._schema.type_map["Size"]
DATETIME_TYPE = SCHEMA._schema.type_map["DateTime"]
DATE_TYPE = SCHEMA._schema.type_map["Date"]


def column(leaf_type: Any, values: list[Any]) -> list[Any] | None:
    return complete_column(leaf_type, values, set(map(type, values)))


def test_enum_members_are_named_as_the_schema_names_them() -> None:
    assert column(SIZE_TYPE, [Size.LARGE, Size.SMALL, Size.LARGE]) == ["LARGE", "SMALL", "LARGE"]


def test_an_enum_column_with_a_plain_value_goes_value_by_value() -> None:
    assert column(SIZE_TYPE, [Size.LARGE, "l"]) is None


@pytest.mark.parametrize(
    "values",
    [
        [datetime(2024, 3, 1, 9, 5, 7, 120, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)],
        [datetime(2024, 3, 1, 9, 5, 7), datetime(2024, 3, 1, 9, 5, 7, 999999)],
        [datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1)],
    ],
    ids=["utc", "naive", "both"],
)
def test_utc_and_naive_datetimes_are_written_as_isoformat_writes_them(
    values: list[datetime],
) -> None:
    assert column(DATETIME_TYPE, values) == [value.isoformat() for value in values]


def test_dates_are_written_as_isoformat_writes_them() -> None:
    values = [date(2024, 2, 29), date(1, 1, 1), date(999, 12, 31)]

    assert column(DATE_TYPE, values) == [value.isoformat() for value in values]


@pytest.mark.parametrize(
    "values",
    [
        [datetime(2024, 3, 1, tzinfo=timezone(timedelta(hours=1)))],
        [datetime(2024, 3, 1, tzinfo=UTC), date(2024, 3, 1)],
    ],
    ids=["other-offset", "mixed-types"],
)
def test_other_datetimes_go_value_by_value(values: list[Any]) -> None:
    assert column(DATETIME_TYPE, values) is None


def test_a_result_dict_builder_makes_dicts_in_key_order() -> None:
    build = result_dict_builder(("id", "name", "_typename2"))

    assert list(map(build, [1, 2], ["a", "b"], [None, True])) == [
        {"id": 1, "name": "a", "_typename2": None},
        {"id": 2, "name": "b", "_typename2": True},
    ]
    assert list(build(1, "a", None)) == ["id", "name", "_typename2"]


@pytest.mark.parametrize("keys", [("id", "id"), ("id", "a b"), ("x': 1, 'y",), ("1st",)], ids=str)
def test_a_result_dict_builder_refuses_what_is_not_distinct_graphql_names(
    keys: tuple[str, ...],
) -> None:
    with pytest.raises(ValueError, match="not distinct GraphQL names"):
        result_dict_builder(keys)
