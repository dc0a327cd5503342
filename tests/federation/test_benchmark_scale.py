"""The scale benchmark (benchmarks/scale.py) runs end to end at a tiny scale: one worker,
two workers and the federation answer alike, and the report has a ratio for every cell.
Its numbers are not judged here."""

from __future__ import annotations

import re
from pathlib import Path

from tests.benchmark_cli import run_benchmark


def test_the_scale_benchmark_measures_every_contender_and_reports_the_ratios(
    federation_packages: None, database_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "scale.md"
    run_benchmark(
        "benchmarks.scale",
        *("--rounds", "1", "--duration", "0.3", "--users", "5", "--concurrency", "2"),
        *("--output", str(output)),
        database_url=database_url,
    )

    report = output.read_text()
    rows = [
        line
        for line in report.splitlines()
        if line.startswith("| one user") or line.startswith("| the README's")
    ]
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == "2"
        assert all(float(cell.replace(",", "")) > 0 for cell in cells[2:5])
        assert all(re.fullmatch(r"\d+\.\d\dx", cell) for cell in cells[5:7])
