"""The benchmark scripts run (on a tiny data set); their timings are not checked here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_nested_query_benchmark_runs_and_reports_three_statements(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.nested_query", "--users", "3", "5", "--rounds", "2"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [(row[1].strip(), row[4].strip()) for row in rows[1:]] == [("3", "3"), ("5", "3")]
