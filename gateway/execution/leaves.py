"""Shortcuts for coercing the common leaf values, each giving coerce_output_value's answer.

A nested page has thousands of ids, names and statuses; calling each scalar's
coerce_output_value costs more than completing the rest of the object. `shortcut(type)`
answers for the values whose coercion is known in advance (a str for String, an int in range
for Int, a member of a Strawberry enum) and returns MISS for the rest, which then go through
coerce_output_value as in graphql-core. `complete_column` coerces a whole column at once
where every check can run in C: enum members named by one dict lookup each, dates and
datetimes written by orjson.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import Enum
from functools import cache
from operator import attrgetter, methodcaller
from typing import Any

import orjson
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLString,
)
from graphql.pyutils import Undefined

__all__ = ["MISS", "complete_column", "shortcut"]

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
    enum = _strawberry_enum(leaf_type)
    if enum is not None:
        return _enum_shortcut(*enum)
    return _none


def _enum_shortcut(wrapped: type[Enum], names: dict[int, str]) -> Callable[[Any], Any]:
    def member_name(value: Any) -> Any:
        return names.get(id(value), MISS) if type(value) is wrapped else MISS

    return member_name


@cache
def _strawberry_enum(leaf_type: Any) -> tuple[type[Enum], dict[int, str]] | None:
    """For a Strawberry enum type: its Python Enum and the GraphQL name of each member, by
    the member's id; None for any other leaf type.

    Strawberry's enum type names a member by scanning its values for the first equal one;
    the same scan, done once per member. Keyed by id: members are singletons, and Enum's
    __hash__ is Python code.
    """
    wrapped = getattr(leaf_type, "wrapped_cls", None)
    if not (
        isinstance(leaf_type, GraphQLEnumType)
        and isinstance(wrapped, type)
        and issubclass(wrapped, Enum)
    ):
        return None
    names: dict[int, str] = {}
    for member in wrapped:
        for name, value in leaf_type.values.items():
            if member.value == value.value:
                names[id(member)] = name
                break
    return wrapped, names


_NONE_TYPE = type(None)
_UNDEFINED_TYPE = type(Undefined)


def complete_column(leaf_type: Any, values: list[Any], types: set[type]) -> list[Any] | None:
    """All of `values` coerced as `leaf_type` (None stays None) when none needs a second
    look, else None and the caller goes value by value. Every check here runs in C, over
    the column's set of types (`types`, the caller's): one pass instead of a Python loop
    over thousands of values.
    """
    if any(issubclass(kind, Exception) for kind in types) or _UNDEFINED_TYPE in types:
        return None  # errors and undefined values: the caller reports them one by one
    allowed = _UNCHANGED.get(leaf_type)
    if allowed is not None:
        if not types <= allowed:
            return None
        if leaf_type is GraphQLInt and not _in_int_range(values, types):
            return None
        return list(values)
    if _NONE_TYPE in types:
        return None
    return _column_coercer(leaf_type)(values, types)


ColumnCoercer = Callable[[list[Any], set[type]], list[Any] | None]


@cache
def _column_coercer(leaf_type: Any) -> ColumnCoercer:
    """How to coerce a whole column of `leaf_type` without None, errors or Undefined."""
    enum = _strawberry_enum(leaf_type)
    if enum is not None:
        return _enum_column(*enum)
    if repr(getattr(leaf_type, "coerce_output_value", None)) == _ISOFORMAT:
        return _isoformat_column
    coerce = _coercer(leaf_type)

    def coerced_column(values: list[Any], types: set[type]) -> list[Any] | None:
        try:
            coerced = list(map(coerce, values))
        except Exception:
            return None  # let the caller find which value fails, and say so at its path
        coerced_types = set(map(type, coerced))
        if _NONE_TYPE in coerced_types or _UNDEFINED_TYPE in coerced_types or MISS in coerced:
            return None
        return coerced

    return coerced_column


def _enum_column(wrapped: type[Enum], names: dict[int, str]) -> ColumnCoercer:
    def member_names(values: list[Any], types: set[type]) -> list[Any] | None:
        if types != {wrapped}:
            return None  # plain values, or another enum's members: one by one
        try:
            return list(map(names.__getitem__, map(id, values)))
        except KeyError:
            return None  # a member without a GraphQL value: the caller says which

    return member_names


# Strawberry's Date and DateTime serialize with methodcaller("isoformat"), a Python call per
# value (over 1 µs for an aware datetime). orjson writes date and datetime values (naive or
# UTC, as asyncpg returns them) in exactly isoformat()'s text, all in C.
_ISOFORMAT = repr(methodcaller("isoformat"))
_UTC_OR_NAIVE = frozenset((None, UTC))


def _isoformat_column(values: list[Any], types: set[type]) -> list[Any] | None:
    if types == {datetime}:
        if not set(map(_tzinfo, values)) <= _UTC_OR_NAIVE:
            return None
    elif types != {date}:
        return None  # subclasses, mixed columns: isoformat() value by value
    try:
        strings: list[Any] = orjson.loads(orjson.dumps(values))
    except orjson.JSONEncodeError:
        return None
    return strings


_tzinfo = attrgetter("tzinfo")


_UNCHANGED: dict[Any, frozenset[type]] = {
    GraphQLString: frozenset((str, _NONE_TYPE)),
    GraphQLID: frozenset((str, _NONE_TYPE)),
    GraphQLBoolean: frozenset((bool, _NONE_TYPE)),
    GraphQLInt: frozenset((int, _NONE_TYPE)),
}


def _in_int_range(values: list[Any], types: set[type]) -> bool:
    numbers = values if _NONE_TYPE not in types else [v for v in values if v is not None]
    return not numbers or (min(numbers) >= _MIN_INT and max(numbers) <= _MAX_INT)


@cache
def _coercer(leaf_type: Any) -> Callable[[Any], Any]:
    """The shortcut where there is one (enum members), else coerce_output_value; its
    answer of None or Undefined is a failure the caller reports."""
    single = shortcut(leaf_type)
    if single is _none:
        coerce: Callable[[Any], Any] = leaf_type.coerce_output_value
        return coerce
    return single
