"""Every command, snippet and query in README.md is run here (or by the test named for it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import services
from gateway.app import create_app
from services.demo import load_demo_data
from tests.asgi import serve
from tests.services import counted
from tests.services.conftest import poster
from tests.tokens import app_settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
GATEWAY = str(Path(sys.executable).with_name("gateway"))


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def shell_commands() -> list[str]:
    """Every command of the README's sh blocks, without its trailing `# comment`."""
    lines = [line.split("  #")[0] for block in blocks("sh") for line in block.splitlines()]
    return [line.strip() for line in lines if line.strip()]


def test_every_shell_command_in_the_readme_is_covered() -> None:
    covered_elsewhere = {
        "./scripts/test": "run by .ci/run",
        "./scripts/serve": "run by tests/test_serve_e2e.py",
        ".venv/bin/python -m benchmarks.nested_query --users 50 500 --rounds 30": (
            "run small by tests/test_benchmarks.py"
        ),
        ".venv/bin/python -m benchmarks.run": "run small by tests/test_benchmark_harness.py",
        ".venv/bin/python -m benchmarks.memory": "run short by tests/test_benchmark_memory.py",
        ".venv/bin/python -m benchmarks.cache_flood": (
            "run small by tests/test_benchmark_cache_flood.py"
        ),
        ".venv/bin/python -m benchmarks.attack": "run small by tests/test_benchmark_attack.py",
        ".venv/bin/python -m benchmarks.subscriptions": (
            "run small by tests/test_benchmark_subscriptions.py"
        ),
        ".venv/bin/python -m benchmarks.scale": (
            "run small by tests/federation/test_benchmark_scale.py"
        ),
        "./scripts/federation": "run by tests/federation/test_script.py",
        "./scripts/test-through-pgbouncer": (
            "run once by hand (its result in the README); tests/pgbouncer runs a slice"
        ),
        **dict.fromkeys(
            [
                ".venv/bin/gateway tenants create acme globex",
                ".venv/bin/gateway tenants list",
                ".venv/bin/gateway tenants drop acme --yes",
                ".venv/bin/gateway migrate --tenants",
                ".venv/bin/gateway token --sub 1 --tenant acme",
            ],
            "run by tests/test_tenants_cli.py",
        ),
    }
    run_here = {"gateway export-schema -o schema.graphql", "gateway check-schema"}
    assert set(shell_commands()) == set(covered_elsewhere) | run_here
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
    assert "scripts/serve" in (ROOT / "tests" / "test_serve_e2e.py").read_text()
    assert "benchmarks.nested_query" in (ROOT / "tests" / "test_benchmarks.py").read_text()
    assert "benchmarks.run" in (ROOT / "tests" / "test_benchmark_harness.py").read_text()
    assert "benchmarks.memory" in (ROOT / "tests" / "test_benchmark_memory.py").read_text()
    tests = ROOT / "tests"
    assert "benchmarks.cache_flood" in (tests / "test_benchmark_cache_flood.py").read_text()
    assert "benchmarks.attack" in (tests / "test_benchmark_attack.py").read_text()
    assert "benchmarks.subscriptions" in (tests / "test_benchmark_subscriptions.py").read_text()
    assert "benchmarks.scale" in (tests / "federation" / "test_benchmark_scale.py").read_text()
    assert 'scripts" / "federation' in (tests / "federation" / "test_script.py").read_text()
    assert (ROOT / "scripts" / "test-through-pgbouncer").stat().st_mode & 0o111
    tenants_cli = (tests / "test_tenants_cli.py").read_text()
    for words in (
        '"tenants", "create", "acme", "globex"',
        '"tenants", "list"',
        '"tenants", "drop", "acme", "--yes"',
        '"migrate", "--tenants"',
        '"token", "--sub", "1", "--tenant", "acme"',
    ):
        assert words in tenants_cli, words


def test_readme_export_schema_command_writes_the_committed_sdl(tmp_path: Path) -> None:
    command = ["gateway", "export-schema", "-o", "schema.graphql"]
    subprocess.run([GATEWAY, *command[1:]], cwd=tmp_path, check=True)
    assert (tmp_path / "schema.graphql").read_text() == (ROOT / "schema.graphql").read_text()


def test_readme_check_schema_command_passes_on_the_committed_sdl() -> None:
    result = subprocess.run(
        [GATEWAY, "check-schema"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches the live schema" in result.stdout


async def test_readme_query_returns_the_readme_answer_on_demo_data(database_url: str) -> None:
    query = blocks("graphql")[0]
    expected = json.loads(blocks("json")[0])
    app = create_app(
        app_settings(database_url=database_url), services.SERVICES, on_startup=load_demo_data
    )
    async with serve(app) as client:
        response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    assert response.json() == expected


SERVICE_BLOCKS = ("# types.py and store.py", "# data.py", "# extends.py and __init__.py")
ROWS_BLOCK = "rows = await db.fetch_records"


def readme_service(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The README's reviews service: its Python blocks run, in order, as one module."""
    module = types.ModuleType("readme_reviews")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for start in SERVICE_BLOCKS:
        block = next(block for block in blocks("python") if block.startswith(start))
        exec(compile(block, f"README.md: {start}", "exec"), module.__dict__)
    return module


def readme_migrations(root: Path) -> Path:
    """A migrations folder: the demo services' own, and the README's reviews migration."""
    for name in ("users", "orders", "payments", "projects"):
        (root / name).symlink_to(ROOT / "migrations" / name, target_is_directory=True)
    (root / "reviews").mkdir()
    sql = next(block for block in blocks("sql") if "001_create_reviews.sql" in block)
    (root / "reviews" / "001_create_reviews.sql").write_text(sql)
    return root


async def test_readme_service_runs_with_one_statement_per_level(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reviews = readme_service(monkeypatch)
    settings = app_settings(database_url=database_url, migrations_dir=readme_migrations(tmp_path))
    app = create_app(settings, [*services.SERVICES, reviews.service])
    async with serve(app) as client:
        db = app.state.managers["reviews"]
        users = app.state.managers["users"]
        ada, bob = [
            await users.execute_and_return_id(
                "INSERT INTO {{tables.users}} (email, name) VALUES ($1, $2)", f"{name}@x.org", name
            )
            for name in ("ada", "bob")
        ]
        for user_id, stars in ((ada, 5), (ada, 4), (ada, 3), (bob, 2)):
            await db.execute(
                "INSERT INTO {{tables.reviews}} (user_id, stars, body) VALUES ($1, $2, 'ok')",
                user_id,
                stars,
            )
        data, statements = await counted(
            poster(client),
            "{ users(first: 5) { nodes { name reviews(first: 2) { nodes { stars } "
            "pageInfo { hasNextPage } } } } }",
        )
        snippet = next(block for block in blocks("python") if block.startswith(ROWS_BLOCK))
        namespace: dict[str, object] = {"db": db, **reviews.__dict__}
        exec(
            "async def rows():\n" + textwrap.indent(snippet, "    ") + "\n    return reviews",
            namespace,
        )
        every_review = await namespace["rows"]()  # type: ignore[operator]

    assert data["users"]["nodes"] == [
        {
            "name": "ada",
            "reviews": {"nodes": [{"stars": 5}, {"stars": 4}], "pageInfo": {"hasNextPage": True}},
        },
        {"name": "bob", "reviews": {"nodes": [{"stars": 2}], "pageInfo": {"hasNextPage": False}}},
    ]
    assert len(statements) == 2  # the users, then every user's first reviews
    assert "reviews" in statements[1]
    assert "body" not in statements[1]  # only the selected columns are read
    assert [(r.stars, r.body) for r in every_review] == [(5, "ok"), (4, "ok"), (3, "ok"), (2, "ok")]


def test_every_python_block_in_the_readme_is_run() -> None:
    run_here = {*SERVICE_BLOCKS, ROWS_BLOCK, "from gateway.db import"}
    for block in blocks("python"):
        assert any(block.startswith(start) for start in run_here), block


async def test_readme_data_layer_snippet_runs(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    snippet = next(block for block in blocks("python") if "create_shared_pool" in block)
    snippet = snippet.replace("postgresql://localhost/shop", database_url)
    monkeypatch.chdir(ROOT)  # the snippet's migrations/users path
    namespace: dict[str, object] = {}
    exec(  # the README's top-level awaits, run inside a coroutine
        "async def snippet():\n" + textwrap.indent(snippet, "    ") + "\n    return locals()",
        namespace,
    )
    result = await namespace["snippet"]()  # type: ignore[operator]
    assert result["user_id"] == 1
    assert result["stats"]["used_size"] == 0
    assert result["stats"]["database"] == urlsplit(database_url).path.lstrip("/")
