"""AsyncMigrationManager: apply a module's migration files once, in order, atomically.

    migrations = AsyncMigrationManager(orders_db, "migrations/orders", module_name="orders")
    await migrations.apply_pending_migrations()

pgdbm's API and pgdbm's records: each schema's files are tracked in its own
`<schema>.schema_migrations` with pgdbm's layout (gateway.db.tracking), keyed by
(filename, module_name), so a database pgdbm migrated is adopted as it is and pgdbm sees
what the gateway applied. Each pending file runs in its own transaction, statement by
statement, so a failure rolls that file back whole and names the statement. Advisory locks
(gateway.db.migration_lock), taken in each transaction that reads or writes the tracking
table, serialise concurrent runs, across processes, with pgdbm's and through a transaction
pooler; a file is applied only if the tracking table, read again under the lock, does not
have it, so each file is applied exactly once.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from gateway.db.errors import MigrationError, SchemaError
from gateway.db.identifiers import validate_identifier
from gateway.db.migration_files import (
    Migration,
    checksum_of,
    discover_migrations,
    has_statements,
    is_transaction_control,
    raw_checksum_of,
)
from gateway.db.migration_lock import migration_transaction, session_migration_lock
from gateway.db.schemas import create_schema_if_missing
from gateway.db.sqlsplit import split_statements
from gateway.db.templates import render_template
from gateway.db.tracking import TrackingTable, validated_table_name

if TYPE_CHECKING:
    from gateway.db.manager import AsyncDatabaseManager

__all__ = ["AsyncMigrationManager", "Migration", "checksum_of", "create_schema_if_missing"]

logger = logging.getLogger("gateway.db.migrations")

# Hosts pgdbm takes for a transaction pooler (PgBouncer, Neon's "-pooler"): a session-level
# lock and a file run statement by statement outside a transaction are not safe there.
_POOLER_HINTS = ("-pooler", "pgbouncer", "transaction-pool")


class AsyncMigrationManager:
    """Applies one module's migration files through its schema's manager.

    Usage: `await AsyncMigrationManager(db, "migrations/users", module_name="users")
    .apply_pending_migrations()`. Arguments in pgdbm's order: `(db_manager,
    migrations_path, migrations_table, module_name)`.
    """

    def __init__(
        self,
        db_manager: AsyncDatabaseManager,
        migrations_path: str | Path = "./migrations",
        migrations_table: str = "schema_migrations",
        module_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "schema" in kwargs:
            raise TypeError(
                "AsyncMigrationManager takes no 'schema' argument: the schema is the "
                "manager's, AsyncDatabaseManager(pool=shared_pool, schema='myschema'), and "
                "its migrations follow it."
            )
        if kwargs:
            raise TypeError(
                f"AsyncMigrationManager got unexpected keyword arguments: {', '.join(kwargs)}. "
                "It takes db_manager, migrations_path, migrations_table, module_name."
            )
        self.db = db_manager
        self.migrations_path = Path(migrations_path).resolve()
        self.migrations_table = validated_table_name(migrations_table)
        # pgdbm's default: the schema's name, so that two schemas' 001_init.sql never meet.
        self.module_name = module_name or self.db.schema or "default"
        self._tracking = TrackingTable(self.db.schema, self.migrations_table, self.module_name)

    async def find_migration_files(self) -> list[Migration]:
        """Every migration file on disk, in the order it applies (none if the folder is
        missing, as pgdbm: a warning says so)."""
        return discover_migrations(self.migrations_path, self.module_name)

    async def ensure_migrations_table(self) -> None:
        """Create the tracking table (and the schema) if it does not exist."""
        async with self.db.acquire() as conn, migration_transaction(conn, self.module_name):
            await self._tracking.ensure(conn)

    async def get_applied_migrations(
        self, conn: asyncpg.Connection | None = None
    ) -> dict[str, Migration]:
        """This module's applied migrations, by filename (read on `conn` if given, else on a
        connection of the manager's pool)."""
        if conn is not None:
            return await self._tracking.applied(conn)
        async with self.db.acquire() as pooled:
            return await self._tracking.applied(pooled)

    async def get_pending_migrations(
        self, conn: asyncpg.Connection | None = None
    ) -> list[Migration]:
        """Files on disk not yet applied for this module, in order (`conn` as above);
        MigrationError when an applied file has changed since, as pgdbm's does."""
        applied = await self.get_applied_migrations(conn)
        files = await self.find_migration_files()
        self._check_unchanged(files, applied)
        return [m for m in files if m.filename not in applied]

    async def apply_pending_migrations(self, dry_run: bool = False) -> dict[str, Any]:
        """Apply every pending file; returns pgdbm's status dict.

        Raises MigrationError, naming the file and statement, when a file fails (that file is
        rolled back; later files are not applied), or when an applied file has changed.
        """
        files = await self.find_migration_files()
        self._check_no_file_creates_the_tracking_table(files)
        async with self.db.acquire() as conn:
            return await self._apply(conn, files, dry_run=dry_run)

    async def apply_migration(self, migration: Migration) -> float:
        """Apply one migration now (no pending check); returns its duration in ms."""
        async with self.db.acquire() as conn:
            async with migration_transaction(conn, self.module_name):
                await self._tracking.ensure(conn)
            elapsed = await self._apply_one(conn, migration, recheck=False)
            assert elapsed is not None
            return elapsed

    async def get_migration_history(self, limit: int = 10) -> list[dict[str, Any]]:
        """The most recently applied migrations of this module, newest first (pgdbm's
        columns: filename, module_name, applied_at, applied_by, execution_time_ms)."""
        async with self.db.acquire() as conn:
            return await self._tracking.history(conn, limit)

    async def rollback_migration(self, filename: str) -> None:
        """Forget that `filename` was applied (its changes stay: write a new migration)."""
        async with self.db.acquire() as conn, migration_transaction(conn, self.module_name):
            if await self._tracking.forget(conn, filename):
                logger.info("Rolled back migration record for %r", filename)
            else:
                logger.warning("Migration %r was not found in applied migrations", filename)

    async def create_migration(self, name: str, content: str, auto_transaction: bool = True) -> str:
        """Write `<YYYYmmdd_HHMMSS>_<name>.sql` with `content` as given, as pgdbm does;
        returns its path.

        Every file already runs in a transaction, so `auto_transaction` adds nothing (a
        warning when the content has its own BEGIN, as pgdbm's).
        """
        try:
            validate_identifier(name, kind="migration name")
        except SchemaError as error:
            raise MigrationError(str(error)) from error
        if auto_transaction and "BEGIN" in content.upper():
            logger.warning(
                "Migration content already contains explicit transaction statements; "
                "migrations run in a transaction by default."
            )
        self.migrations_path.mkdir(parents=True, exist_ok=True)
        path = self.migrations_path / f"{datetime.now():%Y%m%d_%H%M%S}_{name}.sql"
        try:
            with path.open("x", encoding="utf-8") as file:  # never overwrite a migration
                file.write(content)
        except FileExistsError as error:
            raise MigrationError(
                f"Migration file {str(path)!r} already exists; wait a second or pick another name.",
                migration_file=path.name,
            ) from error
        logger.info("Created migration: %s", path)
        return str(path)

    async def _apply(
        self, conn: asyncpg.Connection, files: list[Migration], *, dry_run: bool
    ) -> dict[str, Any]:
        # What is applied, read under the lock (a run in progress finishes its file first).
        async with migration_transaction(conn, self.module_name):
            if not dry_run:
                await self._tracking.ensure(conn)
            applied = await self._tracking.applied(conn)
            self._check_unchanged(files, applied)
            if not dry_run:
                await self._adopt_raw_checksums(conn, files, applied)
        pending = [m for m in files if m.filename not in applied]
        # pgdbm lists them by name; by application order here (the same for NNN_ names).
        skipped = sorted(applied, key=lambda name: applied[name].order)
        if not pending:
            logger.info("%s: no pending migrations to apply", self.module_name)
            return {
                "status": "up_to_date",
                "applied": [],
                "skipped": skipped,
                "total": len(skipped),
            }
        if dry_run:
            return {
                "status": "dry_run",
                "pending": [m.filename for m in pending],
                "applied": [],
                "skipped": skipped,
                "total": len(pending) + len(skipped),
            }
        self._check_no_transaction_is_safe(pending)
        for migration in pending:  # all checked before the first runs: nothing half-done
            if not has_statements(migration.content):
                raise MigrationError(
                    f"Migration '{migration.filename}' is empty (no statement beyond "
                    "comments); write its SQL or delete it. Nothing was applied.",
                    migration_file=migration.filename,
                )
        result: dict[str, Any] = {
            "status": "success",
            "applied": [],
            "skipped": skipped,
            "total": len(skipped),
            "total_time_ms": 0,
        }
        for migration in pending:
            try:
                elapsed = await self._apply_one(conn, migration, recheck=True)
            except MigrationError as error:
                error.details["result"] = {
                    **result,
                    "status": "error",
                    "failed_migration": migration.filename,
                    "error": str(error),
                }
                raise
            result["total"] += 1
            if elapsed is None:  # another run applied it since we looked
                result["skipped"].append(migration.filename)
                continue
            result["applied"].append({"filename": migration.filename, "execution_time_ms": elapsed})
            result["total_time_ms"] += elapsed
        if not result["applied"]:
            logger.info("%s: another run applied the pending migrations", self.module_name)
            return {key: result[key] for key in ("applied", "skipped", "total")} | {
                "status": "up_to_date"
            }
        logger.info(
            "%s: applied %d migrations in %d ms",
            self.module_name,
            len(result["applied"]),
            result["total_time_ms"],
        )
        return result

    async def _apply_one(
        self, conn: asyncpg.Connection, migration: Migration, *, recheck: bool
    ) -> int | None:
        """Apply `migration` in a transaction holding the migration locks; its duration in
        ms, or None when `recheck` finds it applied by another run since the run looked."""
        statements = self._rendered_statements(migration)
        if not migration.runs_in_transaction:
            return await self._apply_without_transaction(conn, migration, statements, recheck)
        started = time.perf_counter()
        async with migration_transaction(conn, self.module_name):
            if recheck and migration.filename in await self._tracking.applied(conn):
                return None
            for statement in statements:
                await self._run(conn, migration, statement, atomic=True)
            # pgdbm records whole milliseconds, at least 1.
            elapsed = max(1, int((time.perf_counter() - started) * 1000))
            await self._tracking.record(conn, migration, elapsed)
        logger.info("%s: applied %s in %d ms", self.module_name, migration.filename, elapsed)
        return elapsed

    async def _apply_without_transaction(
        self, conn: asyncpg.Connection, migration: Migration, statements: list[str], recheck: bool
    ) -> int | None:
        # Statements outside a transaction: a session lock over them, on a direct connection
        # (_check_no_transaction_is_safe refuses such a file through a pooler).
        logger.warning(
            "Applying migration %r in no-transaction mode: a failure keeps the statements "
            "before it; make them idempotent.",
            migration.filename,
        )
        async with session_migration_lock(conn, self.module_name):
            if recheck and migration.filename in await self._tracking.applied(conn):
                return None
            started = time.perf_counter()
            for statement in statements:
                await self._run(conn, migration, statement, atomic=False)
            elapsed = max(1, int((time.perf_counter() - started) * 1000))
            await self._tracking.record(conn, migration, elapsed)
        logger.info("%s: applied %s in %d ms", self.module_name, migration.filename, elapsed)
        return elapsed

    def _rendered_statements(self, migration: Migration) -> list[str]:
        statements = []
        for statement in split_statements(migration.content):
            if is_transaction_control(statement):
                continue
            try:
                statements.append(render_template(statement, self.db.schema))
            except SchemaError as error:
                raise MigrationError(
                    f"Migration {migration.filename} (module {self.module_name!r}) has an "
                    f"invalid template: {error}\nIn statement:\n{statement}",
                    migration_file=migration.filename,
                    statement=statement,
                ) from error
        return statements

    async def _run(
        self, conn: asyncpg.Connection, migration: Migration, statement: str, *, atomic: bool
    ) -> None:
        try:
            await conn.execute(statement)
        except asyncpg.PostgresError as error:
            kept = "it was rolled back" if atomic else "the statements before this one stay"
            raise MigrationError(
                f"Failed to apply migration '{migration.filename}' (module "
                f"{self.module_name!r}); {kept}: {error}\nFailing statement:\n{statement}",
                migration_file=migration.filename,
                sql_error=str(error),
                statement=statement,
            ) from error

    def _check_unchanged(self, files: list[Migration], applied: dict[str, Migration]) -> None:
        for migration in files:
            recorded = applied.get(migration.filename)
            # An earlier gateway recorded the raw text's sha256: as unchanged as pgdbm's.
            if recorded is not None and recorded.checksum not in (
                migration.checksum,
                raw_checksum_of(migration.content),
            ):
                raise MigrationError(
                    f"Migration '{migration.filename}' has been modified after being applied! "
                    f"(module {self.module_name!r})\nExpected checksum: {recorded.checksum}\n"
                    f"Current checksum: {migration.checksum}\nRestore the file and put the "
                    "change in a new migration. Nothing was applied.",
                    migration_file=migration.filename,
                )

    async def _adopt_raw_checksums(
        self, conn: asyncpg.Connection, files: list[Migration], applied: dict[str, Migration]
    ) -> None:
        for migration in files:
            recorded = applied.get(migration.filename)
            if recorded is not None and recorded.checksum != migration.checksum:
                await self._tracking.rewrite_checksum(conn, migration.filename, migration.checksum)

    def _check_no_file_creates_the_tracking_table(self, files: list[Migration]) -> None:
        creates = re.compile(
            r"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\{\{\s*tables\."
            rf"{re.escape(self.migrations_table)}\s*\}}\}}",
            re.IGNORECASE,
        )
        for migration in files:
            if creates.search(migration.content):
                raise MigrationError(
                    f"Migration {migration.filename} creates a table named "
                    f"{self.migrations_table!r}, the name this manager tracks migrations in. "
                    "AsyncMigrationManager's third positional argument is migrations_table, "
                    "as in pgdbm: pass the module's name by keyword, "
                    'AsyncMigrationManager(db, path, module_name="..."). Nothing was applied.',
                    migration_file=migration.filename,
                )

    def _check_no_transaction_is_safe(self, pending: list[Migration]) -> None:
        config = getattr(self.db, "config", None)
        where = " ".join(
            part.lower()
            for part in (getattr(config, "host", None), getattr(config, "connection_string", None))
            if part
        )
        # A pool that found a pooler in between (gateway.db.pool.through_pooler) knows.
        pooled = getattr(self.db.pool, "through_pooler", False)
        if not pooled and not any(hint in where for hint in _POOLER_HINTS):
            return
        for migration in pending:
            if not migration.runs_in_transaction:
                raise MigrationError(
                    "No-transaction migrations are not safe through a transaction pooler "
                    "(the database answers like one, or its host looks like one): apply this "
                    "migration over a direct or session-pooled connection. Nothing was applied.",
                    migration_file=migration.filename,
                )
