"""Memory soak: the gateway's resident size under a steady mix of requests, for minutes.

    .venv/bin/python -m benchmarks.memory [--seconds 300] [--concurrency 4] [--users 1000]
                                          [--warmup S] [--nested-500] [--output DIR]

Seeds the benchmark's data (on DATABASE_URL, an empty database, or an embedded PostgreSQL),
starts the gateway contender alone as a uvicorn process, and drives it with the harness's
load generator for --seconds, every request with the contender's admin bearer token: every
worker sends one user by id, 50 users with their orders and payments, and placeOrder in turn
(--nested-500 adds the 500-user query). Meanwhile the process's resident set size is
sampled every second. The verdict compares the RSS at the end with the RSS at the end of
the warm-up (--warmup, by default the first minute, or the first fifth of a run shorter
than 5 minutes). Writes memory.md, memory.json (every sample) and memory.png to --output
(benchmarks/results).

Every answer must be a 200 without GraphQL errors; a failed request voids the run, which is
reported as such and exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import run as harness
from benchmarks.contenders import CONTENDERS, REFERENCE
from benchmarks.database import Database, SeedSize, seeded_database
from benchmarks.environment import machine, software
from benchmarks.loadgen import LoadGenerator
from benchmarks.memory_report import SoakRun, verdict, write_chart, write_json, write_report
from benchmarks.rss import Sample, sampling_rss
from benchmarks.servers import HOST, Server, running_servers
from benchmarks.workloads import WORKLOADS, Workload

__all__ = ["Options", "main", "mixed_bodies", "run"]

MIX = ("user_by_id", "nested_50", "place_order")
SAMPLE_INTERVAL = 1.0  # seconds
# The load runs in slices so the orders placed can be deleted between them (the data stays
# the seeded size, so a growing answer is not mistaken for a growing server) and progress shows.
SLICE_SECONDS = 15.0
FAILURE_EXAMPLES = 5
MIB = 1024 * 1024
PACKAGES = {
    "Strawberry": "strawberry-graphql",
    "graphql-core": "graphql-core",
    "FastAPI": "fastapi",
    "asyncpg": "asyncpg",
}


@dataclass(frozen=True, kw_only=True)
class Options:
    """What to run; `main()` builds it from the command line."""

    seconds: float = 300.0
    concurrency: int = 4
    users: int = harness.Options.users
    warmup: float = 60.0
    nested_500: bool = False
    pool_size: int = harness.Options.pool_size
    output: Path = harness.DEFAULT_OUTPUT
    database_url: str | None = None
    command: str = "python -m benchmarks.memory"


@dataclass
class _Tally:
    requests: int = 0
    failures: int = 0
    failure_examples: list[str] = field(default_factory=list)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def mixed_bodies(workloads: Sequence[Workload], users: int) -> list[str]:
    """The workloads' bodies interleaved, so each worker sends the whole mix in turn."""
    return [w.body(index, users) for index in range(users) for w in workloads]


async def _drive(
    options: Options,
    database: Database,
    server: Server,
    loadgen: LoadGenerator,
    bodies: list[str],
    samples: list[Sample],
) -> tuple[_Tally, float]:
    """Load the server for options.seconds, slice after slice; the tally and the load's time."""
    tally = _Tally()
    offset = 0
    started = time.monotonic()
    while (remaining := options.seconds - (time.monotonic() - started)) > 0:
        # Workers start at fixed places in the list: rotate it so later slices send other
        # users' requests rather than the first slice's again.
        result = await loadgen.run(
            host=HOST,
            port=server.port,
            bodies=bodies[offset:] + bodies[:offset],
            concurrency=options.concurrency,
            duration=min(SLICE_SECONDS, remaining),
            headers=server.contender.headers,
        )
        offset = (offset + result.completed) % len(bodies)
        await database.restore_seed()
        if server.process.poll() is not None:
            raise RuntimeError(
                f"The gateway exited with {server.process.returncode} under load:\n"
                f"{server.log_tail()}"
            )
        tally.requests += result.completed
        tally.failures += result.failures
        example = result.first_failure
        if example and example not in tally.failure_examples:
            if len(tally.failure_examples) < FAILURE_EXAMPLES:
                tally.failure_examples.append(example)
            _log(f"{result.failures} request(s) failed: {example}\n{server.log_tail(10)}")
        _log(
            f"{time.monotonic() - started:.0f}/{options.seconds:g} s: "
            f"{tally.requests:,} requests answered, {tally.failures:,} failed, "
            f"RSS {samples[-1].rss / MIB:.1f} MiB"
        )
    return tally, time.monotonic() - started


async def run(options: Options) -> SoakRun:
    """Run the soak and write memory.md, memory.json and memory.png; returns what was seen."""
    started = datetime.now(UTC)
    options.output.mkdir(parents=True, exist_ok=True)
    keys = (*MIX, "nested_500") if options.nested_500 else MIX
    mix = [w for w in WORKLOADS if w.key in keys]
    gateway = next(c for c in CONTENDERS if c.key == REFERENCE)
    async with AsyncExitStack() as stack:
        if options.database_url is None:
            _log("Starting an embedded PostgreSQL ...")
        database = await stack.enter_async_context(
            seeded_database(options.database_url, SeedSize(options.users))
        )
        counts = await database.row_counts()
        _log(f"Seeded {counts}")
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-logs-")))
        servers = stack.enter_context(
            running_servers([gateway], database.url, options.pool_size, log_dir)
        )
        server = servers[gateway.key]
        _log(f"Gateway listening on port {server.port} (pid {server.process.pid})")
        loadgen = await stack.enter_async_context(LoadGenerator())
        bodies = mixed_bodies(mix, options.users)
        async with sampling_rss(server.process.pid, interval=SAMPLE_INTERVAL) as samples:
            tally, elapsed = await _drive(options, database, server, loadgen, bodies, samples)
        soak = SoakRun(
            date=started.strftime("%Y-%m-%d %H:%M UTC"),
            command=options.command,
            machine=machine(),
            software=software(
                await database.server_version(),
                embedded=options.database_url is None,
                workers="1 worker",
                packages=PACKAGES,
            ),
            data=", ".join(f"{n:,} {table.split('.')[1]}" for table, n in counts.items()),
            mix=[w.title for w in mix],
            concurrency=options.concurrency,
            pool_size=options.pool_size,
            seconds=options.seconds,
            slice_seconds=SLICE_SECONDS,
            elapsed=elapsed,
            warmup=options.warmup,
            requests=tally.requests,
            failures=tally.failures,
            failure_examples=tally.failure_examples,
            samples=list(samples),
        )
    write_report(options.output / "memory.md", soak)
    write_json(options.output / "memory.json", soak)
    write_chart(options.output / "memory.png", soak)
    _log(f"{verdict(soak)}\nWrote memory.md, memory.json and memory.png in {options.output}")
    return soak


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="of load (default 300)")
    parser.add_argument("--concurrency", type=int, default=4, help="workers (default 4)")
    parser.add_argument(
        "--users", type=int, default=Options.users, help=f"seed size (default {Options.users})"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds before growth is measured (default 60, at most a fifth of --seconds)",
    )
    parser.add_argument(
        "--nested-500", action="store_true", help="add the 500-user nested query to the mix"
    )
    parser.add_argument("--pool-size", type=int, default=Options.pool_size)
    parser.add_argument("--output", type=Path, default=Options.output)
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else min(60.0, args.seconds / 5)
    if args.users < 1 or args.concurrency < 1 or args.seconds <= 0:
        parser.error("--users and --concurrency must be positive, --seconds above 0")
    if not 0 <= warmup < args.seconds:
        parser.error("--warmup must be at least 0 and shorter than --seconds")
    options = Options(
        seconds=args.seconds,
        concurrency=args.concurrency,
        users=args.users,
        warmup=warmup,
        nested_500=args.nested_500,
        pool_size=args.pool_size,
        output=args.output,
        database_url=os.environ.get("DATABASE_URL") or None,
        command=shlex.join(["python", "-m", "benchmarks.memory", *(argv or sys.argv[1:])]),
    )
    soak = asyncio.run(run(options))
    return 1 if soak.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
