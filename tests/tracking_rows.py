"""The database's migration records, read outside the app: every schema's tracking table."""

from __future__ import annotations

import asyncpg

TRACKING_TABLE = "schema_migrations"


async def tracking_tables(conn: asyncpg.Connection) -> list[str]:
    """Every schema holding a tracking table, sorted."""
    rows = await conn.fetch(
        "SELECT table_schema FROM information_schema.tables "
        "WHERE table_name = $1 ORDER BY table_schema",
        TRACKING_TABLE,
    )
    return [row["table_schema"] for row in rows]


async def tracking_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every tracking row (schema, module_name, filename, applied_at, id), in application
    order."""
    rows: list[asyncpg.Record] = []
    for schema in await tracking_tables(conn):
        rows += await conn.fetch(
            f"SELECT $1::text AS schema, module_name, filename, applied_at, id "
            f'FROM "{schema}".{TRACKING_TABLE}',
            schema,
        )
    rows.sort(key=lambda row: (row["applied_at"], row["id"]))
    return rows


async def tracked(conn: asyncpg.Connection, module: str | None = None) -> list[tuple[str, str]]:
    """(module_name, filename) of every tracking row (of `module` only, if given), in
    application order."""
    return [
        (row["module_name"], row["filename"])
        for row in await tracking_rows(conn)
        if module is None or row["module_name"] == module
    ]


async def tables_in(conn: asyncpg.Connection, schema: str) -> set[str]:
    """The schema's tables, its tracking table aside."""
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
        "AND table_name <> $2",
        schema,
        TRACKING_TABLE,
    )
    return {row["table_name"] for row in rows}
