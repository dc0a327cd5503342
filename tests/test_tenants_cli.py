"""`gateway tenants create|list|drop` and `gateway migrate --tenants`, as real processes on
this test's database: one line per tenant; a tenant whose migration fails is reported and
the others are migrated; running again resumes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.identity.tokens import TokenVerifier
from gateway.settings import PROJECT_ROOT
from tests.test_cli import gateway
from tests.tokens import TEST_AUTH, TEST_SECRET

DUE_DATES = "ALTER TABLE {{tables.tasks}} ADD COLUMN due_on DATE;\n"


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A migrations folder: the shared services' own, and a copy of projects' to add to."""
    root = tmp_path / "migrations"
    root.mkdir()
    for name in ("users", "orders", "payments"):
        (root / name).symlink_to(PROJECT_ROOT / "migrations" / name, target_is_directory=True)
    shutil.copytree(PROJECT_ROOT / "migrations" / "projects", root / "projects")
    return root


def sql(database_url: str, query: str) -> list[Any]:
    async def run() -> list[Any]:
        connection = await asyncpg.connect(database_url)
        try:
            return [tuple(row) for row in await connection.fetch(query)]
        finally:
            await connection.close()

    return asyncio.run(run())


def columns_of_tasks(database_url: str, tenant: str) -> set[str]:
    rows = sql(
        database_url,
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = 'tenant_{tenant}' AND table_name = 'tasks'",
    )
    return {row[0] for row in rows}


def test_tenants_are_provisioned_migrated_resumably_and_dropped(
    database_url: str, migrations: Path
) -> None:
    settings = {"GATEWAY_MIGRATIONS_DIR": str(migrations)}

    def run(*args: str) -> tuple[int, list[str]]:
        result = gateway(*args, database_url=database_url, settings=settings)
        return result.returncode, (result.stdout + result.stderr).splitlines()

    assert run("tenants", "create", "acme", "globex") == (
        0,
        ["acme: provisioned", "globex: provisioned"],
    )
    assert run("tenants", "create", "initech") == (0, ["initech: provisioned"])
    status, lines = run("tenants", "create", "no such tenant!")
    assert status == 1
    assert lines[0].startswith("no such tenant!: FAILED:")
    assert run("tenants", "list") == (0, ["acme", "globex", "initech"])

    # A new tenant migration, which globex cannot take (its column exists already).
    (migrations / "projects" / "002_add_due_dates.sql").write_text(DUE_DATES)
    sql(database_url, "ALTER TABLE tenant_globex.tasks ADD COLUMN due_on DATE")
    status, lines = run("migrate", "--tenants")
    tenant_lines = [line for line in lines if line.split(":")[0] in {"acme", "globex", "initech"}]

    assert status == 1
    assert tenant_lines[0] == "acme: projects 002_add_due_dates.sql"
    assert tenant_lines[1].startswith("globex: FAILED:")
    assert "002_add_due_dates.sql" in tenant_lines[1]
    assert tenant_lines[2] == "initech: projects 002_add_due_dates.sql"
    assert "due_on" in columns_of_tasks(database_url, "initech")

    sql(database_url, "ALTER TABLE tenant_globex.tasks DROP COLUMN due_on")
    status, lines = run("migrate", "--tenants")
    assert status == 0
    assert lines[-3:] == [
        "acme: up to date",
        "globex: projects 002_add_due_dates.sql",
        "initech: up to date",
    ]

    tracked_acme = (
        "SELECT count(*) FROM tenant_acme.schema_migrations "
        "WHERE module_name = 'projects:tenant_acme'"
    )
    assert sql(database_url, tracked_acme) == [(2,)]
    status, lines = run("tenants", "drop", "acme")
    assert status == 2
    assert "--yes" in lines[0]
    assert run("tenants", "drop", "acme", "--yes") == (0, ["acme: dropped"])
    assert run("tenants", "list") == (0, ["globex", "initech"])
    assert columns_of_tasks(database_url, "acme") == set()
    # The records went with the schema.
    assert sql(database_url, "SELECT to_regclass('tenant_acme.schema_migrations')") == [(None,)]


async def test_the_token_command_names_the_tenant_a_gateway_then_serves() -> None:
    settings = {"GATEWAY_JWT_SECRET": TEST_SECRET}
    result = gateway("token", "--sub", "1", "--tenant", "acme", settings=settings)

    assert result.returncode == 0, result.stderr
    token = result.stdout.splitlines()[-1]
    viewer = await TokenVerifier(TEST_AUTH).viewer(f"Bearer {token}".encode())
    assert (viewer.subject, viewer.tenant) == ("1", "acme")
