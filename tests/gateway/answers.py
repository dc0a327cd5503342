"""Counting a GraphQL answer the way the cost limit counts it."""

from __future__ import annotations

from typing import Any

__all__ = ["count_values"]


def count_values(value: Any) -> int:
    """The values below `value` (an answer's `data`): each field of each object, whatever
    it holds (null included), and each item of each list."""
    if isinstance(value, dict):
        return sum(1 + count_values(child) for child in value.values())
    if isinstance(value, list):
        return sum(1 + count_values(item) for item in value)
    return 0
