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
    # Keyed by id: members are singletons, and Enum's __hash__ is Python code.
    names: dict[int, str] = {}
    for member in wrapped:
        for name, value in enum_type.values.items():
            if member.value == value.value:
                names[id(member)] = name
                break

    def member_name(value: Any) -> Any:
        return names.get(id(value), MISS) if type(value) is wrapped else MISS

    return member_name


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
    try:
        coerced = list(map(_coercer(leaf_type), values))
    except Exception:
        return None  # let the caller find which value fails, and say so at its path
    coerced_types = set(map(type, coerced))
    if _NONE_TYPE in coerced_types or _UNDEFINED_TYPE in coerced_types or MISS in coerced:
        return None
    return coerced


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
