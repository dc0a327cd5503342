"""The answer's result dicts, built from a level's columns: one dict per source object.

`dict(zip(keys, values))` per object was the executor's largest single cost on big pages:
a generated function with a dict display, `lambda v0, v1: {"id": v0, "name": v1}`, mapped
over the columns builds the same dicts in well under half the time (CPython's
`namedtuple` and `dataclasses` generate code the same way, for the same reason).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["ResultDictBuilder", "result_dict_builder"]

ResultDictBuilder = Callable[..., dict[str, Any]]

# GraphQL's Name: the only text that goes into generated code, and checked before it does.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


@lru_cache(maxsize=4096)
def result_dict_builder(keys: tuple[str, ...]) -> ResultDictBuilder:
    """A function of one value per key that returns `{key: value, ...}` in `keys`' order.

    `keys` are response names (GraphQL Names, no duplicates).
    """
    if len(set(keys)) != len(keys) or not all(_NAME.fullmatch(key) for key in keys):
        raise ValueError(f"not distinct GraphQL names: {keys!r}")
    parameters = [f"v{index}" for index in range(len(keys))]
    entries = ", ".join(f"{key!r}: {name}" for key, name in zip(keys, parameters, strict=True))
    builder: ResultDictBuilder = eval(f"lambda {', '.join(parameters)}: {{{entries}}}")
    return builder
