"""The memory soak (benchmarks/memory.py) runs end to end on a tiny data set for a few seconds.

Its memory figures are not judged here (the verdict may go either way on a short run): only
that every request succeeds and the report, the samples and the chart are written.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.memory import mixed_bodies
from benchmarks.workloads import WORKLOADS
from tests.benchmark_cli import PNG_SIGNATURE, run_benchmark


def test_memory_soak_writes_report_samples_and_chart_with_every_request_answered(
    database_url: str, tmp_path: Path
) -> None:
    run_benchmark(
        "benchmarks.memory",
        *("--users", "20", "--seconds", "4", "--warmup", "1", "--concurrency", "2"),
        *("--nested-500", "--output", str(tmp_path)),
        database_url=database_url,
    )

    soak = json.loads((tmp_path / "memory.json").read_text())
    assert soak["valid"] is True
    assert soak["run"]["failures"] == 0
    assert soak["run"]["requests"] > 0
    assert soak["run"]["data"] == "20 users, 200 orders, 400 payments"
    assert len(soak["run"]["mix"]) == len(WORKLOADS)
    samples = soak["samples"]
    assert len(samples) >= 3
    assert all(sample["rss"] > 0 for sample in samples)
    times = [sample["seconds"] for sample in samples]
    assert times == sorted(times)
    assert soak["figures"]["after_warmup"]["seconds"] >= 1
    assert soak["figures"]["end"] == samples[-1]

    report = (tmp_path / "memory.md").read_text()
    assert f"- Requests: {soak['run']['requests']:,} answered, 0 failed" in report
    assert "| after the warm-up |" in report
    assert "| at the end |" in report
    assert f"**Verdict** {soak['verdict']}" in report
    assert soak["verdict"].startswith(("FLAT:", "NOT FLAT:"))
    assert (tmp_path / "memory.png").read_bytes().startswith(PNG_SIGNATURE)


def test_mixed_bodies_send_every_workload_in_turn() -> None:
    bodies = mixed_bodies(WORKLOADS, users=3)
    operations = [json.loads(body)["operationName"] for body in bodies]
    assert operations == [w.operation for w in WORKLOADS] * 3
