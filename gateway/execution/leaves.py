"""Shortcuts for coercing the common leaf values, each giving coerce_output_value's answer.

A nested page has thousands of ids, names and statuses; calling each scalar's
coerce_output_value costs more than completing the rest of the object. `shortcut(type)`
answers for the values whose coercion is known in advance (a str for String, an int in range
for Int, a member of a Strawberry enum) and returns MISS for the rest, which then go through
coerce_output_value as in graphql-core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from functools import cache
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLString,
)

__all__ = ["MISS", "column_shortcut", "shortcut"]

MISS: Any = object()

_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1


def _string(value: Any) -> Any:
    return value if type(value) is str else MISS


def _int(value: Any) -> Any:
    return value if type(value) is int and _MIN_INT <= value <= _MAX_INT else MISS


def _float(value: Any) -> Any:
    return value if type(value) is float and math.isfinite(value) else MISS


def _boolean(value: Any) -> Any:
    return value if type(value) is bool else MISS


def _none(_: Any) -> Any:
    return MISS


_BUILT_IN: dict[Any, Callable[[Any], Any]] = {
    GraphQLString: _string,
    GraphQLID: _string,  # ID keeps a str as it is (an int becomes a str: coerce it)
    GraphQLInt: _int,
    GraphQLFloat: _float,
    GraphQLBoolean: _boolean,
}


@cache
def shortcut(leaf_type: Any) -> Callable[[Any], Any]:
    """The shortcut for `leaf_type` (a schema lives as long as the process: cache forever)."""
    built_in = _BUILT_IN.get(leaf_type)
    if built_in is not None:
        return built_in
    wrapped = getattr(leaf_type, "wrapped_cls", None)
    if (
        isinstance(leaf_type, GraphQLEnumType)
        and isinstance(wrapped, type)
        and issubclass(wrapped, Enum)
    ):
        return _enum_shortcut(leaf_type, wrapped)
    return _none


def _enum_shortcut(enum_type: GraphQLEnumType, wrapped: type[Enum]) -> Callable[[Any], Any]:
    # Strawberry's enum type names a member by scanning its values for the first equal one;
    # the same scan, done once per member.
    names: dict[Any, str] = {}
    for member in wrapped:
        for name, value in enum_type.values.items():
            if member.value == value.value:
                names[member] = name
                break

    def member_name(value: Any) -> Any:
        return names.get(value, MISS) if type(value) is wrapped else MISS

    return member_name


_NONE_TYPE = type(None)


@cache
def column_shortcut(leaf_type: Any) -> Callable[[list[Any]], list[Any] | None]:
    """For a whole column: its coerced values when every one takes the shortcut (None stays
    None), else None and the caller coerces value by value. One pass in C beats a Python
    loop over thousands of values."""
    if leaf_type is GraphQLString or leaf_type is GraphQLID:
        return _of_types(frozenset((str, _NONE_TYPE)))
    if leaf_type is GraphQLBoolean:
        return _of_types(frozenset((bool, _NONE_TYPE)))
    if leaf_type is GraphQLInt:
        return _ints
    single = shortcut(leaf_type)
    if single is _none:
        return _no_column_shortcut
    return lambda values: _mapped(single, values)


def _of_types(allowed: frozenset[type]) -> Callable[[list[Any]], list[Any] | None]:
    def unchanged(values: list[Any]) -> list[Any] | None:
        return list(values) if allowed.issuperset(map(type, values)) else None

    return unchanged


def _ints(values: list[Any]) -> list[Any] | None:
    types = set(map(type, values))
    if types == {int}:
        numbers = values
    elif types == {int, _NONE_TYPE}:
        numbers = [value for value in values if value is not None]
    else:
        return None
    return list(values) if min(numbers) >= _MIN_INT and max(numbers) <= _MAX_INT else None


def _mapped(single: Callable[[Any], Any], values: list[Any]) -> list[Any] | None:
    if None in values:
        return None
    coerced = list(map(single, values))
    return None if MISS in coerced else coerced


def _no_column_shortcut(_: list[Any]) -> list[Any] | None:
    return None
