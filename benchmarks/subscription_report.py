"""subscriptions.md and subscriptions.json from one subscription load run
(benchmarks/subscriptions.py): what ran, whether every subscriber got exactly what it is
entitled to, the event-to-delivery latency, and the gateway's resident size."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.memory_report import GROWTH_LIMIT
from benchmarks.rss import Sample

__all__ = [
    "Checks",
    "Latency",
    "Memory",
    "SubscriptionRun",
    "Window",
    "latency",
    "verdict",
    "windows",
    "write_json",
    "write_report",
]

MIB = 1024 * 1024
_LIMIT = f"{GROWTH_LIMIT * 100:g} %"


@dataclass
class Checks:
    """What the subscribers received against what they are entitled to, summed over all."""

    subscriptions: int = 0
    expected: int = 0  # deliveries they are entitled to (one per event and subscriber)
    delivered: int = 0  # of those, received (at least once)
    exact: int = 0  # subscriptions that received exactly their events, in order, nothing else
    missing: int = 0
    duplicates: int = 0
    out_of_order: int = 0  # deliveries that came after a later event's
    not_entitled: int = 0  # deliveries of an event the subscription is not entitled to
    wrong_content: int = 0  # the right event, but another order's id or another status
    late_probes: int = 0  # a set-up event delivered after the measured run began
    events_missed: int = 0  # results with the EVENTS_MISSED code
    other_errors: dict[str, int] = field(default_factory=dict)  # other results' error codes
    refused: int = 0  # subscribe answered with an `error` message
    completed: int = 0  # subscriptions the server completed during the run
    closed: int = 0  # connections the server closed during the run
    gateway_errors: int = 0  # ERROR lines and tracebacks in the gateway's log
    gateway_alive: bool = True
    failures: list[str] = field(default_factory=list)  # the first few, described

    @property
    def passed(self) -> bool:
        return (
            self.expected > 0
            and self.delivered == self.expected
            and self.exact == self.subscriptions
            and not any(
                (
                    self.missing,
                    self.duplicates,
                    self.out_of_order,
                    self.not_entitled,
                    self.wrong_content,
                    self.late_probes,
                    self.events_missed,
                    self.other_errors,
                    self.refused,
                    self.completed,
                    self.closed,
                    self.gateway_errors,
                )
            )
            and self.gateway_alive
        )


@dataclass(frozen=True)
class Latency:
    """Commit (on the driver) to receipt (by the client), in milliseconds."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def latency(seconds: list[float]) -> Latency:
    ordered = sorted(seconds)
    return Latency(
        count=len(ordered),
        p50_ms=_percentile(ordered, 0.50) * 1000,
        p90_ms=_percentile(ordered, 0.90) * 1000,
        p99_ms=_percentile(ordered, 0.99) * 1000,
        max_ms=(ordered[-1] * 1000) if ordered else math.nan,
    )


@dataclass(frozen=True)
class Window:
    """The latency of the deliveries of the changes committed from `start` to `end` seconds
    into the run."""

    start: float
    end: float
    latency: Latency


def windows(timed: list[tuple[float, float]], first: float, width: float) -> list[Window]:
    """`timed` ((commit time, latency) pairs) in windows of `width` seconds from `first`."""
    grouped: dict[int, list[float]] = {}
    for committed_at, seconds in timed:
        grouped.setdefault(int((committed_at - first) // width), []).append(seconds)
    return [
        Window(index * width, (index + 1) * width, latency(grouped[index]))
        for index in sorted(grouped)
    ]


@dataclass(frozen=True)
class Memory:
    """The gateway's resident size at the moments the report names (benchmarks.rss)."""

    idle: Sample  # listening, no client connected
    start: Sample  # every subscription in place, as the events begin
    after_warmup: Sample  # the first sample at or past the warm-up
    end: Sample  # the last delivery in
    peak: Sample  # the largest from the start of the events to their end
    closed: Sample  # a few seconds after the clients closed their connections
    warmup: float

    @property
    def growth(self) -> float:
        return self.end.rss / self.after_warmup.rss - 1

    @property
    def peak_growth(self) -> float:
        return self.peak.rss / self.after_warmup.rss - 1

    @property
    def flat(self) -> bool:
        return abs(self.growth) <= GROWTH_LIMIT


@dataclass(frozen=True, kw_only=True)
class SubscriptionRun:
    date: str
    command: str
    machine: str
    software: str
    data: str
    load: str  # the subscribers, in words
    events: str  # the driver, in words
    gateway: str  # how `gateway serve` was configured
    subscriptions: int
    connections: int
    order_updated: int
    my_order_updates: int
    orders: int
    owners: int
    rate: float
    seconds: float
    changes: int  # committed by the driver in the measured run
    achieved_rate: float
    driver_max_behind_ms: float
    setup_s: float  # connecting, subscribing and the probe rounds
    probe_rounds: int
    drain_s: float  # from the last commit to the last delivery
    checks: Checks
    latency: Latency
    windows: list[Window]
    commit_round_trip: Latency  # the driver's COMMIT, sent to returned
    read_before_commit_returned: int  # deliveries read before the driver's COMMIT returned
    memory: Memory
    samples: list[Sample]
    gateway_log: list[str]  # ERROR lines and tracebacks, the first few


def _percent(fraction: float) -> str:
    return f"{fraction * 100:+.1f} %"


def _mib(sample: Sample) -> str:
    return f"{sample.rss / MIB:,.1f} MiB (at {sample.seconds:.0f} s)"


def verdict(run: SubscriptionRun) -> str:
    """Two sentences: deliveries (PASSED/FAILED) and memory (FLAT/NOT FLAT)."""
    checks, memory = run.checks, run.memory
    if checks.passed:
        delivered = (
            f"PASSED: all {checks.subscriptions:,} subscribers received every one of the "
            f"{checks.expected:,} events they are entitled to, in order, without duplicates, "
            "EVENTS_MISSED or errors."
        )
    else:
        delivered = (
            f"FAILED: {checks.delivered:,} of {checks.expected:,} entitled deliveries "
            f"received; {checks.subscriptions - checks.exact:,} subscriber(s) got something "
            "else than exactly their events (see the table)."
        )
    word = "FLAT" if memory.flat else "NOT FLAT"
    resident = (
        f"{word}: the resident size changed by {_percent(memory.growth)} from the end of the "
        f"warm-up to the end of the events (limit {_LIMIT}); its peak was "
        f"{_percent(memory.peak_growth)}."
    )
    return f"{delivered} {resident}"


def write_report(path: Path, run: SubscriptionRun) -> None:
    checks, memory, lat = run.checks, run.memory, run.latency
    errors = ", ".join(f"{code} {n:,}" for code, n in sorted(checks.other_errors.items()))
    lines = [
        "# Subscriptions under load",
        "",
        f"- Date: {run.date}",
        f"- Command: `{run.command}`",
        f"- Machine: {run.machine}",
        f"- Software: {run.software}",
        f"- Data: {run.data}",
        f"- Gateway: {run.gateway}",
        f"- Subscribers: {run.load}",
        f"- Events: {run.events}",
        f"- Run: {run.changes:,} changes in {run.seconds:g} s asked, "
        f"{run.achieved_rate:,.1f} changes/s achieved (the driver at most "
        f"{run.driver_max_behind_ms:,.1f} ms behind its schedule); set-up (connect, "
        f"subscribe, {run.probe_rounds} probe round(s)) {run.setup_s:.1f} s; the last "
        f"delivery {run.drain_s * 1000:,.0f} ms after the last commit",
        "",
        "## Deliveries",
        "",
        "| check | count |",
        "|---|---:|",
        f"| entitled deliveries (events x their subscribers) | {checks.expected:,} |",
        f"| received | {checks.delivered:,} |",
        f"| missing | {checks.missing:,} |",
        f"| duplicates | {checks.duplicates:,} |",
        f"| out of order | {checks.out_of_order:,} |",
        f"| not entitled (another order's or user's event) | {checks.not_entitled:,} |",
        f"| wrong content (id or status not the event's) | {checks.wrong_content:,} |",
        f"| set-up events delivered late | {checks.late_probes:,} |",
        f"| EVENTS_MISSED results | {checks.events_missed:,} |",
        f"| other errors | {errors or 0} |",
        f"| subscriptions refused / completed by the server | {checks.refused:,} / "
        f"{checks.completed:,} |",
        f"| connections closed by the server | {checks.closed:,} |",
        f"| ERROR lines in the gateway's log | {checks.gateway_errors:,} |",
        f"| subscriptions that received exactly their events | {checks.exact:,} of "
        f"{checks.subscriptions:,} |",
        "",
        *(f"- Failure: {failure}" for failure in checks.failures),
        *(f"- Gateway log: `{line}`" for line in run.gateway_log),
        *([""] if checks.failures or run.gateway_log else []),
        "## Latency, commit to receipt",
        "",
        "From `time.time()` as the driver's COMMIT returned to `time.time()` as the client "
        "read the `next` message (one machine, one clock), over every entitled delivery.",
        "",
        "| changes committed | deliveries | p50 | p90 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
        _latency_row("over the whole run", lat),
        *(_latency_row(f"{w.start:g} to {w.end:g} s", w.latency) for w in run.windows),
        "",
        f"The driver's COMMIT took {run.commit_round_trip.p50_ms:,.1f} ms at p50, "
        f"{run.commit_round_trip.p99_ms:,.1f} ms at p99 and {run.commit_round_trip.max_ms:,.1f} "
        "ms at most from being sent to returning (PostgreSQL sends the notification in "
        f"between); {run.read_before_commit_returned:,} deliveries were read before the "
        "driver's COMMIT returned (a negative latency).",
        "",
        "## Resident set size (the `gateway serve` process)",
        "",
        "| when | RSS |",
        "|---|---:|",
        f"| listening, no client | {_mib(memory.idle)} |",
        f"| all subscribed, events start | {_mib(memory.start)} |",
        f"| after the warm-up ({memory.warmup:g} s of events) | {_mib(memory.after_warmup)} |",
        f"| last delivery in (end) | {_mib(memory.end)} |",
        f"| largest during the events | {_mib(memory.peak)} |",
        f"| after the clients closed | {_mib(memory.closed)} |",
        "",
        f"**Verdict** {verdict(run)}",
        "",
        "Samples, one a second from before the clients connected: `subscriptions.json`.",
    ]
    path.write_text("\n".join(lines) + "\n")


def _latency_row(label: str, lat: Latency) -> str:
    return (
        f"| {label} | {lat.count:,} | {lat.p50_ms:,.1f} ms | {lat.p90_ms:,.1f} ms "
        f"| {lat.p99_ms:,.1f} ms | {lat.max_ms:,.1f} ms |"
    )


def write_json(path: Path, run: SubscriptionRun) -> None:
    document: dict[str, Any] = {
        "run": {
            key: value
            for key, value in asdict(run).items()
            if key not in {"checks", "latency", "windows", "memory", "samples"}
        },
        "checks": {**asdict(run.checks), "passed": run.checks.passed},
        "latency": asdict(run.latency),
        "latency_windows": [asdict(w) for w in run.windows],
        "memory": {
            **asdict(run.memory),
            "growth": run.memory.growth,
            "peak_growth": run.memory.peak_growth,
            "flat": run.memory.flat,
        },
        "passed": run.checks.passed,
        "verdict": verdict(run),
        "samples": [asdict(s) for s in run.samples],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")
