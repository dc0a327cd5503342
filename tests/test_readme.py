"""Every command, snippet and query in README.md is run here (or by the test named for it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import services
from gateway.app import create_app
from gateway.settings import Settings
from services.demo import load_demo_data
from tests.asgi import serve

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
GATEWAY = str(Path(sys.executable).with_name("gateway"))


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def shell_commands() -> list[str]:
    return [line.strip() for block in blocks("sh") for line in block.splitlines() if line.strip()]


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
        Settings(database_url=database_url), services.SERVICES, on_startup=load_demo_data
    )
    async with serve(app) as client:
        response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    assert response.json() == expected


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
