"""Beyond one process, measured: `gateway serve` at 1 and 2 workers, and the services as
Federation 2 subgraphs behind Hive Gateway, side by side in one run on one seeded database.

    python -m benchmarks.scale [--rounds 5] [--duration 2] [--users 200]

Three contenders, each a real process tree started here: the in-process gateway with one
worker, with two workers (`--workers 2`, the same pool budget split between them), and the
federation (`scripts/federation`'s cluster: one `gateway serve --subgraph` per service and
the router). Their answers to every workload's sample bodies are checked identical first;
then rounds of interleaved cells (every contender, workload and concurrency once per round,
the order rotated) measure completed requests per second, and the medians' ratios are
printed and written to benchmarks/results/scale.md. The ratios are the result: this
machine is shared and noisy, the absolute numbers less so than their proportions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import services
from benchmarks.contenders import BENCHMARK_ENV, BENCHMARK_HEADERS
from benchmarks.database import SeedSize, seeded_database
from benchmarks.environment import machine
from benchmarks.loadgen import LoadGenerator
from benchmarks.servers import free_port
from benchmarks.workloads import WORKLOADS, Workload
from gateway.federation.cluster import GATEWAY, Child, running
from gateway.settings import PROJECT_ROOT
from services.users import EXAMPLE_QUERY

__all__ = ["main"]

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "scale.md"
# One user by id, and the README's nested query (users, their orders, the orders' payments:
# one fetch per subgraph when federated), both within the default limits.
README_QUERY = Workload(
    key="readme_query",
    short="README query",
    title="the README's nested query",
    operation="Readme",
    document=f"query Readme {EXAMPLE_QUERY}",
    variables=lambda index, users: {},
    distinct=lambda users: 1,
)
SCALE_WORKLOADS = [*(w for w in WORKLOADS if w.key == "user_by_id"), README_QUERY]
POOL_BUDGET = 8  # each contender's connections to PostgreSQL (the subgraphs': each)


@dataclass(frozen=True)
class Target:
    """A running contender: its name and the URL its GraphQL answers at."""

    name: str
    url: str


@contextmanager
def _contenders(database_url: str) -> Iterator[list[Target]]:
    base = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    env = (
        base
        | BENCHMARK_ENV
        | {
            "DATABASE_URL": database_url,
            "GATEWAY_POOL_MAX": str(POOL_BUDGET),
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    with ExitStack() as stack:
        targets = []
        for name, extra in (("1 worker", ()), ("2 workers", ("--workers", "2"))):
            port = free_port()
            command = [str(GATEWAY), "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
            child = Child(name, command, env)
            stack.callback(child.stop)
            url = f"http://127.0.0.1:{port}/graphql"
            child.wait_until_answering(url, "{ __typename }")
            targets.append(Target(name, url))
        cluster = stack.enter_context(running(services.SERVICES, env))
        targets.append(Target("federated", cluster.router_url))
        yield targets


def _answer(url: str, body: str) -> object:
    request = urllib.request.Request(
        url,
        data=body.encode(),
        headers={"content-type": "application/json", **dict(BENCHMARK_HEADERS)},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _check_equal(targets: Sequence[Target], workloads: Sequence[Workload], users: int) -> None:
    for workload in workloads:
        for body in workload.samples(users):
            answers = {target.name: _answer(target.url, body) for target in targets}
            first = answers[targets[0].name]
            if any(answer != first for answer in answers.values()) or "errors" in str(first):
                shown = json.dumps(answers)[:2000]
                raise SystemExit(f"{workload.key}: the contenders answer differently: {shown}")


async def _measure(
    targets: Sequence[Target],
    workloads: Sequence[Workload],
    users: int,
    *,
    rounds: int,
    duration: float,
    concurrencies: Sequence[int],
) -> dict[tuple[str, str, int], list[float]]:
    cells = [(t, w, c) for w in workloads for c in concurrencies for t in targets]
    rates: dict[tuple[str, str, int], list[float]] = {}
    async with LoadGenerator() as load:
        for round_index in range(rounds):
            shift = round_index % len(cells)
            for target, workload, concurrency in cells[shift:] + cells[:shift]:
                where = urlsplit(target.url)
                assert where.hostname is not None
                assert where.port is not None
                result = await load.run(
                    host=where.hostname,
                    port=where.port,
                    bodies=workload.bodies(users),
                    concurrency=concurrency,
                    duration=duration,
                    headers=BENCHMARK_HEADERS,
                )
                if result.failures:
                    raise SystemExit(f"{target.name} {workload.key}: {result.failures} failures")
                key = (target.name, workload.key, concurrency)
                rates.setdefault(key, []).append(result.completed / result.elapsed)
            print(f"round {round_index + 1}/{rounds} done", file=sys.stderr, flush=True)
    return rates


def _report(
    rates: dict[tuple[str, str, int], list[float]],
    workloads: Sequence[Workload],
    concurrencies: Sequence[int],
    *,
    rounds: int,
    duration: float,
    users: int,
) -> str:
    median = {key: statistics.median(values) for key, values in rates.items()}
    lines = [
        "# Beyond one process: workers and federation",
        "",
        f"`python -m benchmarks.scale --rounds {rounds} --duration {duration:g} --users {users}`,"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}. Medians of {rounds} "
        f"interleaved rounds of {duration:g} s, requests per second (a closed loop per "
        "connection); the pool budget is "
        f"{POOL_BUDGET} connections per contender (per subgraph for the federation).",
        "",
        "| workload | concurrency | 1 worker | 2 workers | federated | 2 workers / 1 "
        "| federated / in-process (1 worker) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for workload in workloads:
        for concurrency in concurrencies:
            one, two, federated = (
                median[(name, workload.key, concurrency)]
                for name in ("1 worker", "2 workers", "federated")
            )
            lines.append(
                f"| {workload.title} | {concurrency} | {one:,.0f} | {two:,.0f} | "
                f"{federated:,.0f} | {two / one:.2f}x | {federated / one:.2f}x |"
            )
    return "\n".join(lines) + "\n"


async def _run(args: argparse.Namespace) -> str:
    size = SeedSize(args.users)
    async with seeded_database(os.environ.get("DATABASE_URL"), size) as database:
        with _contenders(database.url) as targets:
            _check_equal(targets, SCALE_WORKLOADS, args.users)
            rates = await _measure(
                targets,
                SCALE_WORKLOADS,
                args.users,
                rounds=args.rounds,
                duration=args.duration,
                concurrencies=args.concurrency,
            )
    return _report(
        rates,
        SCALE_WORKLOADS,
        args.concurrency,
        rounds=args.rounds,
        duration=args.duration,
        users=args.users,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per cell")
    parser.add_argument("--users", type=int, default=200, help="seeded users")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = asyncio.run(_run(args))
    args.output.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
