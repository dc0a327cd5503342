"""Caller-given table names and SQL fragments (`where`, `order_by`) checked before they
reach SQL: pgdbm's testing helpers splice them into statements, and so must we.

Usage: `f"SELECT count(*) FROM {table_sql('users', 'app')} WHERE {where_clause('id > 3')}"`.
"""

from __future__ import annotations

import re

from gateway.db.identifiers import quote_identifier

__all__ = ["order_by_sql", "table_sql", "where_clause"]

# Statement separators and comments: nothing after them may reach SQL.
_FORBIDDEN_TOKENS = (";", "--", "/*", "*/", "\x00")
_COLUMN = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
_ORDER_TERM = re.compile(rf"(?P<column>{_COLUMN})(?:\s+(?P<direction>ASC|DESC))?", re.IGNORECASE)
# One comparison of pgdbm's where grammar: `col IS [NOT] NULL`, or `col <op> value` with a
# keyword, a number, a '...' literal ('' for a quote) or another column as the value.
_WHERE_TERM = re.compile(
    rf"{_COLUMN}(?:\s+IS(?:\s+NOT)?\s+NULL"
    rf"|\s*(?:<>|!=|<=|>=|=|<|>|I?LIKE)\s*"
    rf"(?:TRUE|FALSE|NULL|-?[0-9]+(?:\.[0-9]+)?|'(?:[^']|'')*'|{_COLUMN}))",
    re.IGNORECASE | re.ASCII,  # a Unicode space or digit is none to PostgreSQL's lexer
)
_WHERE_JOINER = re.compile(r"\s+(?:AND|OR)\s+", re.IGNORECASE | re.ASCII)
_SQL_SPACE = " \t\n\r\f\v"  # str.strip() alone would also strip Unicode spaces


def table_sql(table_name: str, default_schema: str | None) -> str:
    """`table` or `schema.table`, each part validated and quoted. An unqualified name goes
    into the manager's schema, so the helpers work on a shared pool's manager too, whose
    search_path resolves no user table."""
    parts = table_name.split(".") if isinstance(table_name, str) else [table_name]
    if len(parts) == 1:
        table = quote_identifier(parts[0], kind="table")
        if default_schema:
            return f"{quote_identifier(default_schema, kind='schema')}.{table}"
        return table
    if len(parts) == 2:
        schema = quote_identifier(parts[0], kind="schema")
        return f"{schema}.{quote_identifier(parts[1], kind='table')}"
    raise ValueError(f"Invalid table name {table_name!r}: use `table` or `schema.table`.")


def _checked_fragment(fragment: str, *, what: str) -> str:
    stripped = fragment.strip(_SQL_SPACE)
    if not stripped:
        raise ValueError(f"The {what} cannot be empty.")
    if any(token in stripped for token in _FORBIDDEN_TOKENS):
        raise ValueError(f"Unsafe {what}: no `;`, comments or NUL bytes.")
    return stripped


def order_by_sql(order_by: str) -> str:
    """`col [ASC|DESC], ...` rebuilt from validated, quoted column names (pgdbm's grammar)."""
    terms = []
    for term in _checked_fragment(order_by, what="order_by clause").split(","):
        # Rebuilt from its parts, so any whitespace may separate them, as in pgdbm.
        match = _ORDER_TERM.fullmatch(term.strip())
        if match is None:
            raise ValueError(
                f"Unsupported order_by term {term.strip()!r}: use `column [ASC|DESC]`."
            )
        direction = f" {match['direction'].upper()}" if match["direction"] else ""
        terms.append(f"{quote_identifier(match['column'], kind='column')}{direction}")
    return ", ".join(terms)


def where_clause(where: str) -> str:
    """`where` itself if every comparison fits pgdbm's grammar (joined by AND/OR), else
    ValueError. Stricter than pgdbm in one rule: no backslash, since whether it escapes a
    quote inside '...' depends on the server's standard_conforming_strings."""
    stripped = _checked_fragment(where, what="where clause")
    if "\\" in stripped:
        raise ValueError("Unsupported where clause: backslashes are not allowed.")
    for term in _WHERE_JOINER.split(stripped):
        if _WHERE_TERM.fullmatch(term.strip(_SQL_SPACE)) is None:
            raise ValueError(
                f"Unsupported where clause term {term.strip()!r}: use `column <op> value` or "
                "`column IS [NOT] NULL`, joined by AND/OR."
            )
    return stripped
