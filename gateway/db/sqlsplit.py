"""Split a SQL script into statements, respecting quotes, dollar quotes and comments.

Migrations run statement by statement so that a failure names the statement that failed.
"""

from __future__ import annotations

import re

__all__ = ["split_statements"]

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def split_statements(script: str) -> list[str]:
    """The script's statements, stripped, without empty ones or the trailing `;`.

    Usage: `split_statements("CREATE TABLE a (x int); -- note\\nSELECT ';'")`
    gives `['CREATE TABLE a (x int)', "-- note\\nSELECT ';'"]`.
    """
    statements: list[str] = []
    start = 0
    i = 0
    n = len(script)
    while i < n:
        char = script[i]
        if char == "-" and script.startswith("--", i):
            newline = script.find("\n", i)
            i = n if newline == -1 else newline + 1
        elif char == "/" and script.startswith("/*", i):
            i = _skip_block_comment(script, i)
        elif char in ("'", '"'):
            i = _skip_quoted(script, i, char)
        elif char == "$" and (tag := _DOLLAR_TAG.match(script, i)):
            end = script.find(tag.group(0), tag.end())
            i = n if end == -1 else end + len(tag.group(0))
        elif char == ";":
            statements.append(script[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(script[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _skip_quoted(script: str, i: int, quote: str) -> int:
    i += 1
    while i < len(script):
        if script[i] == quote:
            if script.startswith(quote * 2, i):  # '' or "" escapes the quote
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _skip_block_comment(script: str, i: int) -> int:
    depth = 0
    while i < len(script):
        if script.startswith("/*", i):
            depth += 1
            i += 2
        elif script.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return i


def _has_code(statement: str) -> bool:
    without_line_comments = re.sub(r"--[^\n]*", "", statement)
    without_comments = re.sub(r"/\*.*?\*/", "", without_line_comments, flags=re.DOTALL)
    return bool(without_comments.strip())
