"""The attack run: a victim's latency alone and beside each attack of issue 13.

    .venv/bin/python -m benchmarks.attack [--quick] [--seconds S] [--scenarios NAME ...]
                                          [--users N] [--attackers N] [--slow-connections N]
                                          [--server-file-limit N] [--output DIR]
                                          [--setting GATEWAY_NAME=VALUE ...]

Seeds an embedded PostgreSQL (or DATABASE_URL, an empty database) with --users users x 20
orders x 20 payments x 3 line items, starts `gateway serve` with its default settings as a
real process (--setting overrides one, to try a limit; its GATEWAY_JWT_SECRET is the
benchmark's key), then for each scenario measures the victim (one user by id, 2 closed-loop
clients, plus a `/health/live` probe on a new connection every 200 ms) for --seconds alone,
then again beside the attack. The victim's and the attackers' GraphQL requests carry the
benchmark's admin bearer token (benchmarks.contenders): the shop answers most fields only to
a signed-in owner or an admin, and an admin may ask for everything, so the worst query is the
worst any signed-in client could send.

- worst_query: the largest query the server's limits let through (the ladder of
  benchmarks/attack_queries.py), sent in a loop by --attackers clients;
- flood: distinct ~5 KB documents of 480 `__typename`, as fast as one client gets answers;
- slow: --slow-connections half-sent requests held open (benchmarks/attackers.py).

Each scenario records the victim's p50/p99/errors alone and under attack, the probe's worst
latency and failures, what the server answered the attacker, the server's resident size
before, at its peak and after, and how much its log grew. Between scenarios the run waits
until the server answers probes promptly again. Writes attack.md and attack.json to --output
(benchmarks/results). The gateway and the embedded database are stopped on exit, also when
the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.attack_http import exchange, health_request, open_stream
from benchmarks.attack_queries import FLOOD_TYPENAMES, DataShape, ladder
from benchmarks.attack_report import AttackRun, Scenario, write_json, write_report
from benchmarks.attack_seed import attack_database
from benchmarks.attack_server import GatewayServer, serving_gateway
from benchmarks.contenders import BENCHMARK_HEADERS
from benchmarks.environment import machine, software
from benchmarks.rss import resident_size, sampling_rss
from benchmarks.servers import HOST
from benchmarks.workloads import WORKLOADS

__all__ = ["SCENARIOS", "Options", "main", "run"]

SCENARIOS = ("worst_query", "flood", "slow")
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results"
VICTIM = next(w for w in WORKLOADS if w.key == "user_by_id")
VICTIM_CONCURRENCY = 2
VICTIM_TIMEOUT = 10.0  # seconds; a slower answer counts as an error, at 10 s
PROBE_INTERVAL = 0.2
PROBE_TIMEOUT = 1.0  # Kubernetes' default probe timeout
ATTACK_TIMEOUT = 120.0  # an attacker waits this long for one answer
DRAIN = 90.0  # seconds an attacker waits for its requests in flight after the victim ends
SETTLE_TIMEOUT = 180.0  # seconds to wait for the server to answer probes promptly again
SETTLED_PROBE = 0.1  # three probes in a row under 100 ms: the server is idle again
READY_TIMEOUT = 60.0
DEFAULT_SHAPE = DataShape(users=100, orders=20, payments=20, items=3)  # as in issue 13
PACKAGES = {"Strawberry": "strawberry-graphql", "graphql-core": "graphql-core"}
HEADERS = [list(header) for header in BENCHMARK_HEADERS]  # with every GraphQL request


@dataclass(frozen=True, kw_only=True)
class Options:
    """What to run; `main()` builds it from the command line."""

    seconds: float = 30.0
    scenarios: tuple[str, ...] = SCENARIOS
    shape: DataShape = DEFAULT_SHAPE
    attackers: int = 2
    # Issue 13: 1,100 idle sockets locked everyone out of a server with the usual limit of
    # 1,024 open files.
    slow_connections: int = 1100
    server_file_limit: int = 1024
    settings: tuple[tuple[str, str], ...] = ()  # GATEWAY_* variables; none: the defaults
    output: Path = DEFAULT_OUTPUT
    database_url: str | None = None
    command: str = "python -m benchmarks.attack"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@asynccontextmanager
async def _client(command: dict[str, Any]) -> AsyncIterator[asyncio.subprocess.Process]:
    """An attack_client process given `command`; killed on exit if still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.attack_client",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 24,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(json.dumps(command).encode() + b"\n")
        await process.stdin.drain()
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _answer(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    if not line:
        raise RuntimeError("An attack client exited without answering; see its stderr above.")
    answer: dict[str, Any] = json.loads(line)
    return answer


async def _victim(server: GatewayServer, options: Options) -> dict[str, Any]:
    command = {
        "role": "victim",
        "host": HOST,
        "port": server.port,
        "bodies": VICTIM.bodies(options.shape.users),
        "headers": HEADERS,
        "concurrency": VICTIM_CONCURRENCY,
        "duration": options.seconds,
        "timeout": VICTIM_TIMEOUT,
        "probe_interval": PROBE_INTERVAL,
        "probe_timeout": PROBE_TIMEOUT,
    }
    async with _client(command) as process:
        return await _answer(process, options.seconds + VICTIM_TIMEOUT + 30)


def _attack_command(name: str, server: GatewayServer, options: Options) -> dict[str, Any]:
    base = {
        "role": name,
        "host": HOST,
        "port": server.port,
        "timeout": ATTACK_TIMEOUT,
        "headers": HEADERS,
    }
    if name == "worst_query":
        candidates = [
            {"label": c.label, "body": c.body, "values": c.values} for c in ladder(options.shape)
        ]
        return {**base, "clients": options.attackers, "ladder": candidates, "drain": DRAIN}
    if name == "flood":
        return {**base, "clients": 1, "typenames": FLOOD_TYPENAMES, "drain": DRAIN}
    ramp = min(2.0, options.seconds / 4)  # open the sockets over a moment, not in one tick
    return {**base, "connections": options.slow_connections, "ramp": ramp}


async def _settle(server: GatewayServer) -> float:
    """Wait until three probes in a row answer within SETTLED_PROBE s; the seconds waited."""
    started = time.monotonic()
    prompt = 0
    while prompt < 3:
        server.check_alive()
        if time.monotonic() - started > SETTLE_TIMEOUT:
            raise RuntimeError(
                f"The server did not answer probes promptly within {SETTLE_TIMEOUT:.0f} s "
                f"after an attack:\n{server.log_tail()}"
            )
        began = time.monotonic()
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                reader, writer = await open_stream(HOST, server.port)
                try:
                    answer = await exchange(reader, writer, health_request(HOST, server.port))
                finally:
                    writer.close()
            fast = answer.status == 200 and time.monotonic() - began < SETTLED_PROBE
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            fast = False
        prompt = prompt + 1 if fast else 0
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _scenario(name: str, server: GatewayServer, options: Options) -> Scenario:
    pid = server.process.pid
    await _settle(server)
    _log(f"[{name}] victim alone for {options.seconds:g} s ...")
    log_start = server.log_bytes()
    alone = await _victim(server, options)
    server.check_alive()
    rss_before, log_before = resident_size(pid), server.log_bytes()
    async with (
        sampling_rss(pid, interval=0.5) as samples,
        _client(_attack_command(name, server, options)) as attacker,
    ):
        await _answer(attacker, READY_TIMEOUT)
        _log(f"[{name}] attack under way; victim beside it for {options.seconds:g} s ...")
        under = await _victim(server, options)
        open_files = server.open_files()
        assert attacker.stdin is not None
        attacker.stdin.write(b"stop\n")
        await attacker.stdin.drain()
        _log(f"[{name}] stopping the attack (its requests in flight may take a while) ...")
        outcome = await _answer(attacker, DRAIN + ATTACK_TIMEOUT + 30)
    server.check_alive()
    settle = await _settle(server)
    _log(f"[{name}] done; the server answered probes promptly again after {settle:.1f} s")
    return Scenario(
        name=name,
        alone=alone,
        under_attack=under,
        attack=outcome,
        open_files=open_files,
        rss_before=rss_before,
        rss_peak=max(sample.rss for sample in samples),
        rss_after=resident_size(pid),
        log_growth_alone=log_before - log_start,
        log_growth=server.log_bytes() - log_before,
        settle_seconds=settle,
    )


async def run(options: Options) -> AttackRun:
    """Seed, serve, run each scenario, write attack.md and attack.json; returns the run."""
    started = datetime.now(UTC)
    options.output.mkdir(parents=True, exist_ok=True)
    # SIGTERM cancels the run like Ctrl-C does, so the exits below still stop the gateway,
    # the clients and the embedded database.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    scenarios: list[Scenario] = []
    async with AsyncExitStack() as stack:
        if options.database_url is None:
            _log("Starting an embedded PostgreSQL ...")
        database = await stack.enter_async_context(
            attack_database(options.database_url, options.shape)
        )
        _log(f"Seeded {await database.row_counts()}")
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="attack-logs-")))
        server = stack.enter_context(
            serving_gateway(
                database.url,
                log_dir,
                file_limit=options.server_file_limit,
                settings=dict(options.settings),
            )
        )
        _log(f"gateway serve listening on port {server.port} (pid {server.process.pid})")
        for name in options.scenarios:
            scenarios.append(await _scenario(name, server, options))
        version = await database.server_version()
    shape = options.shape
    attack_run = AttackRun(
        date=started.strftime("%Y-%m-%d %H:%M UTC"),
        command=options.command,
        machine=machine(),
        software=software(
            version,
            embedded=options.database_url is None,
            workers="1 worker",
            packages=PACKAGES,
        ),
        data=(
            f"{shape.users:,} users x {shape.orders} orders x {shape.payments} payments "
            f"(x {shape.items} line items per order)"
        ),
        seconds=options.seconds,
        server_file_limit=options.server_file_limit,
        settings=[f"{name}={value}" for name, value in options.settings],
        victim=f"{VICTIM.title} (as are the attackers' requests, with an admin bearer token), "
        f"{VICTIM_CONCURRENCY} closed-loop clients on keep-alive "
        f"connections opened as each phase starts (after the attack did), {VICTIM_TIMEOUT:g} s "
        "timeout; /health/live on a new connection every "
        f"{PROBE_INTERVAL * 1000:.0f} ms, {PROBE_TIMEOUT:g} s timeout",
        scenarios=scenarios,
    )
    write_report(options.output / "attack.md", attack_run)
    write_json(options.output / "attack.json", attack_run)
    _log(f"Wrote attack.md and attack.json in {options.output}")
    return attack_run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.attack", description=(__doc__ or "").splitlines()[0]
    )
    defaults = Options()
    parser.add_argument("--quick", action="store_true", help="3 s phases, 100 slow clients")
    parser.add_argument("--seconds", type=float, help=f"per phase (default {defaults.seconds:g})")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--users", type=int, default=defaults.shape.users)
    parser.add_argument("--orders", type=int, default=defaults.shape.orders, help="per user")
    parser.add_argument("--payments", type=int, default=defaults.shape.payments, help="per order")
    parser.add_argument("--attackers", type=int, default=defaults.attackers)
    parser.add_argument("--slow-connections", type=int)
    parser.add_argument("--server-file-limit", type=int, default=defaults.server_file_limit)
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="GATEWAY_NAME=VALUE",
        help="a setting for the server instead of its default (repeatable)",
    )
    parser.add_argument("--output", type=Path, default=defaults.output)
    args = parser.parse_args(argv)
    pairs = [setting.partition("=") for setting in args.setting]
    if any(not name.startswith("GATEWAY_") or not equals for name, equals, _ in pairs):
        parser.error("--setting takes GATEWAY_NAME=VALUE")
    seconds = args.seconds or (3.0 if args.quick else defaults.seconds)
    slow = args.slow_connections or (100 if args.quick else defaults.slow_connections)
    if min(args.users, args.orders, args.payments, args.attackers, slow) < 1 or seconds <= 0:
        parser.error("counts must be positive and --seconds above 0")
    options = replace(
        defaults,
        seconds=seconds,
        scenarios=tuple(args.scenarios),
        shape=DataShape(args.users, args.orders, args.payments, defaults.shape.items),
        attackers=args.attackers,
        slow_connections=slow,
        server_file_limit=args.server_file_limit,
        settings=tuple((name, value) for name, _, value in pairs),
        output=args.output,
        database_url=os.environ.get("DATABASE_URL") or None,
        command=shlex.join(["python", "-m", "benchmarks.attack", *(argv or sys.argv[1:])]),
    )
    try:
        asyncio.run(run(options))
    except (asyncio.CancelledError, KeyboardInterrupt):
        _log("Interrupted; the gateway, the clients and the database were stopped.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
