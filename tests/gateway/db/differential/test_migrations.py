"""AsyncMigrationManager, differentially: each scenario applies the same files with the real
pgdbm 0.5.0 and with gateway.db, each on a fresh database and from a folder of its own, and
compares the result dicts (durations left out), the tracking rows (`app.schema_migrations`
without ids, timestamps and durations), the tables left behind and the error classes (the
pgdbm-named class of each library, or asyncpg's).

A difference README's "Differences from pgdbm" lists is asserted as a difference, with its
reason; everything else must be equal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.gateway.db.differential.databases import (
    Both,
    Urls,
    checksum,
    create_schema,
    file_facts,
    fresh_database,
    kind,
    migrator,
    on_both,
    outcome,
    query,
    raised,
    shared_pool,
    sql_files_under,
    success,
    summary,
    tables,
    tracked_files,
    tracking,
    up_to_date,
    write,
)

USERS = "CREATE TABLE {{tables.users}} (id SERIAL PRIMARY KEY, email TEXT NOT NULL);\n"
SEED = "INSERT INTO {{tables.users}} (email) VALUES ('ada@example.com'), ('bob@example.com');\n"
NOTES = "CREATE TABLE {{tables.notes}} (id INT);\nCREATE INDEX ON {{tables.notes}} (id);\n"
FAILING = "CREATE TABLE {{tables.b}} (id INT);\nINSERT INTO {{tables.missing}} VALUES (1);\n"
MOODS = (
    "CREATE TYPE {{tables.mood}} AS ENUM ('calm');\n"
    "CREATE TABLE {{tables.days}} (m {{tables.mood}});"
)
EAGER = (
    "-- pgdbm:no-transaction\nALTER TYPE {{tables.mood}} ADD VALUE 'eager';\n"
    "INSERT INTO {{tables.days}} VALUES ('eager');"  # the new value, used at once
)
HALF = (  # fails at its second statement
    "-- pgdbm:no-transaction\nCREATE TABLE {{tables.kept}} (id INT);\n"
    "INSERT INTO {{tables.missing}} VALUES (1);\nCREATE TABLE {{tables.never}} (id INT);"
)
COLUMNS = (
    "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_schema = 'app' "
    "AND table_name = 'schema_migrations' ORDER BY ordinal_position"
)
INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'app' "
    "AND tablename = 'schema_migrations' ORDER BY indexname"
)


@pytest.fixture
async def urls(server_url: str, empty_database_url: str) -> AsyncIterator[Urls]:
    """A fresh database for each library's run."""
    async with fresh_database(server_url) as other:
        yield {"pgdbm": empty_database_url, "gateway.db": other}


def files(folder: Path, **contents: str) -> Path:
    """`folder` with a file per keyword (`_001_users="..."` writes `001_users.sql`)."""
    for name, sql in contents.items():
        write(folder, f"{name.lstrip('_')}.sql", sql)
    return folder


# --- applying -------------------------------------------------------------------------------


async def test_results_tracking_rows_and_table_are_pgdbms(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        folder = files(tmp_path / library.__name__, _001_users=USERS, _002_seed=SEED)
        async with migrator(library, url, folder) as migrations:
            seen = {"first": summary(await migrations.apply_pending_migrations())}
            seen["again"] = summary(await migrations.apply_pending_migrations())
            files(folder, _003_notes=NOTES)
            seen["third"] = summary(await migrations.apply_pending_migrations())
        seen["rows"] = await tracking(url)
        seen["tables"] = await tables(url)
        seen["users"] = await query(url, "SELECT email FROM app.users ORDER BY id")
        seen["columns"], seen["indexes"] = await query(url, COLUMNS), await query(url, INDEXES)
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert ours["first"] == success(["001_users.sql", "002_seed.sql"], [])
    assert ours["again"] == up_to_date(["001_users.sql", "002_seed.sql"])
    assert ours["third"] == success(["003_notes.sql"], ["001_users.sql", "002_seed.sql"])
    assert ours["rows"] == [
        ("app", "001_users.sql", checksum(USERS), "postgres"),
        ("app", "002_seed.sql", checksum(SEED), "postgres"),
        ("app", "003_notes.sql", checksum(NOTES), "postgres"),
    ]
    assert ours["tables"] == ["notes", "users"]
    assert ours["users"] == [("ada@example.com",), ("bob@example.com",)]
    assert [column[0] for column in ours["columns"]] == [
        "id", "filename", "checksum", "module_name", "applied_at", "applied_by",
        "execution_time_ms",
    ]  # fmt: skip
    assert [index[0] for index in ours["indexes"]] == [
        "idx_schema_migrations_module",
        "schema_migrations_filename_module_name_key",
        "schema_migrations_pkey",
    ]


async def test_a_dry_run_lists_what_would_apply_and_applies_nothing(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        folder = files(tmp_path / library.__name__, _001_users=USERS)
        async with migrator(library, url, folder) as migrations:
            seen = {"fresh": await migrations.apply_pending_migrations(dry_run=True)}
            seen["fresh_tables"] = await tables(url)
            await migrations.apply_pending_migrations()
            files(folder, _002_notes=NOTES)
            seen["later"] = await migrations.apply_pending_migrations(dry_run=True)
        seen["rows"], seen["tables"] = await tracked_files(url), await tables(url)
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert ours["fresh"] == {
        "status": "dry_run", "pending": ["001_users.sql"], "applied": [], "skipped": [],
        "total": 1,
    }  # fmt: skip
    assert ours["later"] == {
        "status": "dry_run", "pending": ["002_notes.sql"], "applied": [],
        "skipped": ["001_users.sql"], "total": 2,
    }  # fmt: skip
    assert ours["fresh_tables"] == []
    assert (ours["rows"], ours["tables"]) == (["001_users.sql"], ["users"])


async def test_pending_and_applied_migrations_are_pgdbms(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        folder = files(tmp_path / library.__name__, _001_users=USERS, _002_seed=SEED)
        async with migrator(library, url, folder) as migrations:
            await migrations.ensure_migrations_table()
            seen: dict[str, Any] = {
                "pending": [
                    (m.filename, m.checksum, m.content, m.version, m.is_applied)
                    for m in await migrations.get_pending_migrations()
                ]
            }
            await migrations.apply_pending_migrations()
            seen["after"] = await migrations.get_pending_migrations()
            seen["applied"] = {
                name: (m.checksum, m.module_name, m.is_applied)
                for name, m in (await migrations.get_applied_migrations()).items()
            }
        seen["versions"] = [
            library.Migration(filename=name, checksum="", content="").version
            for name in ("001_a.sql", "V7__b.sql", "20240102030405_c.sql", "init.sql")
        ]
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert ours["pending"] == [
        ("001_users.sql", checksum(USERS), USERS, "001", False),
        ("002_seed.sql", checksum(SEED), SEED, "002", False),
    ]
    assert ours["after"] == []
    assert ours["applied"] == {
        "001_users.sql": (checksum(USERS), "app", True),
        "002_seed.sql": (checksum(SEED), "app", True),
    }
    assert ours["versions"] == ["001", "7", "20240102030405", "init"]


async def test_a_file_changed_after_it_was_applied_is_refused(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        folder = files(tmp_path / library.__name__, _001_users=USERS)
        async with migrator(library, url, folder) as migrations:
            await migrations.apply_pending_migrations()
            files(folder, _001_users=USERS.replace("\n", "\r\n") + "\r\n\n  ")
            seen = {"line_ends": summary(await migrations.apply_pending_migrations())}
            files(folder, _001_users=USERS.replace("TEXT", "VARCHAR(80)"), _002_notes=NOTES)
            errors = [
                await raised(migrations.apply_pending_migrations()),
                await raised(migrations.get_pending_migrations()),
            ]
        seen["errors"] = [(kind(library, e), e.details["migration_file"]) for e in errors]
        seen["rows"], seen["tables"] = await tracking(url), await tables(url)
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert ours["line_ends"] == up_to_date(["001_users.sql"])  # CRLF, trailing space: the same
    assert ours["errors"] == [("MigrationError", "001_users.sql")] * 2
    assert ours["rows"] == [("app", "001_users.sql", checksum(USERS), "postgres")]
    assert ours["tables"] == ["users"]


async def test_a_failing_file_rolls_back_whole_and_later_files_wait(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        folder = files(
            tmp_path / library.__name__,
            _001_a="CREATE TABLE {{tables.a}} (id INT);",
            _002_b=FAILING,
            _003_c="CREATE TABLE {{tables.c}} (id INT);",
        )
        async with migrator(library, url, folder) as migrations:
            error = await raised(migrations.apply_pending_migrations())
            seen: dict[str, Any] = {
                "error": [kind(library, error), type(error.__cause__).__name__],
                "details": {k: error.details[k] for k in ("migration_file", "sql_error")},
                "result": error.details.get("result"),
                "rows": await tracked_files(url),
                "tables": await tables(url),
            }
            files(folder, _002_b=FAILING.replace("missing", "b"))
            seen["fixed"] = summary(await migrations.apply_pending_migrations())
        seen["tables_after_fix"] = await tables(url)
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    # Listed difference: our MigrationError carries pgdbm's "status": "error" result dict.
    assert theirs.pop("result") is None
    result = ours.pop("result")
    assert (result["status"], result["failed_migration"]) == ("error", "002_b.sql")
    assert [entry["filename"] for entry in result["applied"]] == ["001_a.sql"]
    assert ours == theirs
    assert ours["error"] == ["MigrationError", "UndefinedTableError"]
    assert ours["details"] == {
        "migration_file": "002_b.sql",
        "sql_error": 'relation "app.missing" does not exist',
    }
    assert (ours["rows"], ours["tables"]) == (["001_a.sql"], ["a"])
    assert ours["fixed"] == success(["002_b.sql", "003_c.sql"], ["001_a.sql"])
    assert ours["tables_after_fix"] == ["a", "b", "c"]


async def test_a_no_transaction_file_adds_an_enum_value_and_uses_it(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        folder = files(tmp_path / library.__name__, _001_moods=MOODS, _002_eager=EAGER)
        async with migrator(library, url, folder) as migrations:
            seen: dict[str, Any] = {"result": summary(await migrations.apply_pending_migrations())}
            files(folder, _003_half=HALF)
            error = await raised(migrations.apply_pending_migrations())
        seen["error"] = [kind(library, error), error.details["migration_file"]]
        seen["days"] = await query(url, "SELECT m::text FROM app.days")
        seen["rows"], seen["tables"] = await tracked_files(url), await tables(url)
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert ours["result"] == success(["001_moods.sql", "002_eager.sql"], [])
    assert ours["days"] == [("eager",)]
    assert ours["error"] == ["MigrationError", "003_half.sql"]
    assert ours["rows"] == ["001_moods.sql", "002_eager.sql"]  # the failed file: unrecorded
    assert ours["tables"] == ["days", "kept"]  # what ran before the failure stays


# --- history, rollback, modules ----------------------------------------------------------------


async def test_history_and_rollback_migration_are_pgdbms(
    both: Both,
    urls: Urls,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)

    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        notes = NOTES.replace("TABLE", "TABLE IF NOT EXISTS", 1)  # re-runnable
        folder = files(tmp_path / library.__name__, _001_users=USERS, _002_notes=notes)
        files(folder, _003_seed=SEED)
        caplog.clear()
        async with migrator(library, url, folder) as migrations:
            await migrations.apply_pending_migrations()
            history = await migrations.get_migration_history()
            seen: dict[str, Any] = {
                "keys": [sorted(entry) for entry in history],
                "history": [(e["filename"], e["module_name"], e["applied_by"]) for e in history],
                "limited": [e["filename"] for e in await migrations.get_migration_history(2)],
                "rollback": await migrations.rollback_migration("002_notes.sql"),
                "unknown": await migrations.rollback_migration("009_none.sql"),
                "rows": await tracked_files(url),
                "tables": await tables(url),
                "warned": [r.levelno for r in caplog.records if "009_none" in r.getMessage()],
            }
            seen["reapplied"] = summary(await migrations.apply_pending_migrations())
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert (
        ours["keys"]
        == [["applied_at", "applied_by", "execution_time_ms", "filename", "module_name"]] * 3
    )
    assert ours["history"] == [
        ("003_seed.sql", "app", "postgres"),
        ("002_notes.sql", "app", "postgres"),
        ("001_users.sql", "app", "postgres"),
    ]
    assert ours["limited"] == ["003_seed.sql", "002_notes.sql"]
    assert (ours["rollback"], ours["unknown"], ours["warned"]) == (None, None, [logging.WARNING])
    assert ours["rows"] == ["001_users.sql", "003_seed.sql"]
    assert ours["tables"] == ["notes", "users"]  # forgetting a file undoes nothing
    assert ours["reapplied"] == success(["002_notes.sql"], ["001_users.sql", "003_seed.sql"])


async def test_module_names_default_and_keep_shared_filenames_apart(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        root = tmp_path / library.__name__
        for module in ("alpha", "beta", "users", "orders"):
            files(root / module, _001_init=f"CREATE TABLE {{{{tables.{module}_t}}}} (id INT);")
        Manager, Migrations = library.AsyncDatabaseManager, library.AsyncMigrationManager
        offline = Manager(library.DatabaseConfig(connection_string=url))
        seen: dict[str, Any] = {"no_schema": Migrations(offline, str(root)).module_name}
        for schema in ("app", "users", "orders"):
            await create_schema(url, schema)
        async with shared_pool(library, url) as pool:
            app = Manager(pool=pool, schema="app")
            seen["default"] = Migrations(app, str(root)).module_name
            for module in ("alpha", "beta"):
                await Migrations(
                    app, str(root / module), module_name=module
                ).apply_pending_migrations()
            for schema in ("users", "orders"):
                db = Manager(pool=pool, schema=schema)
                await Migrations(db, str(root / schema)).apply_pending_migrations()
        for schema in ("app", "users", "orders"):
            seen[schema] = [row[:2] for row in await tracking(url, schema) or []]
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert (ours["no_schema"], ours["default"]) == ("default", "app")
    assert ours["app"] == [("alpha", "001_init.sql"), ("beta", "001_init.sql")]
    assert ours["users"] == [("users", "001_init.sql")]
    assert ours["orders"] == [("orders", "001_init.sql")]


# --- files ------------------------------------------------------------------------------------


async def test_create_migration_writes_pgdbms_timestamped_file(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        folder = tmp_path / library.__name__ / "not_yet"
        async with migrator(library, url, folder) as migrations:
            path = await migrations.create_migration("add_users", USERS)
            name, parent, content = file_facts(path)
            result = summary(await migrations.apply_pending_migrations())
            refused = await outcome(library, migrations.create_migration("../x", "SELECT 1;"))
        return {
            "type": type(path).__name__,
            "name": re.sub(r"^\d{8}_\d{6}_", "<YYYYmmdd_HHMMSS>_", name),
            "in_folder": parent == folder.resolve(),
            "content": content,
            "applied": result["applied"] == [name],
            "refused": refused,
        }

    theirs, ours = await on_both(both, urls, scenario)

    # Listed difference: a name is a plain identifier only. pgdbm joins it into the path
    # (here under a folder `<timestamp>_..` that does not exist, so its write fails).
    assert (theirs.pop("refused"), ours.pop("refused")) == ("FileNotFoundError", "MigrationError")
    assert ours == theirs
    assert ours == {
        "type": "str",
        "name": "<YYYYmmdd_HHMMSS>_add_users.sql",
        "in_folder": True,
        "content": USERS,
        "applied": True,
    }
    assert len(sql_files_under(tmp_path)) == 2  # one each, nothing written by the refusals


async def test_a_missing_folder_has_no_files_and_nothing_to_apply(
    both: Both,
    urls: Urls,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)

    async def scenario(library: ModuleType, url: str) -> dict[str, Any]:
        caplog.clear()
        async with migrator(library, url, tmp_path / "nowhere") as migrations:
            seen = {"files": await migrations.find_migration_files()}
            seen["warned"] = [r.levelno for r in caplog.records if "does not exist" in r.message]
            seen["result"] = summary(await migrations.apply_pending_migrations())
        seen["rows"] = await tracking(url)
        return seen

    theirs, ours = await on_both(both, urls, scenario)

    assert ours == theirs
    assert ours == {"files": [], "warned": [30], "result": up_to_date([]), "rows": []}


# --- listed differences ----------------------------------------------------------------------


async def test_numbered_files_apply_in_number_order(both: Both, urls: Urls, tmp_path: Path) -> None:
    async def scenario(library: ModuleType, url: str) -> list[Any]:
        folder = files(
            tmp_path / library.__name__,
            _10_a="CREATE TABLE {{tables.a}} (id INT);",
            _2_b="CREATE TABLE {{tables.b}} (id INT);",
        )
        async with migrator(library, url, folder) as migrations:
            result = summary(await migrations.apply_pending_migrations())
        return [result["applied"], await tracked_files(url)]

    theirs, ours = await on_both(both, urls, scenario)
    # Listed difference: a file's number orders it as a number; pgdbm sorts by name.
    assert theirs == [["10_a.sql", "2_b.sql"]] * 2
    assert ours == [["2_b.sql", "10_a.sql"]] * 2


async def test_a_shared_pool_manager_creates_its_schema_before_migrating(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> Any:
        folder = files(tmp_path / library.__name__, _001_users=USERS)
        async with shared_pool(library, url) as pool:  # no CREATE SCHEMA first
            db = library.AsyncDatabaseManager(pool=pool, schema="fresh")
            return await outcome(
                library, library.AsyncMigrationManager(db, str(folder)).apply_pending_migrations()
            )

    theirs, ours = await on_both(both, urls, scenario)
    # Listed difference: pgdbm fails until the schema exists; ours creates it.
    assert theirs == "InvalidSchemaNameError"
    assert ours.startswith("returned {'status': 'success'")


# --- more of pgdbm's behaviour, and the differences README lists -------------------------------


async def test_a_dry_run_changes_nothing_where_pgdbm_creates_the_tracking_table(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> Any:
        folder = files(tmp_path / library.__name__, _001_users=USERS)
        async with migrator(library, url, folder) as migrations:
            await migrations.apply_pending_migrations(dry_run=True)
        return await tracking(url)

    theirs, ours = await on_both(both, urls, scenario)
    assert theirs == []  # an empty table: pgdbm created it
    assert ours is None  # listed difference: a dry run writes nothing, not even the table


async def test_a_file_found_has_no_module_name_as_in_pgdbm(
    both: Both, urls: Urls, tmp_path: Path
) -> None:
    async def scenario(library: ModuleType, url: str) -> list[dict[str, Any]]:
        folder = files(tmp_path / library.__name__, _001_users=USERS)
        async with migrator(library, url, folder) as migrations:
            return [m.model_dump() for m in await migrations.find_migration_files()]

    theirs, ours = await on_both(both, urls, scenario)
    assert theirs[0]["module_name"] is None
    assert ours == theirs


READS = {
    "get_pending_migrations": lambda m: m.get_pending_migrations(),
    "get_applied_migrations": lambda m: m.get_applied_migrations(),
    "get_migration_history": lambda m: m.get_migration_history(),
    "rollback_migration": lambda m: m.rollback_migration("001_users.sql"),
}


@pytest.mark.parametrize("method", list(READS))
async def test_reading_before_the_tracking_table_exists_answers_where_pgdbm_fails(
    both: Both, urls: Urls, tmp_path: Path, method: str
) -> None:
    async def scenario(library: ModuleType, url: str) -> str:
        folder = files(tmp_path / library.__name__, _001_users=USERS)
        async with migrator(library, url, folder) as migrations:
            return await outcome(library, READS[method](migrations))

    theirs, ours = await on_both(both, urls, scenario)
    assert theirs == "QueryError"  # pgdbm reads a table that is not there yet
    # Listed difference: nothing applied yet is an answer (a readiness probe asks before the
    # first migration), not an error.
    assert ours.startswith("returned")


@pytest.mark.parametrize(
    "content",
    [
        "  \n\n",  # pgdbm: "Migration '001_empty.sql' is empty"
        "-- nothing yet\n",  # pgdbm: asyncpg's AttributeError on a statement-less script
    ],
    ids=["whitespace-only", "comments-only"],
)
async def test_a_file_without_statements_is_refused(
    both: Both, urls: Urls, tmp_path: Path, content: str
) -> None:
    async def scenario(library: ModuleType, url: str) -> list[Any]:
        folder = files(tmp_path / library.__name__, _001_empty=content)
        async with migrator(library, url, folder) as migrations:
            seen = await outcome(library, migrations.apply_pending_migrations())
        return [seen, await tracked_files(url)]

    theirs, ours = await on_both(both, urls, scenario)
    assert theirs == ["MigrationError", []]
    assert ours == theirs
