"""The attack run (benchmarks/attack.py) end to end on a tiny data set, and its ladder.

Latencies are not judged here (a short run on a shared machine proves nothing about them):
only that each scenario really ran (the victim was measured alone and beside the attack, the
attacker's requests or connections reached the server and were answered or dropped) and
that the report shows it. The ladder's claim (each candidate knows how many values its
answer holds) is checked against the real gateway's answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.attack_queries import DataShape, flood_body, ladder
from benchmarks.attack_seed import seed_attack_data
from gateway.limits.rules import Limits
from tests.asgi import serve
from tests.benchmark_cli import run_benchmark
from tests.gateway.serving import app_for, post

SLOW_CONNECTIONS = 20
# Low enough that the ladder's largest candidates are refused (it must walk down), high
# enough that its smallest one runs (2 nested lists of one row each).
MAX_COST = 300


def _scalars(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_scalars(item) for item in value.values())
    if isinstance(value, list):
        return sum(_scalars(item) for item in value)
    return 1


def test_attack_run_measures_the_victim_beside_each_attack_and_reports_it(
    database_url: str, tmp_path: Path
) -> None:
    run_benchmark(
        "benchmarks.attack",
        *("--quick", "--seconds", "2", "--users", "3", "--orders", "3", "--payments", "3"),
        *("--slow-connections", str(SLOW_CONNECTIONS), "--output", str(tmp_path)),
        *("--setting", f"GATEWAY_MAX_COST={MAX_COST}"),
        database_url=database_url,
    )

    report = json.loads((tmp_path / "attack.json").read_text())
    assert report["data"] == "3 users x 3 orders x 3 payments (x 3 line items per order)"
    scenarios = {scenario["name"]: scenario for scenario in report["scenarios"]}
    assert list(scenarios) == ["worst_query", "flood", "slow"]
    for scenario in scenarios.values():
        for phase in ("alone", "under_attack"):
            assert scenario[phase]["load"]["requests"] > 0
            assert scenario[phase]["probes"]["requests"] > 0
        assert scenario["alone"]["load"]["errors"] == 0
        assert 0 < scenario["rss_before"] <= scenario["rss_peak"]
        assert scenario["rss_after"] > 0

    worst = scenarios["worst_query"]["attack"]
    assert worst["refused_candidates"] > 0
    assert "QUERY_TOO_COSTLY" in worst["refusal_codes"]
    assert worst["chosen"] is not None
    assert worst["chosen_values"] > 0
    assert worst["requests"] > 0
    assert sum(worst["answers"].values()) + worst["client_timeouts"] > 0

    flood = scenarios["flood"]["attack"]
    assert flood["requests"] > 0
    assert sum(flood["statuses"].values()) > 0

    slow = scenarios["slow"]["attack"]
    assert slow["opened"] >= SLOW_CONNECTIONS
    assert slow["held_at_stop"] + slow["dropped"] > 0

    markdown = (tmp_path / "attack.md").read_text()
    assert f"default settings but `GATEWAY_MAX_COST={MAX_COST}`" in markdown
    for title in ("worst allowed query", "validation flood", "slow clients"):
        assert f"| {title} |" in markdown
        assert f"## {title}" in markdown
    assert f"settled on **{worst['chosen']}**" in markdown


async def test_every_ladder_candidate_knows_how_many_values_its_answer_holds(
    database_url: str,
) -> None:
    shape = DataShape(users=2, orders=3, payments=2, items=2)
    # Limits high enough for every candidate to run: the ladder's sizes are what is checked.
    app = app_for(database_url, limits=Limits(max_cost=10**12))
    async with serve(app) as client:
        await seed_attack_data(database_url, shape)
        candidates = ladder(shape)
        for candidate in candidates:
            answer = await post(client, **json.loads(candidate.body))
            assert "errors" not in answer, (candidate.label, answer)
            assert _scalars(answer["data"]) == candidate.values, candidate.label
    assert [c.values for c in candidates] == sorted((c.values for c in candidates), reverse=True)


def test_flood_documents_are_distinct_and_about_five_kilobytes() -> None:
    bodies = {flood_body(index) for index in range(100)}
    assert len(bodies) == 100
    assert all(5_000 <= len(body) <= 6_000 for body in bodies)
    assert json.loads(flood_body(7))["query"].count("__typename") == 480
