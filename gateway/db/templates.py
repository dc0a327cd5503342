"""`{{tables.name}}` and `{{schema}}` templates, rendered once per (query text, schema).

A service writes `SELECT * FROM {{tables.users}}`; its manager turns that into
`SELECT * FROM "users".users`. Rendering validates every name it splices, and the result is
cached, so the hot path costs one dictionary lookup, not a regex pass.
"""

from __future__ import annotations

import re
from functools import lru_cache

from gateway.db.identifiers import validate_identifier

__all__ = ["render_template"]

_TABLE = re.compile(r"\{\{\s*tables\.([^{}]*?)\s*\}\}")
_SCHEMA = re.compile(r"\{\{\s*schema\s*\}\}")


@lru_cache(maxsize=4096)
def render_template(query: str, schema: str | None) -> str:
    """Return `query` with its templates resolved for `schema` (None: unqualified names).

    Usage: `render_template("SELECT 1 FROM {{tables.users}}", "users")`
    gives `'SELECT 1 FROM "users".users'`.
    """
    if "{{" not in query:
        return query

    def table(match: re.Match[str]) -> str:
        parts = match.group(1).split(".")
        if len(parts) == 2:  # {{tables.other_schema.name}}: an explicit, validated schema
            explicit_schema, name = parts
            validate_identifier(explicit_schema, kind="schema")
            return f'"{explicit_schema}".{validate_identifier(name, kind="table")}'
        name = validate_identifier(parts[0] if len(parts) == 1 else match.group(1), kind="table")
        return f'"{schema}".{name}' if schema else name

    rendered = _TABLE.sub(table, query)
    if schema:
        return _SCHEMA.sub(f'"{schema}"', rendered)
    # pgdbm's rule without a schema: `{{schema}}.x` becomes `x`, a bare `{{schema}}` is public.
    rendered = re.sub(r"\{\{\s*schema\s*\}\}\.", "", rendered)
    return _SCHEMA.sub("public", rendered)
