"""The `gateway` command, run as a real process through its installed entry point."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = Path(sys.executable).parent / "gateway"  # the [project.scripts] entry point
COMMITTED_SCHEMA = ROOT / "schema.graphql"


def gateway(
    *args: str, database_url: str | None = None, settings: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `gateway *args` with no GATEWAY_* settings but `settings`, and only the given
    DATABASE_URL."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GATEWAY_") and name != "DATABASE_URL"
    }
    env.update(settings or {})
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [str(GATEWAY), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def live_sdl() -> str:
    result = gateway("export-schema")
    assert result.returncode == 0, result.stderr
    return result.stdout


def service_schemas(database_url: str) -> set[str]:
    async def query() -> set[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT schema_name FROM information_schema.schemata "
                "WHERE schema_name IN ('users', 'orders', 'payments')"
            )
        finally:
            await conn.close()
        return {row["schema_name"] for row in rows}

    return asyncio.run(query())


def test_export_schema_prints_the_committed_schema_file() -> None:
    assert live_sdl() == COMMITTED_SCHEMA.read_text()


def test_export_schema_with_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "exported.graphql"

    result = gateway("export-schema", "-o", str(target))

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.read_text() == COMMITTED_SCHEMA.read_text()


def test_export_schema_of_a_subgraph_prints_its_federation_sdl(tmp_path: Path) -> None:
    target = tmp_path / "orders.graphql"

    printed = gateway("export-schema", "--subgraph", "orders")
    written = gateway("export-schema", "--subgraph", "orders", "-o", str(target))

    assert printed.returncode == written.returncode == 0, printed.stderr + written.stderr
    assert printed.stdout == target.read_text()
    assert 'type Order implements Node @key(fields: "id", resolvable: true)' in printed.stdout
    assert 'type User @key(fields: "id", resolvable: true)' in printed.stdout  # its stub
    assert "_entities(representations: [_Any!]!): [_Entity]!" in printed.stdout


def test_export_schema_of_no_such_subgraph_fails_naming_the_services() -> None:
    unknown = gateway("export-schema", "--subgraph", "shop")
    tenant_scoped = gateway("export-schema", "--subgraph", "projects")

    assert unknown.returncode == tenant_scoped.returncode == 2
    assert "the services are users, orders, payments, projects" in unknown.stderr
    assert "tenant-scoped" in tenant_scoped.stderr
    assert unknown.stdout == tenant_scoped.stdout == ""


def test_check_schema_accepts_the_committed_file() -> None:
    result = gateway("check-schema")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches the live schema" in result.stdout
    assert "BREAKING" not in result.stdout


def test_check_schema_fails_on_a_field_the_live_schema_no_longer_has(tmp_path: Path) -> None:
    old = tmp_path / "old.graphql"
    sdl = live_sdl()
    marker = "type User implements Node {\n"
    assert marker in sdl
    old.write_text(sdl.replace(marker, marker + "  nickname: String\n"))

    result = gateway("check-schema", str(old))

    assert result.returncode != 0
    assert "BREAKING" in result.stdout
    assert "User.nickname" in result.stdout


def test_check_schema_reports_a_dangerous_change_and_passes(tmp_path: Path) -> None:
    # The old file lacks an enum value the live schema has: clients may meet a value they
    # do not know (dangerous), but nothing they use disappeared (not breaking).
    old = tmp_path / "old.graphql"
    sdl = live_sdl()
    assert "  CANCELLED\n" in sdl
    old.write_text(sdl.replace("  CANCELLED\n", ""))

    result = gateway("check-schema", str(old))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "DANGEROUS" in result.stdout
    assert "CANCELLED" in result.stdout
    assert "BREAKING" not in result.stdout


def test_check_schema_of_a_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    result = gateway("check-schema", str(tmp_path / "absent.graphql"))

    assert result.returncode != 0
    assert "gateway export-schema -o" in result.stdout


def test_migrate_creates_every_service_schema_then_reports_up_to_date(database_url: str) -> None:
    first = gateway("migrate", database_url=database_url)

    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    for service in ("users", "orders", "payments"):
        assert any(
            line.startswith(f"{service}: success") and f"001_create_{service}.sql" in line
            for line in lines
        ), first.stdout
    assert service_schemas(database_url) == {"users", "orders", "payments"}

    second = gateway("migrate", database_url=database_url)

    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(second.stdout.splitlines()) == [
        "orders: up_to_date (applied: nothing new; total files: 2)",
        "payments: up_to_date (applied: nothing new; total files: 2)",
        "users: up_to_date (applied: nothing new; total files: 1)",
    ]
