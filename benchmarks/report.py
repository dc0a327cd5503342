"""results.md, chart.png and results.json from one run's measurements.

Every figure is the median over the rounds of one cell (workload x contender x
concurrency). The ratio to the floor is computed per round, against the floor's cell of the
same round, then its median is taken: contenders ran interleaved, so a noisy moment hits a
contender and the floor alike.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.contenders import FLOOR, Contender
from benchmarks.workloads import Workload

__all__ = ["Measurement", "RunInfo", "Summary", "summarize", "write_chart", "write_results"]


@dataclass(frozen=True)
class Measurement:
    """One cell of one round."""

    round: int
    workload: str
    contender: str
    concurrency: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    completed: int
    elapsed: float


@dataclass(frozen=True)
class Summary:
    """One cell over all rounds: medians."""

    workload: str
    contender: str
    concurrency: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    ratio_to_floor: float
    statements: tuple[float, float] | None  # (on the data, all) per request


@dataclass(frozen=True)
class RunInfo:
    """What the results header says about the run."""

    date: str
    command: str
    machine: str
    software: str
    data: str
    rounds: int
    duration: float
    concurrency: list[int]
    pool_size: int
    statements_counted: bool
    statement_sample: int
    verification: dict[str, dict[str, Any]]


def summarize(
    measurements: Sequence[Measurement],
    statements: Mapping[tuple[str, str], tuple[float, float] | None],
) -> list[Summary]:
    cells: dict[tuple[str, str, int], list[Measurement]] = defaultdict(list)
    for m in measurements:
        cells[(m.workload, m.contender, m.concurrency)].append(m)
    floor_rps = {
        (m.round, m.workload, m.concurrency): m.requests_per_second
        for m in measurements
        if m.contender == FLOOR
    }
    summaries = []
    for (workload, contender, concurrency), rounds in cells.items():
        ratios = [
            m.requests_per_second / floor
            for m in rounds
            if (floor := floor_rps.get((m.round, workload, concurrency)))
        ]
        summaries.append(
            Summary(
                workload=workload,
                contender=contender,
                concurrency=concurrency,
                requests_per_second=statistics.median(m.requests_per_second for m in rounds),
                p50_ms=statistics.median(m.p50_ms for m in rounds),
                p99_ms=statistics.median(m.p99_ms for m in rounds),
                ratio_to_floor=statistics.median(ratios) if ratios else math.nan,
                statements=statements.get((workload, contender)),
            )
        )
    return summaries


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == round(value) else f"{value:,.1f}"


def write_results(
    path: Path,
    info: RunInfo,
    summaries: Sequence[Summary],
    workloads: Sequence[Workload],
    contenders: Sequence[Contender],
) -> None:
    """The Markdown table, one section per workload, after how it was measured."""
    samples = sum(v["samples"] for v in info.verification.values())
    counted = (
        "counted by PostgreSQL itself: the delta of pg_stat_statements' `calls` over "
        f"{info.statement_sample} sequential requests per workload and contender, measured "
        "once before timing (the count does not depend on load)"
        if info.statements_counted
        else "n/a: this server has no pg_stat_statements in shared_preload_libraries (the "
        "default embedded server has)"
    )
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {info.date}",
        f"- Command: `{info.command}`",
        f"- Machine: {info.machine}",
        f"- Software: {info.software}",
        f"- Data: {info.data}",
        f"- Cells: {info.rounds} rounds x {info.duration:g} s per workload, contender and "
        f"concurrency ({', '.join(map(str, info.concurrency))}); a pool of {info.pool_size} "
        "connections per contender",
        f"- Answers: identical for all {len(contenders)} contenders on {samples} sample "
        "requests, checked before timing (placeOrder: the new order's id is masked)",
        "",
        "## How to read it",
        "",
        "- Each contender is its own uvicorn process (one worker) on the same PostgreSQL. A load "
        "generator in a process of its own runs closed-loop workers, one keep-alive connection "
        "each: a worker sends its next request when the previous answer arrived, until the "
        "cell's time is up, then the requests in flight are awaited. req/s = answers / time to "
        "the last answer. At concurrency c a cell lasts at least c x one request's time, so "
        "the slowest cells have few answers and a rough p99.",
        "- Within a round the contenders run one after the other on each cell, in a rotating "
        "order, so a noisy moment hits them alike. req/s, p50 and p99 are medians over the "
        "rounds; *vs floor* is the median over the rounds of the contender's req/s divided by "
        "the floor's on the same cell of the same round (1.00 = as fast as the floor).",
        "- *SQL/req*: statements on the services' tables per request; *all/req*: every "
        "statement the server ran for the request, also BEGIN/COMMIT and the 4 statements of "
        "asyncpg's connection reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET "
        f"ALL`) each time a connection goes back to its pool. Both {counted}.",
        "- placeOrder inserts an order and its 2 line items; the orders it added are deleted "
        "after each of its cells, so every cell reads the seeded data.",
        "",
        "## Contenders",
        "",
        *(f"- **{c.label}**: {c.description}." for c in contenders),
    ]
    labels = {c.key: c.label for c in contenders}
    order = {c.key: index for index, c in enumerate(contenders)}
    for workload in workloads:
        rows = sorted(
            (s for s in summaries if s.workload == workload.key),
            key=lambda s: (s.concurrency, order[s.contender]),
        )
        lines += [
            "",
            f"## {workload.title}",
            "",
            "| concurrency | contender | req/s | p50 ms | p99 ms | SQL/req | all/req | vs floor |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for s in rows:
            data, every = (
                (_count(s.statements[0]), _count(s.statements[1])) if s.statements else ("n/a",) * 2
            )
            lines.append(
                f"| {s.concurrency} | {labels[s.contender]} | {_number(s.requests_per_second)} "
                f"| {_number(s.p50_ms)} | {_number(s.p99_ms)} | {data} | {every} "
                f"| {s.ratio_to_floor:.2f} |"
            )
    path.write_text("\n".join(lines) + "\n")


def write_json(
    path: Path, info: RunInfo, measurements: Sequence[Measurement], summaries: Sequence[Summary]
) -> None:
    """Every round's raw figures, for whoever wants to look past the medians."""
    document = {
        "run": asdict(info),
        "summaries": [asdict(s) for s in summaries],
        "measurements": [asdict(m) for m in measurements],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")


def write_chart(
    path: Path,
    summaries: Sequence[Summary],
    workloads: Sequence[Workload],
    contenders: Sequence[Contender],
    concurrency: Sequence[int],
) -> None:
    """Bars of req/s relative to the floor, per workload and contender; a panel per concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rivals = [c for c in contenders if c.key != FLOOR]
    ratio = {(s.workload, s.contender, s.concurrency): s.ratio_to_floor for s in summaries}
    figure, axes = plt.subplots(
        1,
        len(concurrency),
        figsize=(max(7.0, 4.6 * len(concurrency)), 4.8),
        sharey=True,
        squeeze=False,
    )
    width = 0.8 / len(rivals)
    for panel, level in zip(axes[0], concurrency, strict=True):
        for index, contender in enumerate(rivals):
            values = [ratio.get((w.key, contender.key, level), math.nan) for w in workloads]
            positions = [x + (index - (len(rivals) - 1) / 2) * width for x in range(len(workloads))]
            bars = panel.bar(positions, values, width, label=contender.label)
            panel.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
        panel.axhline(1.0, color="black", linewidth=1, linestyle="--")
        panel.set_yscale("log")
        panel.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        panel.set_title(f"concurrency {level}", fontsize=10)
        panel.set_xticks(range(len(workloads)))
        panel.set_xticklabels([w.short for w in workloads], fontsize=8)
        panel.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("req/s ÷ floor's req/s (log scale; 1 = floor)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(rivals), fontsize=9)
    figure.suptitle(
        "Throughput relative to the floor (hand-written SQL + orjson), median of rounds"
    )
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
