"""The benchmark: four contenders, four workloads, several concurrency levels, one command.

    .venv/bin/python -m benchmarks.run [--quick] [--rounds N] [--duration S]
                                       [--concurrency 1 4 8] [--users N] [--output DIR]
                                       [--contenders KEY ...] [--workloads KEY ...]
                                       [--baseline CHECKOUT]

Starts an embedded PostgreSQL with pg_stat_statements in a temporary directory (or uses
DATABASE_URL, which must point at an empty database), migrates it, seeds --users users with
10 orders and 20 payments per user on average, starts each contender as a uvicorn process,
checks that all of them give identical answers (the run stops if not), counts the SQL
statements each one sends per request, then times every workload x concurrency x contender
cell for --rounds rounds with a load generator in a process of its own. Writes results.md,
chart.png and results.json to --output (benchmarks/results).

The placeOrder workload inserts rows; the seed is restored (the new orders deleted) after
each of its cells, so every cell reads the same data.

--contenders and --workloads narrow a run to some of them (keys as in the results' JSON),
for trying a change quickly; the floor always runs, as every ratio is to it.

--baseline CHECKOUT adds the gateway of another checkout of this project (e.g.
`git worktree add /tmp/before main`) as one more contender, so a change's effect is measured
side by side in one run, on the same data and the same noisy machine; its answers must match
too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.contenders import CONTENDERS, FLOOR, Contender, baseline_contender
from benchmarks.database import Database, SeedSize, seeded_database
from benchmarks.environment import machine, software
from benchmarks.loadgen import LoadGenerator
from benchmarks.report import (
    Measurement,
    RunInfo,
    summarize,
    write_chart,
    write_json,
    write_results,
)
from benchmarks.servers import HOST, Server, running_servers
from benchmarks.verify import STATEMENT_SAMPLE, check_answers, count_statements
from benchmarks.workloads import WORKLOADS, Workload

__all__ = ["Options", "main", "run"]

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"
# What the contenders run on, as the results header names it: {label: distribution}.
PACKAGES = {
    "Strawberry": "strawberry-graphql",
    "asyncpg": "asyncpg",
    "pgdbm": "pgdbm",
    "orjson": "orjson",
}


@dataclass(frozen=True, kw_only=True)
class Options:
    """What to run; `main()` builds it from the command line."""

    rounds: int = 3
    duration: float = 2.0
    concurrency: tuple[int, ...] = (1, 4, 8)
    users: int = 1000
    pool_size: int = 10
    output: Path = DEFAULT_OUTPUT
    database_url: str | None = None
    command: str = "python -m benchmarks.run"
    contenders: tuple[Contender, ...] = tuple(CONTENDERS)
    workloads: tuple[Workload, ...] = tuple(WORKLOADS)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _time_cells(
    options: Options, database: Database, servers: dict[str, Server]
) -> list[Measurement]:
    measurements = []
    contenders, workloads = list(options.contenders), options.workloads
    bodies = {w.key: w.bodies(options.users) for w in workloads}
    cells = len(workloads) * len(options.concurrency) * len(contenders) * options.rounds
    done = 0
    async with LoadGenerator() as loadgen:
        for round_number in range(1, options.rounds + 1):
            shift = round_number
            for workload in workloads:
                for level in options.concurrency:
                    # Rotate who goes first, so no contender always follows the same one.
                    shift += 1
                    start = shift % len(contenders)
                    for contender in contenders[start:] + contenders[:start]:
                        result = await loadgen.run(
                            host=HOST,
                            port=servers[contender.key].port,
                            bodies=bodies[workload.key],
                            concurrency=level,
                            duration=options.duration,
                            headers=contender.headers,
                        )
                        if workload.mutates:
                            await database.restore_seed()
                        if result.failures:
                            raise RuntimeError(
                                f"{contender.label} failed {result.failures} request(s) of "
                                f"{workload.title!r} at concurrency {level}: "
                                f"{result.first_failure}\n{servers[contender.key].log_tail()}"
                            )
                        done += 1
                        _log(
                            f"[{done}/{cells}] round {round_number} {workload.key} c={level} "
                            f"{contender.key}: {result.requests_per_second:.1f} req/s, "
                            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
                        )
                        measurements.append(
                            Measurement(
                                round=round_number,
                                workload=workload.key,
                                contender=contender.key,
                                concurrency=level,
                                requests_per_second=result.requests_per_second,
                                p50_ms=result.p50_ms,
                                p99_ms=result.p99_ms,
                                completed=result.completed,
                                elapsed=result.elapsed,
                            )
                        )
    return measurements


async def run(options: Options) -> Path:
    """Run the whole benchmark; returns the path of results.md."""
    started = datetime.now(UTC)
    options.output.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        if options.database_url is None:
            _log("Starting an embedded PostgreSQL with pg_stat_statements ...")
        database = await stack.enter_async_context(
            seeded_database(options.database_url, SeedSize(options.users))
        )
        url = database.url
        counts = await database.row_counts()
        _log(f"Seeded {counts}")
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-logs-")))
        servers = stack.enter_context(
            running_servers(options.contenders, url, options.pool_size, log_dir)
        )
        _log(f"Contenders listening: {', '.join(f'{k}:{s.port}' for k, s in servers.items())}")
        async with httpx.AsyncClient(timeout=300) as client:
            verification = await check_answers(client, servers, options.workloads, options.users)
            await database.restore_seed()
            _log("Answers identical across contenders; counting statements ...")
            statements = await count_statements(
                client, database, servers, options.workloads, options.users
            )
        measurements = await _time_cells(options, database, servers)
        info = RunInfo(
            date=started.strftime("%Y-%m-%d %H:%M UTC"),
            command=options.command,
            machine=machine(),
            software=software(
                await database.server_version(),
                embedded=options.database_url is None,
                workers="1 worker per contender",
                packages=PACKAGES,
            ),
            data=", ".join(f"{n:,} {table.split('.')[1]}" for table, n in counts.items())
            + " (orders spread unevenly over users, payments over orders)",
            rounds=options.rounds,
            duration=options.duration,
            concurrency=list(options.concurrency),
            pool_size=options.pool_size,
            statements_counted=database.counts_statements,
            statement_sample=STATEMENT_SAMPLE,
            verification=verification,
        )
    summaries = summarize(measurements, statements)
    results = options.output / "results.md"
    write_results(results, info, summaries, options.workloads, options.contenders)
    write_json(options.output / "results.json", info, measurements, summaries)
    write_chart(
        options.output / "chart.png",
        summaries,
        options.workloads,
        options.contenders,
        info.concurrency,
    )
    _log(f"Wrote {results}, chart.png and results.json in {options.output}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 1 s at concurrency 1 and 4"
    )
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 3)")
    parser.add_argument("--duration", type=float, help="seconds per cell (default 2)")
    parser.add_argument("--concurrency", type=int, nargs="+", help="default: 1 4 8")
    parser.add_argument("--users", type=int, default=1000, help="seed size (default 1000)")
    parser.add_argument("--pool-size", type=int, default=10, help="connections per contender")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--contenders",
        nargs="+",
        choices=[c.key for c in CONTENDERS],
        help="only these (and the floor)",
    )
    parser.add_argument("--workloads", nargs="+", choices=[w.key for w in WORKLOADS])
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="CHECKOUT",
        help="also time the gateway of this checkout of the project (e.g. a git worktree)",
    )
    args = parser.parse_args(argv)
    try:
        baseline = (baseline_contender(args.baseline),) if args.baseline else ()
    except ValueError as error:
        parser.error(str(error))
    quick = Options(rounds=1, duration=1.0, concurrency=(1, 4)) if args.quick else Options()
    options = Options(
        rounds=args.rounds or quick.rounds,
        duration=args.duration or quick.duration,
        concurrency=tuple(args.concurrency or quick.concurrency),
        users=args.users,
        pool_size=args.pool_size,
        output=args.output,
        database_url=os.environ.get("DATABASE_URL") or None,
        command=shlex.join(["python", "-m", "benchmarks.run", *(argv or sys.argv[1:])]),
        contenders=tuple(
            c for c in CONTENDERS if not args.contenders or c.key in {FLOOR, *args.contenders}
        )
        + baseline,
        workloads=tuple(w for w in WORKLOADS if not args.workloads or w.key in args.workloads),
    )
    if options.users < 1 or options.rounds < 1 or options.duration <= 0:
        parser.error("--users and --rounds must be positive, --duration above 0")
    asyncio.run(run(options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
