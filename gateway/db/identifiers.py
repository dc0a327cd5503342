"""Identifier validation: every schema, table and tenant name passes here before SQL sees it."""

from __future__ import annotations

import re

from gateway.db.errors import SchemaError

__all__ = ["MAX_IDENTIFIER_BYTES", "quote_identifier", "validate_identifier", "validate_tenant_id"]

# PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes; refuse instead of
# letting two long names silently collide.
MAX_IDENTIFIER_BYTES = 63

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TENANT_ID = re.compile(r"[A-Za-z0-9_]+")


def validate_identifier(name: str, *, kind: str = "identifier") -> str:
    """Return `name` if it is a plain SQL identifier, else raise SchemaError saying why.

    Usage: `validate_identifier("orders", kind="schema")`.
    """
    if not isinstance(name, str) or not name:
        raise SchemaError(f"The {kind} name must be a non-empty string, got {name!r}.", name)
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise SchemaError(
            f"The {kind} name {name[:20]!r}... is {len(name.encode())} bytes; PostgreSQL "
            f"allows at most {MAX_IDENTIFIER_BYTES}.",
            name,
        )
    if not _IDENTIFIER.fullmatch(name):
        raise SchemaError(
            f"The {kind} name {name!r} is not allowed: use letters, digits and underscores, "
            "starting with a letter or underscore (no quotes, spaces, dots or semicolons).",
            name,
        )
    return name


def validate_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` if it can become part of a schema name, else raise SchemaError."""
    if not isinstance(tenant_id, str) or not _TENANT_ID.fullmatch(tenant_id):
        raise SchemaError(
            f"The tenant id {tenant_id!r} is not allowed: use letters, digits and underscores.",
            None,
        )
    return tenant_id


def quote_identifier(name: str, *, kind: str = "identifier") -> str:
    """Validate `name` and return it double-quoted, ready to splice into SQL."""
    return f'"{validate_identifier(name, kind=kind)}"'
