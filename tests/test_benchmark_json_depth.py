"""benchmarks.json_depth runs and tells the deep body apart; its timings are not checked."""

from __future__ import annotations

import pytest

from benchmarks import json_depth


def test_json_depth_benchmark_runs_and_finds_only_the_thousand_arrays_too_deep(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert json_depth.main(["--repeat", "1"]) == 0

    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()[2:]]
    assert len(rows) == len(json_depth.bodies())
    assert [row[1].strip() for row in rows if row[3].strip() == "yes"] == ["1,000 nested arrays"]
