"""memory.md, memory.json and memory.png from one memory soak (benchmarks/memory.py).

The verdict compares the resident size at the end of the run with the one at the end of the
warm-up: the first minute fills caches (parsed documents, validation results, prepared
statements, the pool's connections) and the allocator's arenas, so growth is measured after it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.rss import Sample

__all__ = [
    "GROWTH_LIMIT",
    "Figures",
    "SoakRun",
    "figures",
    "verdict",
    "write_chart",
    "write_json",
    "write_report",
]

GROWTH_LIMIT = 0.10  # issue 7: resident size flat within 10 %
_LIMIT = f"{GROWTH_LIMIT * 100:g} %"
MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class SoakRun:
    """What was run and what was seen; `samples` are one a second from before the load."""

    date: str
    command: str
    machine: str
    software: str
    data: str
    mix: list[str]
    concurrency: int
    pool_size: int
    seconds: float  # of load asked for
    slice_seconds: float  # the load runs in slices; the orders placed are deleted after each
    elapsed: float  # of load done (slices end when their requests in flight are answered)
    warmup: float
    requests: int  # answered with 200 and no GraphQL errors
    failures: int  # non-200 answers, GraphQL errors, broken connections
    failure_examples: list[str]
    samples: list[Sample]


@dataclass(frozen=True)
class Figures:
    """The samples the verdict reads."""

    start: Sample  # before the load
    after_warmup: Sample  # the first sample at or past the warm-up
    end: Sample
    peak: Sample  # the largest from the warm-up on

    @property
    def growth(self) -> float:
        return self.end.rss / self.after_warmup.rss - 1

    @property
    def peak_growth(self) -> float:
        return self.peak.rss / self.after_warmup.rss - 1

    @property
    def flat(self) -> bool:
        return abs(self.growth) <= GROWTH_LIMIT


def figures(run: SoakRun) -> Figures:
    samples = run.samples
    after_warmup = next((s for s in samples if s.seconds >= run.warmup), samples[-1])
    later = [s for s in samples if s.seconds >= after_warmup.seconds]
    return Figures(
        start=samples[0],
        after_warmup=after_warmup,
        end=samples[-1],
        peak=max(later, key=lambda s: s.rss),
    )


def _percent(fraction: float) -> str:
    return f"{fraction * 100:+.1f} %"


def _mib(sample: Sample) -> str:
    return f"{sample.rss / MIB:,.1f} MiB (at {sample.seconds:.0f} s)"


def verdict(run: SoakRun) -> str:
    """One line: INVALID (a request failed), FLAT or NOT FLAT."""
    if run.failures:
        return (
            f"INVALID: {run.failures:,} request(s) failed (non-200, GraphQL errors or broken "
            f"connections) besides {run.requests:,} answered; the figures describe a sick run."
        )
    found = figures(run)
    word = "FLAT" if found.flat else "NOT FLAT"
    return (
        f"{word}: the resident size changed by {_percent(found.growth)} from the end of the "
        f"warm-up to the end of the run (limit {_LIMIT}); its peak after the warm-up was "
        f"{_percent(found.peak_growth)}."
    )


def write_report(path: Path, run: SoakRun) -> None:
    """The Markdown summary: how it ran, four RSS figures, the verdict."""
    found = figures(run)
    lines = [
        "# Gateway memory soak",
        "",
        f"- Date: {run.date}",
        f"- Command: `{run.command}`",
        f"- Machine: {run.machine}",
        f"- Software: {run.software}",
        f"- Data: {run.data}; the load runs in slices of {run.slice_seconds:g} s, after each "
        "of which the orders placed are deleted, so the data stays the seeded size",
        f"- Load: {run.concurrency} closed-loop workers (one keep-alive connection each, a new "
        "one every slice) sending in turn: " + "; ".join(run.mix),
        f"- Duration: {run.elapsed:.0f} s of load ({run.seconds:g} s asked), warm-up "
        f"{run.warmup:g} s; a pool of {run.pool_size} connections",
        f"- Requests: {run.requests:,} answered, {run.failures:,} failed",
        *(f"- Failure: `{example}`" for example in run.failure_examples),
        "",
        "## Resident set size (the uvicorn process and its children)",
        "",
        "| when | RSS |",
        "|---|---:|",
        f"| before the load | {_mib(found.start)} |",
        f"| after the warm-up | {_mib(found.after_warmup)} |",
        f"| at the end | {_mib(found.end)} |",
        f"| largest after the warm-up | {_mib(found.peak)} |",
        "",
        f"**Verdict** {verdict(run)}",
        "",
        "Samples, one a second: `memory.json`; chart: `memory.png`.",
    ]
    path.write_text("\n".join(lines) + "\n")


def write_json(path: Path, run: SoakRun) -> None:
    """Everything in the report, and every sample."""
    found = figures(run)
    document = {
        "run": {key: value for key, value in asdict(run).items() if key != "samples"},
        "figures": {
            **asdict(found),
            "growth": found.growth,
            "peak_growth": found.peak_growth,
            "flat": found.flat,
        },
        "valid": run.failures == 0,
        "verdict": verdict(run),
        "samples": [asdict(s) for s in run.samples],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")


def write_chart(path: Path, run: SoakRun) -> None:
    """RSS over time, the warm-up's end and the limit above the warm-up's RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = figures(run)
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.plot([s.seconds for s in run.samples], [s.rss / MIB for s in run.samples], linewidth=1.2)
    axes.axvline(found.after_warmup.seconds, color="grey", linestyle=":", label="end of warm-up")
    limit = found.after_warmup.rss * (1 + GROWTH_LIMIT) / MIB
    axes.axhline(
        limit,
        color="red",
        linestyle="--",
        linewidth=1,
        label=f"RSS after the warm-up + {_LIMIT}",
    )
    axes.set_xlabel("seconds")
    axes.set_ylabel("resident set size (MiB)")
    axes.set_ylim(0, max(limit, *(s.rss / MIB for s in run.samples)) * 1.1)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=9)
    axes.set_title(f"Gateway RSS under load, concurrency {run.concurrency}", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
