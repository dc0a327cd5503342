"""The migrations tracking table, where pgdbm keeps it and as pgdbm lays it out.

A manager with a schema records its files in `<schema>.schema_migrations`, one without in
`schema_migrations` on the search path; columns, unique key and index are pgdbm 0.5.0's, so
the gateway and pgdbm each see what the other applied. Gateways before this one kept every
module's rows in one `public.schema_migrations` with a `schema_name` column: those rows are
still read, and moved to the schema's own table the first time a run holds the lock (a table
that is both, a manager of `public`, gains pgdbm's missing column instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from gateway.db.errors import MigrationError, SchemaError
from gateway.db.identifiers import validate_identifier
from gateway.db.migration_files import Migration
from gateway.db.schemas import create_schema_if_missing

__all__ = ["LEGACY_SCHEMA", "TrackingTable", "validated_table_name"]

LEGACY_SCHEMA = "public"

_STATE = """
SELECT to_regclass($1)::oid AS ours,
       to_regclass($2)::oid AS legacy,
       ARRAY(SELECT attname::text FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped) AS columns,
       EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2)
               AND attname = 'schema_name' AND NOT attisdropped) AS legacy_layout
"""


@dataclass(frozen=True)
class _State:
    exists: bool
    columns: frozenset[str]
    # Rows of earlier gateways for this manager live in another table, still to be moved.
    legacy_apart: bool
    # This very table has the earlier gateways' layout (a manager of `public`).
    legacy_here: bool


class TrackingTable:
    """One module's rows in its schema's tracking table.

    Usage: `TrackingTable("orders", "schema_migrations", "orders")`; every method takes the
    connection the migration run holds its lock on.
    """

    def __init__(self, schema: str | None, name: str, module_name: str) -> None:
        self.schema = schema
        self.name = name
        self.module_name = module_name
        self.qualified = f'"{schema}".{name}' if schema else name
        self._legacy = f'"{LEGACY_SCHEMA}".{name}'

    async def ensure(self, conn: asyncpg.Connection) -> None:
        """Create the table (and its schema) if missing, refuse a table that is not one,
        and move this manager's rows of earlier gateways into it (in the run's locked
        transaction)."""
        if self.schema:
            await _create_schema(conn, self.schema)
        state = await self._state(conn)
        if state.exists:
            self._check_is_tracking_table(state)
        await conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {self.qualified} (
                id SERIAL PRIMARY KEY,
                filename VARCHAR(255) NOT NULL,
                checksum VARCHAR(64) NOT NULL,
                module_name VARCHAR(100),
                applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                applied_by VARCHAR(100) DEFAULT CURRENT_USER,
                execution_time_ms INTEGER,
                UNIQUE(filename, module_name)
            )
            """
        )
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS idx_{self.name}_module "
            f"ON {self.qualified}(module_name, filename)"
        )
        if state.legacy_here and "applied_by" not in state.columns:
            # pgdbm reads applied_by in its history: the earlier layout lacks only that.
            await conn.execute(
                f"ALTER TABLE {self.qualified} "
                "ADD COLUMN IF NOT EXISTS applied_by VARCHAR(100) DEFAULT CURRENT_USER"
            )
        if state.legacy_apart:
            await self._move_legacy_rows(conn)

    async def applied(self, conn: asyncpg.Connection) -> dict[str, Migration]:
        """This module's applied files by name: its rows (and pgdbm's rows without a module,
        as pgdbm reads them), and rows of earlier gateways not moved yet."""
        state = await self._state(conn)
        rows: list[asyncpg.Record] = []
        if state.legacy_apart:
            rows += await conn.fetch(
                f"SELECT filename, checksum, applied_at, module_name, execution_time_ms "
                f"FROM {self._legacy} WHERE module_name = $1 "
                "AND schema_name IS NOT DISTINCT FROM $2",
                self.module_name,
                self.schema,
            )
        if state.exists:
            self._check_is_tracking_table(state)
            rows += await conn.fetch(
                f"SELECT filename, checksum, applied_at, module_name, execution_time_ms "
                f"FROM {self.qualified} WHERE module_name = $1 OR module_name IS NULL "
                "ORDER BY filename",
                self.module_name,
            )
        return {
            row["filename"]: Migration(
                filename=row["filename"],
                checksum=row["checksum"],
                content="",
                applied_at=row["applied_at"],
                module_name=row["module_name"],
                execution_time_ms=row["execution_time_ms"],
            )
            for row in rows
        }

    async def record(self, conn: asyncpg.Connection, migration: Migration, elapsed_ms: int) -> None:
        await conn.execute(
            f"INSERT INTO {self.qualified} (filename, checksum, module_name, execution_time_ms) "
            "VALUES ($1, $2, $3, $4)",
            migration.filename,
            migration.checksum,
            self.module_name,
            elapsed_ms,
        )

    async def rewrite_checksum(
        self, conn: asyncpg.Connection, filename: str, checksum: str
    ) -> None:
        """Record pgdbm's checksum for a file an earlier gateway recorded by its raw text's,
        so that pgdbm, reading this table, accepts the file as unchanged."""
        await conn.execute(
            f"UPDATE {self.qualified} SET checksum = $3 WHERE filename = $1 AND module_name = $2",
            filename,
            self.module_name,
            checksum,
        )

    async def history(self, conn: asyncpg.Connection, limit: int) -> list[dict[str, object]]:
        """pgdbm's history rows, newest first."""
        if not (await self._state(conn)).exists:
            return []
        rows = await conn.fetch(
            f"SELECT filename, module_name, applied_at, applied_by, execution_time_ms "
            f"FROM {self.qualified} WHERE module_name = $1 OR module_name IS NULL "
            "ORDER BY applied_at DESC, id DESC LIMIT $2",
            self.module_name,
            limit,
        )
        return [dict(row) for row in rows]

    async def forget(self, conn: asyncpg.Connection, filename: str) -> bool:
        """Delete the file's row; False when there was none."""
        state = await self._state(conn)
        deleted = False
        if state.legacy_apart:
            status = await conn.execute(
                f"DELETE FROM {self._legacy} WHERE module_name = $1 AND filename = $2 "
                "AND schema_name IS NOT DISTINCT FROM $3",
                self.module_name,
                filename,
                self.schema,
            )
            deleted = status != "DELETE 0"
        if state.exists:
            status = await conn.execute(
                f"DELETE FROM {self.qualified} WHERE filename = $1 AND module_name = $2",
                filename,
                self.module_name,
            )
            deleted = deleted or status != "DELETE 0"
        return deleted

    async def _state(self, conn: asyncpg.Connection) -> _State:
        row = await conn.fetchrow(_STATE, self.qualified, self._legacy)
        assert row is not None
        exists = row["ours"] is not None
        same = exists and row["ours"] == row["legacy"]
        legacy = row["legacy"] is not None and row["legacy_layout"]
        return _State(
            exists=exists,
            columns=frozenset(row["columns"]),
            legacy_apart=legacy and not same,
            legacy_here=legacy and same,
        )

    def _check_is_tracking_table(self, state: _State) -> None:
        if {"filename", "checksum", "module_name"} <= state.columns:
            return
        raise MigrationError(
            f"The migrations table {self.qualified} exists but is not a migrations tracking "
            "table (it has no filename and checksum columns). AsyncMigrationManager's third "
            "positional argument is migrations_table, as in pgdbm: pass the module's name "
            'by keyword, AsyncMigrationManager(db, path, module_name="..."). Nothing was '
            "applied."
        )

    async def _move_legacy_rows(self, conn: asyncpg.Connection) -> None:
        # One transaction, under the run's lock: a row is in one table or the other, never
        # both and never neither, so a later rollback_migration() is not undone by a copy.
        async with conn.transaction():
            await conn.execute(
                f"INSERT INTO {self.qualified} "
                "(filename, checksum, module_name, applied_at, execution_time_ms) "
                "SELECT filename, checksum, module_name, applied_at, "
                f"round(execution_time_ms)::integer FROM {self._legacy} "
                "WHERE module_name = $1 AND schema_name IS NOT DISTINCT FROM $2 "
                "ON CONFLICT (filename, module_name) DO NOTHING",
                self.module_name,
                self.schema,
            )
            await conn.execute(
                f"DELETE FROM {self._legacy} WHERE module_name = $1 "
                "AND schema_name IS NOT DISTINCT FROM $2",
                self.module_name,
                self.schema,
            )
            if not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {self._legacy})"):
                await conn.execute(f"DROP TABLE {self._legacy}")


async def _create_schema(conn: asyncpg.Connection, schema: str) -> None:
    # In a savepoint: another session (a tenant's first request, which takes no migration
    # lock) creating the schema at the same moment must not abort the run's transaction.
    try:
        async with conn.transaction():
            await create_schema_if_missing(conn, schema)
    except (asyncpg.UniqueViolationError, asyncpg.DuplicateSchemaError):
        pass  # it exists now, which is all we want


def validated_table_name(name: str) -> str:
    """`name` if it can name a tracking table; MigrationError (pgdbm's class) if not."""
    try:
        return validate_identifier(name, kind="migrations table")
    except SchemaError as error:
        raise MigrationError(str(error)) from error
