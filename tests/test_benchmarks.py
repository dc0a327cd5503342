"""The benchmark scripts run (on a tiny data set); their timings are not checked here."""

from __future__ import annotations

from tests.benchmark_cli import run_benchmark


def test_nested_query_benchmark_runs_and_reports_three_statements(database_url: str) -> None:
    output = run_benchmark(
        "benchmarks.nested_query",
        *("--users", "3", "5", "--rounds", "2"),
        database_url=database_url,
    )
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ")]
    assert [(row[1].strip(), row[4].strip()) for row in rows[1:]] == [("3", "3"), ("5", "3")]
