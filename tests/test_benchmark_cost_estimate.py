"""The limit-check benchmark (benchmarks/cost_estimate.py) runs and reports each document's
outcome; its timings are not checked here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cost_estimate_benchmark_reports_costs_and_refusals() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.cost_estimate", "--rounds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("|") for line in result.stdout.splitlines()[2:])
    }
    accepted = [name for name in rows if "(refused)" not in name]
    assert accepted
    assert all(rows[name].replace(",", "").isdigit() for name in accepted)
    assert {outcome for name, outcome in rows.items() if "(refused)" in name} == {
        "QUERY_TOO_COSTLY"
    }
