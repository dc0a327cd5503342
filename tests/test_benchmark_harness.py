"""The benchmark harness (benchmarks/run.py) runs end to end on a tiny data set.

Its timings are not checked here: only that every contender starts, answers every workload
with the same JSON, and that the table and the chart are written.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from benchmarks.contenders import (
    BASELINE,
    CONTENDERS,
    FLOOR,
    REFERENCE,
    Contender,
    baseline_contender,
)
from benchmarks.verify import AnswerMismatch, check_answers
from benchmarks.workloads import WORKLOADS
from tests.benchmark_cli import PNG_SIGNATURE, ROOT, run_benchmark


def test_harness_writes_table_and_chart_after_every_contender_answers_alike(
    database_url: str, tmp_path: Path
) -> None:
    run_benchmark(
        "benchmarks.run",
        *("--users", "20", "--duration", "0.5", "--rounds", "1", "--concurrency", "2"),
        *("--output", str(tmp_path)),
        database_url=database_url,
    )

    table = (tmp_path / "results.md").read_text()
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_SIGNATURE)
    for workload in WORKLOADS:
        assert f"## {workload.title}" in table
    for contender in CONTENDERS:
        assert table.count(f"| 2 | {contender.label} |") == len(WORKLOADS)

    run = json.loads((tmp_path / "results.json").read_text())
    verification = run["run"]["verification"]
    assert set(verification) == {workload.key for workload in WORKLOADS}
    for check in verification.values():
        assert set(check["digests"]) == {contender.key for contender in CONTENDERS}
        assert len(set(check["digests"].values())) == 1
    cells = {(s["workload"], s["contender"]) for s in run["summaries"]}
    assert cells == {(w.key, c.key) for w in WORKLOADS for c in CONTENDERS}


def test_a_narrowed_run_times_only_the_chosen_workloads_and_contenders_and_the_floor(
    database_url: str, tmp_path: Path
) -> None:
    run_benchmark(
        "benchmarks.run",
        *("--users", "20", "--duration", "0.3", "--rounds", "1", "--concurrency", "1"),
        *("--output", str(tmp_path), "--contenders", REFERENCE),
        *("--workloads", "user_by_id", "nested_50"),
        database_url=database_url,
    )

    run = json.loads((tmp_path / "results.json").read_text())
    cells = {(s["workload"], s["contender"]) for s in run["summaries"]}
    assert cells == {(w, c) for w in ("user_by_id", "nested_50") for c in (FLOOR, REFERENCE)}
    table = (tmp_path / "results.md").read_text()
    assert [line for line in table.splitlines() if line.startswith("## ")][-2:] == [
        f"## {w.title}" for w in WORKLOADS if w.key in {"user_by_id", "nested_50"}
    ]
    timed = {c.label for c in CONTENDERS if f"| 1 | {c.label} |" in table}
    assert timed == {c.label for c in CONTENDERS if c.key in {FLOOR, REFERENCE}}


@dataclass
class _Endpoint:
    contender: Contender
    url: str


async def test_answer_check_fails_loudly_naming_where_two_contenders_differ() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        name = "Customer 1" if request.url.host == f"{REFERENCE}.test" else "Customer One"
        user = {"id": 1, "email": "customer1@example.com", "name": name, "createdAt": "x"}
        return httpx.Response(200, json={"data": {"user": user}})

    endpoints = {c.key: _Endpoint(c, f"http://{c.key}.test/graphql") for c in CONTENDERS}
    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AnswerMismatch, match=r"\$\[0\]\.data\.user\.name"):
            await check_answers(client, endpoints, WORKLOADS[:1], users=20)


def test_a_baseline_checkout_is_timed_beside_this_one_and_must_answer_alike(
    database_url: str, tmp_path: Path
) -> None:
    # A copy of this checkout stands in for an older one: the run must import ITS gateway.
    baseline = tmp_path / "baseline"
    ignore = shutil.ignore_patterns("__pycache__", "node_modules")
    for part in ("gateway", "services", "benchmarks", "migrations"):
        shutil.copytree(ROOT / part, baseline / part, ignore=ignore)
    factory = baseline / "benchmarks" / "contenders" / "gateway_app.py"
    marker = baseline / "imported"
    factory.write_text(
        factory.read_text() + f"\n__import__('pathlib').Path({str(marker)!r}).touch()\n"
    )
    output = tmp_path / "results"
    run_benchmark(
        "benchmarks.run",
        *("--users", "20", "--duration", "0.3", "--rounds", "1", "--concurrency", "1"),
        *("--output", str(output), "--contenders", REFERENCE, "--workloads", "user_by_id"),
        *("--baseline", str(baseline)),
        database_url=database_url,
    )

    run = json.loads((output / "results.json").read_text())
    cells = {(s["workload"], s["contender"]) for s in run["summaries"]}
    assert cells == {("user_by_id", c) for c in (FLOOR, REFERENCE, BASELINE)}
    digests = run["run"]["verification"]["user_by_id"]["digests"]
    assert set(digests) == {FLOOR, REFERENCE, BASELINE}
    assert len(set(digests.values())) == 1
    assert "| 1 | gateway at baseline |" in (output / "results.md").read_text()
    assert marker.exists()  # the baseline server imported the copy's code, not this checkout's


def test_a_baseline_that_is_not_a_checkout_of_the_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a checkout of this project"):
        baseline_contender(tmp_path)
