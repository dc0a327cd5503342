"""Whether a JSON text nests deeper than a bound, found without parsing it.

`json.loads` recurses once per array or object: a body of a thousand `[` raises
RecursionError (a 500 and a traceback), and a few hundred are parsed only to make every later
step walk them. The guard measures the nesting first, at C speed and in linear time, and
refuses anything deeper than `MAX_JSON_DEPTH` before any parser sees it:

    if nests_deeper_than(body, MAX_JSON_DEPTH): refuse (JSON_TOO_DEEP)

Strings are cut out first, so brackets inside them do not count; an unterminated string runs
to the end of the text, as far as the parser would read before failing.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JsonTooDeepError", "loads_within_depth", "nests_deeper_than"]

# The deepest nesting a request's JSON may have: the body's object, `variables`, and an input
# nested 62 levels inside them. No GraphQL input of this schema comes close.
MAX_JSON_DEPTH = 64

# A JSON string, or an unterminated one up to the end: each byte is matched at most once, so
# even a body made of quotes and backslashes is measured in linear time.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)', re.DOTALL)
_NOT_A_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")  # objects nest as arrays do
_STEP = {ord("["): 1, ord("]"): -1}


class JsonTooDeepError(json.JSONDecodeError):
    """Raised by `loads_within_depth` for JSON nested deeper than allowed (a JSONDecodeError,
    so that callers that refuse malformed JSON refuse this too)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested more than {max_depth} levels deep", "", 0)
        self.max_depth = max_depth


def nests_deeper_than(text: bytes | str, max_depth: int) -> bool:
    """Whether arrays and objects in `text` nest more than `max_depth` levels deep (`[]` is
    one level, `{"a": [1]}` two). For text that is not JSON: whether a parser could get that
    deep before it fails.

    Usage: `nests_deeper_than(b'{"variables": {"ids": [1, 2]}}', 2)` is True.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False  # the common case: too few brackets to nest that deep
    brackets = _STRING.sub(b"", data).translate(_AS_SQUARE, _NOT_A_BRACKET)
    # Every deepest point is an innermost "[]": removing them all (one fast pass) takes one
    # level off, and leaves little of a flat list of lists.
    inner = brackets.replace(b"[]", b"")
    removed = 1 if len(inner) < len(brackets) else 0
    # The running depth after each bracket left, in C: a 100 KB body of nothing but nested
    # brackets takes a few milliseconds, about as long as json.loads takes to parse it.
    return max(accumulate(map(_STEP.__getitem__, inner)), default=0) + removed > max_depth


def loads_within_depth(text: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads(text)`, refused with JsonTooDeepError when it nests past `max_depth`."""
    if nests_deeper_than(text, max_depth):
        raise JsonTooDeepError(max_depth)
    return json.loads(text)
