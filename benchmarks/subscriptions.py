"""Subscriptions under load: 1,000 subscribers on 50 WebSockets, 100 order changes a second.

    .venv/bin/python -m benchmarks.subscriptions [--subscribers 1000] [--connections 50]
        [--rate 100] [--seconds 60] [--orders 100] [--owners 10] [--users 1000]
        [--warmup S] [--gateway-env GATEWAY_NAME=VALUE ...] [--output DIR]

Seeds the benchmark's data (on DATABASE_URL, an empty database, or an embedded PostgreSQL),
picks --orders orders of --owners users (the first users with enough orders, the same share
each), and starts a real `gateway serve` (the benchmark's token key, GATEWAY_WS_PER_CONNECTION
raised to the subscriptions per connection). The clients (graphql-transport-ws on the
`websockets` package, in this process) open --connections connections, each signed in as one
owner (the owners in turn, tokens of plain users, no admin), and start --subscribers
subscriptions spread evenly over them: every tenth `myOrderUpdates`, the others
`orderUpdated(id)` of the connection's owner's orders in turn; each selects `id status total`.

Events: a driver process (benchmarks.subscription_driver) commits --rate changes a second for
--seconds, to the orders in turn, each as the orders service commits a change (the UPDATE and
`SELECT pg_notify('orders', {"order_id", "user_id"})` in one transaction, through the
gateway's manager and its `notify`), setting the total to the change's number so
what each subscriber receives names the change. SQL rather than the gateway's mutations:
they cannot change an existing order again and again (placeOrder makes new ones; a payment
makes one PAID once), which `orderUpdated(id)` needs, and a driver outside the gateway
leaves its CPU to the deliveries being measured.

Before the run, probe rounds (one change per order, repeated until every subscriber got
its round) prove every LISTEN is in place. After it, each subscription's messages are checked
against the changes it is entitled to (its order's, or its user's orders'): all of them, in
commit order, no duplicates, nothing else, no EVENTS_MISSED or other error. The latency of a
delivery runs from `time.time()` after the driver's COMMIT returned to `time.time()` when the
client read the message (one machine, one clock). The gateway's resident size is sampled every
second (benchmarks.rss); its growth from the end of the warm-up (--warmup, by default 10 s or a
fifth of the run) to the last delivery is judged, as benchmarks/memory.py does. Writes
subscriptions.md and subscriptions.json to --output (benchmarks/results); exits with status 1
when a check fails.

The parts: the plan and the delivery checks in benchmarks.subscription_plan, the WebSocket
clients in benchmarks.subscription_clients, the gateway and driver processes in
benchmarks.subscription_processes, the report in benchmarks.subscription_report.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import asyncpg

from benchmarks import run as harness
from benchmarks.contenders import BENCHMARK_AUTH
from benchmarks.database import SeedSize, seeded_database
from benchmarks.environment import machine, software
from benchmarks.rss import Sample, resident_size, sampling_rss
from benchmarks.subscription_clients import Connection
from benchmarks.subscription_driver import Change, commit_change, orders_manager
from benchmarks.subscription_plan import (
    FAILURE_EXAMPLES,
    PROBE_BASE,
    Plan,
    Subscription,
    check_deliveries,
    expected_changes,
    pick_orders,
    plan_subscriptions,
)
from benchmarks.subscription_processes import Driver, serving
from benchmarks.subscription_report import (
    Memory,
    SubscriptionRun,
    latency,
    verdict,
    windows,
    write_json,
    write_report,
)
from gateway.identity.development import mint_token
from gateway.subscriptions.limits import SubscriptionLimits

__all__ = ["Options", "main", "run"]

PROBE_QUIET_S = 1.0  # without a probe delivery, before the next probe round
SETUP_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 15.0  # after the last commit, for the last deliveries
GRACE_S = 1.0  # after the last expected delivery, for anything extra to show
SETTLE_S = 3.0  # after the clients closed, before the last RSS reading
PROGRESS_S = 10.0
LATENCY_WINDOWS = 6  # the run's latency reported in this many windows of commit time too
MIB = 1024 * 1024
PACKAGES = {
    "Strawberry": "strawberry-graphql",
    "asyncpg": "asyncpg",
    "websockets": "websockets",
}


@dataclass(frozen=True, kw_only=True)
class Options:
    """What to run; `main()` builds it from the command line."""

    subscribers: int = 1000
    connections: int = 50
    rate: float = 100.0
    seconds: float = 60.0
    orders: int = 100
    owners: int = 10
    users: int = harness.Options.users
    warmup: float = 10.0
    output: Path = harness.DEFAULT_OUTPUT
    database_url: str | None = None
    gateway_env: tuple[tuple[str, str], ...] = ()  # more GATEWAY_* settings, over ours
    command: str = "python -m benchmarks.subscriptions"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _probe(database_url: str, plan: Plan, deadline: float) -> int:
    """Probe rounds until one reaches every subscriber: every LISTEN is in place and nothing
    of the set-up is still on its way (a subscriber's events arrive in commit order). A next
    round starts once the deliveries of this one have stopped coming for PROBE_QUIET_S."""
    entitled = [(s, plan.entitled(s)) for s in plan.subscriptions]

    def probes_received() -> int:
        return sum(len(orders) for s in plan.subscriptions for orders in s.probes.values())

    async with orders_manager(database_url) as db:
        for round_number in range(1, 1_000):
            for order_id, _ in plan.orders:
                await commit_change(db, order_id, "PENDING", PROBE_BASE + round_number)
            received, quiet_since = probes_received(), time.monotonic()
            while True:
                refused = [s for s in plan.subscriptions if s.refusals]
                if refused:
                    raise RuntimeError(
                        f"{len(refused)} subscription(s) refused, e.g. {refused[0].refusals[0]}"
                    )
                waiting = [s for s, orders in entitled if not orders <= s.probes[round_number]]
                if not waiting:
                    return round_number
                now = time.monotonic()
                if now > deadline:
                    raise RuntimeError(
                        f"{len(waiting)} subscription(s) not reached by any of {round_number} "
                        f"probe round(s) within {SETUP_TIMEOUT_S:g} s"
                    )
                if (count := probes_received()) != received:
                    received, quiet_since = count, now
                elif now - quiet_since > PROBE_QUIET_S:
                    break
                await asyncio.sleep(0.05)
            _log(f"Probe round {round_number}: {len(waiting)} subscription(s) not reached yet")
    raise AssertionError("unreachable")


async def _wait_for_deliveries(
    plan: Plan, expected: dict[int, list[Change]], last_commit: float
) -> float:
    """Until every subscription has as many messages as it is entitled to (or the drain
    timeout), then GRACE_S more; the time from the last commit to the last receipt."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(len(s.received) >= len(expected[s.index]) for s in plan.subscriptions):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(GRACE_S)
    last = max((s.received[-1][3] for s in plan.subscriptions if s.received), default=last_commit)
    return last - last_commit


async def _progress(plan: Plan, samples: list[Sample], started: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_S)
        received = sum(len(s.received) for s in plan.subscriptions)
        missed = sum(s.errors["EVENTS_MISSED"] for s in plan.subscriptions)
        rss = samples[-1].rss / MIB if samples else math.nan
        _log(
            f"{time.monotonic() - started:.0f} s: {received:,} deliveries, {missed} "
            f"EVENTS_MISSED, gateway RSS {rss:.1f} MiB"
        )


def _snapshot(pid: int, t0: float) -> Sample:
    return Sample(time.monotonic() - t0, resident_size(pid))


async def run(options: Options) -> SubscriptionRun:
    """Run the load and write subscriptions.md and subscriptions.json; returns what was seen."""
    started = datetime.now(UTC)
    options.output.mkdir(parents=True, exist_ok=True)
    per_connection = math.ceil(options.subscribers / options.connections)
    limits = SubscriptionLimits()
    gateway_env = {
        "GATEWAY_WS_PER_CONNECTION": str(max(per_connection, limits.per_connection)),
        "GATEWAY_WS_CONNECTIONS": str(max(options.connections, limits.connections)),
        **dict(options.gateway_env),
    }
    count = round(options.rate * options.seconds)
    async with AsyncExitStack() as stack:
        if options.database_url is None:
            _log("Starting an embedded PostgreSQL ...")
        database = await stack.enter_async_context(
            seeded_database(options.database_url, SeedSize(options.users))
        )
        counts = await database.row_counts()
        _log(f"Seeded {counts}")
        conn = await asyncpg.connect(database.url)
        stack.push_async_callback(conn.close)
        orders_by_owner = await pick_orders(conn, options.orders, options.owners)
        plan = plan_subscriptions(orders_by_owner, options.subscribers, options.connections)
        originals = await conn.fetch(
            "SELECT id, status, total FROM orders.orders WHERE id = ANY($1::int[])",
            [order for order, _ in plan.orders],
        )
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-logs-")))
        gateway = stack.enter_context(serving(database.url, gateway_env, log_dir / "gateway.log"))
        pid = gateway.process.pid
        _log(f"gateway serve listening on port {gateway.port} (pid {pid})")
        driver = await Driver.start(
            {
                "database_url": database.url,
                "orders": plan.orders,
                "rate": options.rate,
                "count": count,
            }
        )
        stack.push_async_callback(driver.stop)
        t0 = time.monotonic()
        samples = await stack.enter_async_context(sampling_rss(pid, interval=1.0))
        idle = _snapshot(pid, t0)

        tokens = {
            owner: mint_token(BENCHMARK_AUTH, subject=str(owner), ttl=86_400)
            for owner in plan.owners
        }
        by_connection: defaultdict[int, list[Subscription]] = defaultdict(list)
        for subscription in plan.subscriptions:
            by_connection[subscription.connection].append(subscription)
        connections = [
            Connection(index, tokens[subs[0].user_id], subs)
            for index, subs in sorted(by_connection.items())
        ]
        setup_started = time.monotonic()
        await asyncio.gather(*(c.open(gateway.ws_url) for c in connections))
        _log(
            f"{len(connections)} connections open, {len(plan.subscriptions)} subscriptions sent; "
            "probing ..."
        )
        rounds = await _probe(database.url, plan, setup_started + SETUP_TIMEOUT_S)
        setup_s = time.monotonic() - setup_started
        for subscription in plan.subscriptions:
            subscription.measuring = True
        _log(
            f"Every subscription reached (after {rounds} probe round(s), {setup_s:.1f} s); "
            f"committing {count:,} changes at {options.rate:g}/s ..."
        )

        start = _snapshot(pid, t0)
        load_started = time.monotonic()
        progress = asyncio.create_task(_progress(plan, samples, load_started))
        try:
            result = await driver.go()
            changes = [Change(*row) for row in result["changes"]]
            last_commit = max((c.committed_at for c in changes), default=time.time())
            drain_s = await _wait_for_deliveries(plan, expected_changes(plan, changes), last_commit)
        finally:
            progress.cancel()
        end = _snapshot(pid, t0)
        alive = gateway.process.poll() is None
        await asyncio.gather(*(c.close() for c in connections))
        await asyncio.sleep(SETTLE_S)
        closed = _snapshot(pid, t0) if gateway.process.poll() is None else end
        during = [s for s in samples if start.seconds <= s.seconds <= end.seconds] + [start, end]
        memory = Memory(
            idle=idle,
            start=start,
            after_warmup=next(
                (s for s in samples if s.seconds >= start.seconds + options.warmup), end
            ),
            end=end,
            peak=max(during, key=lambda s: s.rss),
            closed=closed,
            warmup=options.warmup,
        )
        checks, latencies = check_deliveries(plan, changes, connections)
        checks.gateway_alive = alive
        error_lines = gateway.error_lines()
        checks.gateway_errors = len(error_lines)
        await conn.executemany(
            "UPDATE orders.orders SET status = $2, total = $3 WHERE id = $1",
            [(row["id"], row["status"], row["total"]) for row in originals],
        )
        server_version = await database.server_version()
    samples_taken = list(samples)
    elapsed = float(result["elapsed"])
    order_updated = sum(s.order_id is not None for s in plan.subscriptions)
    outcome = SubscriptionRun(
        date=started.strftime("%Y-%m-%d %H:%M UTC"),
        command=options.command,
        machine=machine(),
        software=software(
            server_version,
            embedded=options.database_url is None,
            workers="1 worker, websockets-sansio",
            packages=PACKAGES,
        ),
        data=", ".join(f"{n:,} {table.split('.')[1]}" for table, n in counts.items())
        + f"; {len(plan.orders)} of the orders change, {len(plan.owners)} users' "
        f"({', '.join(map(str, plan.owners))}), {len(plan.orders) // len(plan.owners)} each",
        load=f"{len(plan.subscriptions):,} subscriptions on {len(connections)} "
        f"graphql-transport-ws connections ({per_connection} a connection at most), each "
        f"connection signed in as one of the owners in turn (a plain user's token): "
        f"{order_updated:,} `orderUpdated(id)` of that owner's orders (each order "
        f"~{order_updated / len(plan.orders):.0f} times), "
        f"{len(plan.subscriptions) - order_updated:,} `myOrderUpdates`; every one selects "
        "`id status total`; the clients run in one Python process (websockets "
        f"{version('websockets')}, permessage-deflate as negotiated by default)",
        events=f"{options.rate:g} changes/s for {options.seconds:g} s by a driver process, the "
        "orders in turn (each order changed every "
        f"{len(plan.orders) / options.rate:g} s); a change is one transaction doing what the "
        "orders service does (UPDATE of the order's status, here also its total set to the "
        "change's number, then `SELECT pg_notify('orders', {order_id, user_id})` by the "
        "gateway's `notify`), committed through the gateway's AsyncDatabaseManager; SQL "
        "because the gateway's mutations cannot change one existing "
        "order again and again (placeOrder makes new orders, a payment makes one PAID once)",
        gateway="`gateway serve` (1 process), "
        + ", ".join(f"{name}={value}" for name, value in gateway_env.items())
        + ", every other setting its default"
        + ("" if "GATEWAY_WS_QUEUE" in gateway_env else f" (GATEWAY_WS_QUEUE {limits.queue})"),
        subscriptions=len(plan.subscriptions),
        connections=len(connections),
        order_updated=order_updated,
        my_order_updates=len(plan.subscriptions) - order_updated,
        orders=len(plan.orders),
        owners=len(plan.owners),
        rate=options.rate,
        seconds=options.seconds,
        changes=len(changes),
        achieved_rate=(len(changes) - 1) / (changes[-1].committed_at - changes[0].committed_at)
        if len(changes) > 1
        else math.nan,
        driver_max_behind_ms=float(result["max_behind_s"]) * 1000,
        setup_s=setup_s,
        probe_rounds=rounds,
        drain_s=drain_s,
        checks=checks,
        latency=latency([seconds for _, seconds in latencies]),
        windows=windows(
            latencies,
            changes[0].committed_at if changes else 0.0,
            max(1.0, options.seconds / LATENCY_WINDOWS),
        ),
        commit_round_trip=latency([c.committed_at - c.commit_sent_at for c in changes]),
        read_before_commit_returned=sum(seconds < 0 for _, seconds in latencies),
        memory=memory,
        samples=samples_taken,
        gateway_log=error_lines[:FAILURE_EXAMPLES],
    )
    _log(f"Driver: {len(changes):,} changes in {elapsed:.1f} s")
    write_report(options.output / "subscriptions.md", outcome)
    write_json(options.output / "subscriptions.json", outcome)
    lat = outcome.latency
    _log(
        f"{checks.delivered:,}/{checks.expected:,} entitled deliveries, latency p50 "
        f"{lat.p50_ms:.1f} ms p99 {lat.p99_ms:.1f} ms; RSS start {memory.start.rss / MIB:.1f} "
        f"end {memory.end.rss / MIB:.1f} max {memory.peak.rss / MIB:.1f} MiB\n"
        f"{verdict(outcome)}\nWrote subscriptions.md and subscriptions.json in {options.output}"
    )
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.subscriptions", description=(__doc__ or "").splitlines()[0]
    )
    defaults = Options()
    parser.add_argument("--subscribers", type=int, default=defaults.subscribers)
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="changes a second")
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="of changes")
    parser.add_argument("--orders", type=int, default=defaults.orders, help="that change")
    parser.add_argument("--owners", type=int, default=defaults.owners, help="of those orders")
    parser.add_argument(
        "--users", type=int, default=defaults.users, help=f"seed size (default {defaults.users})"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds of events before growth is measured (default 10, at most a fifth)",
    )
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="GATEWAY_NAME=VALUE",
        help="one more setting for `gateway serve` (repeatable), e.g. GATEWAY_WS_QUEUE=10",
    )
    parser.add_argument("--output", type=Path, default=defaults.output)
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else min(10.0, args.seconds / 5)
    if min(args.subscribers, args.connections, args.orders, args.owners, args.users) < 1:
        parser.error("--subscribers, --connections, --orders, --owners and --users must be >= 1")
    if args.rate <= 0 or args.seconds <= 0 or args.rate * args.seconds >= PROBE_BASE:
        parser.error("--rate and --seconds must be above 0 (and fewer than 1e9 changes)")
    if not args.owners <= args.connections <= args.subscribers or args.owners > args.orders:
        parser.error("need --owners <= --connections <= --subscribers and --owners <= --orders")
    gateway_env = [setting.partition("=") for setting in args.gateway_env]
    if any(not name.startswith("GATEWAY_") or not eq for name, eq, _ in gateway_env):
        parser.error("--gateway-env takes GATEWAY_NAME=VALUE")
    if not 0 <= warmup < args.seconds:
        parser.error("--warmup must be at least 0 and shorter than --seconds")
    options = Options(
        subscribers=args.subscribers,
        connections=args.connections,
        rate=args.rate,
        seconds=args.seconds,
        orders=args.orders,
        owners=args.owners,
        users=args.users,
        warmup=warmup,
        output=args.output,
        gateway_env=tuple((name, value) for name, _, value in gateway_env),
        database_url=os.environ.get("DATABASE_URL") or None,
        command=shlex.join(["python", "-m", "benchmarks.subscriptions", *(argv or sys.argv[1:])]),
    )
    outcome = asyncio.run(run(options))
    return 0 if outcome.checks.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
